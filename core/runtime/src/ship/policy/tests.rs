use super::*;
use proptest::prelude::*;

fn at(offset: u64) -> Position {
    Position { segment: 1, offset }
}

/// Chunk `k`'s bytes: its number, repeated to about `size`.
fn data(k: usize, size: usize) -> Vec<u8> {
    format!("{k:07};").repeat((size / 8).max(1)).into_bytes()
}

#[derive(Debug, Clone)]
enum Op {
    Chunk {
        table: Table,
        size: usize,
    },
    Advance(u64),
    /// Offers what is open (as at the end of a linger or at shutdown).
    Flush,
    /// Settles one outstanding batch, chosen by `which`.
    Settle {
        which: usize,
        throttled: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u32..2, 1usize..3000).prop_map(|(code, size)| Op::Chunk {
            table: Table::from_code_or_syslog(code),
            size
        }),
        2 => (0u64..1500).prop_map(Op::Advance),
        1 => Just(Op::Flush),
        4 => (any::<usize>(), any::<bool>()).prop_map(|(which, throttled)| Op::Settle { which, throttled }),
    ]
}

/// A batch offered: its id, table, and the chunks it holds (by number, read
/// back from its bytes).
struct Outstanding {
    id: u64,
    chunks: Vec<usize>,
}

fn chunks_of(r: &Ready) -> Vec<usize> {
    r.data
        .split(|b| *b == b';')
        .filter_map(|w| std::str::from_utf8(w).ok()?.get(..7)?.parse().ok())
        .fold(Vec::new(), |mut v, k| {
            if v.last() != Some(&k) {
                v.push(k);
            }
            v
        })
}

proptest! {
    /// Whatever the order in which the output answers, the acknowledged
    /// position never passes a chunk that is not settled, every chunk is in
    /// exactly one batch, each table's batches keep journal order, and once
    /// all is settled the floor is what was read.
    #[test]
    fn the_acknowledgement_never_passes_a_record_not_settled(
        ops in proptest::collection::vec(op(), 1..200),
        target in 100usize..8000,
    ) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut p = Policy::new(target, Duration::from_millis(500), at(0));
        let mut chunks: Vec<(Table, usize)> = Vec::new();
        let mut outstanding: Vec<Outstanding> = Vec::new();
        let mut settled: Vec<bool> = Vec::new();
        let mut batched: Vec<Vec<usize>> = vec![Vec::new(); 3];
        let mut floor = at(0);
        let offer = |ready: Vec<Ready>, outstanding: &mut Vec<Outstanding>, batched: &mut Vec<Vec<usize>>| {
            for r in ready {
                let ks = chunks_of(&r);
                batched[r.table.code() as usize].extend(&ks);
                outstanding.push(Outstanding { id: r.id, chunks: ks });
            }
        };
        for op in &ops {
            match *op {
                Op::Chunk { table, size } => {
                    let k = chunks.len();
                    chunks.push((table, size));
                    settled.push(false);
                    let ready = p.add(table, 1, &data(k, size), at(k as u64 + 1), now);
                    offer(ready, &mut outstanding, &mut batched);
                }
                Op::Advance(ms) => now += Duration::from_millis(ms),
                Op::Flush => offer(p.take_open(), &mut outstanding, &mut batched),
                Op::Settle { which, throttled } => {
                    if outstanding.is_empty() {
                        continue;
                    }
                    let b = outstanding.remove(which % outstanding.len());
                    for &k in &b.chunks {
                        settled[k] = true;
                    }
                    let f = p.settled(b.id, throttled, None);
                    prop_assert!(f >= floor, "the floor went back: {f:?} < {floor:?}");
                    floor = f;
                    // Chunk k begins at offset k: every chunk before the floor is settled.
                    let first_unsettled = settled.iter().position(|s| !s).unwrap_or(settled.len());
                    prop_assert!(
                        f.offset as usize <= first_unsettled,
                        "acknowledged to {} but chunk {first_unsettled} is not settled",
                        f.offset
                    );
                }
            }
        }
        offer(p.take_open(), &mut outstanding, &mut batched);
        for b in outstanding.drain(..) {
            floor = p.settled(b.id, false, None);
        }
        prop_assert_eq!(floor, at(chunks.len() as u64), "all settled: acknowledged to the end");
        for (table, got) in batched.iter().enumerate() {
            let want: Vec<usize> = (0..chunks.len()).filter(|&k| chunks[k].0.code() == table as u32).collect();
            prop_assert_eq!(got, &want, "table {}: every chunk once, in order", table);
        }
    }
}

/// What a batch offered is, to compare two policies.
fn summary(r: &Ready) -> (u64, Table, u32, Vec<u8>, bool) {
    (r.id, r.table, r.records, r.data.clone(), r.full)
}

proptest! {
    /// Reading chunks onto the end of a batch (`landing`/`landed`, as the
    /// shipper does) offers exactly the batches that `add` offers, at the same
    /// moments, with the same floors, including reads that found nothing and
    /// buffers that come back from settled batches.
    #[test]
    fn reading_into_the_batch_gathers_what_add_gathers(
        ops in proptest::collection::vec(op(), 1..200),
        nothing in proptest::collection::vec(any::<bool>(), 200),
        target in 100usize..8000,
    ) {
        let mut now = Instant::now();
        let mut by_add = Policy::new(target, Duration::from_millis(500), at(0));
        let mut by_landing = Policy::new(target, Duration::from_millis(500), at(0));
        let mut outstanding: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut k = 0usize;
        for (i, op) in ops.iter().enumerate() {
            match *op {
                Op::Chunk { table, size } => {
                    if nothing[i % nothing.len()] {
                        // A wait that found no chunk changes nothing.
                        let landing = by_landing.landing();
                        prop_assert!(by_landing.landed(landing, None, now).is_empty());
                    }
                    let bytes = data(k, size);
                    let want = by_add.add(table, 1, &bytes, at(k as u64 + 1), now);
                    let mut landing = by_landing.landing();
                    landing.buf.extend_from_slice(&bytes);
                    let got = by_landing.landed(landing, Some((table, 1, at(k as u64 + 1))), now);
                    prop_assert_eq!(
                        got.iter().map(summary).collect::<Vec<_>>(),
                        want.iter().map(summary).collect::<Vec<_>>()
                    );
                    outstanding.extend(got.into_iter().map(|r| (r.id, r.data)));
                    k += 1;
                }
                Op::Advance(ms) => now += Duration::from_millis(ms),
                Op::Flush => {
                    let want = by_add.take_open();
                    let got = by_landing.take_open();
                    prop_assert_eq!(
                        got.iter().map(summary).collect::<Vec<_>>(),
                        want.iter().map(summary).collect::<Vec<_>>()
                    );
                    outstanding.extend(got.into_iter().map(|r| (r.id, r.data)));
                }
                Op::Settle { which, throttled } => {
                    if outstanding.is_empty() {
                        continue;
                    }
                    let (id, buffer) = outstanding.remove(which % outstanding.len());
                    let want = by_add.settled(id, throttled, None);
                    let got = by_landing.settled(id, throttled, Some(buffer));
                    prop_assert_eq!(got, want);
                }
            }
            prop_assert_eq!(by_landing.floor(), by_add.floor());
            prop_assert_eq!(by_landing.has_open(), by_add.has_open());
        }
    }
}

#[test]
fn a_partial_batch_waits_for_the_linger_and_a_throttled_output_stretches_it() {
    let t0 = Instant::now();
    let linger = Duration::from_millis(500);
    let mut p = Policy::new(1 << 20, linger, at(0));
    assert_eq!(
        p.plan(t0, false),
        Plan {
            wait: IDLE_WAIT,
            due: true
        },
        "nothing open, nothing offered yet"
    );
    assert!(p.add(Table::Syslog, 1, b"a", at(1), t0).is_empty());
    assert_eq!(
        p.plan(t0, false).wait,
        Duration::ZERO,
        "the first goes at once"
    );
    let first = p.take_open();
    p.offered(false, t0);
    p.settled(first[0].id, false, None);
    assert!(p.add(Table::Syslog, 1, b"b", at(2), t0).is_empty());
    let plan = p.plan(t0 + Duration::from_millis(100), false);
    assert_eq!((plan.wait, plan.due), (Duration::from_millis(200), false));
    let plan = p.plan(t0 + Duration::from_millis(400), false);
    assert_eq!((plan.wait, plan.due), (Duration::from_millis(100), false));
    assert!(p.plan(t0 + linger, false).due);
    assert!(p.plan(t0, true).due, "stopping: everything goes");
    // Throttled: the interval doubles.
    let second = p.take_open();
    p.offered(false, t0);
    p.settled(second[0].id, true, None);
    assert!(p.add(Table::Syslog, 1, b"c", at(3), t0).is_empty());
    assert!(!p.plan(t0 + linger, false).due);
    assert!(p.plan(t0 + 2 * linger, false).due);
}

#[test]
fn after_a_full_batch_the_rest_of_the_burst_goes_after_a_short_quiet() {
    let t0 = Instant::now();
    let mut p = Policy::new(10, Duration::from_secs(5), at(0));
    // A partial batch first: the linger runs from it.
    assert!(p.add(Table::Syslog, 1, b"w", at(1), t0).is_empty());
    let partial = p.take_open();
    p.offered(false, t0);
    p.settled(partial[0].id, false, None);
    assert!(p.add(Table::Syslog, 1, &[b'x'; 8], at(2), t0).is_empty());
    let full = p.add(Table::Syslog, 1, &[b'y'; 8], at(3), t0);
    assert_eq!(full.len(), 1);
    assert!(full[0].full);
    p.offered(true, t0);
    let floor = p.settled(full[0].id, false, None);
    assert_eq!(floor, at(2), "up to the open batch");
    assert_eq!(
        p.plan(t0 + Duration::from_millis(1), false),
        Plan {
            wait: BURST_END_QUIET,
            due: true
        }
    );
}

#[test]
fn a_batch_open_for_its_whole_interval_goes_while_others_keep_coming() {
    let t0 = Instant::now();
    let mut p = Policy::new(1 << 20, Duration::from_millis(100), at(0));
    assert!(p.add(Table::Security, 1, b"rare", at(1), t0).is_empty());
    assert!(p.add(Table::Syslog, 1, b"busy", at(2), t0).is_empty());
    let aged = p.add(
        Table::Syslog,
        1,
        b"busy",
        at(3),
        t0 + Duration::from_secs(1),
    );
    assert_eq!(aged.len(), 2, "both are a second old");
    assert_eq!((aged[0].table, aged[0].full), (Table::Security, false));
}
