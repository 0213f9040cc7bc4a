use super::*;
use std::io::{Seek, SeekFrom, Write};

fn config(dir: &Path, max_bytes: u64, when_full: WhenFull) -> JournalConfig {
    JournalConfig {
        dir: dir.to_path_buf(),
        max_bytes,
        when_full,
        fsync: Fsync::Batch,
        health: Arc::new(Health::default()),
    }
}

fn chunk(i: usize, size: usize) -> Chunk {
    let mut data = format!("{{\"n\":{i}}}\n").into_bytes();
    data.resize(size.max(data.len()), b' ');
    Chunk {
        table: Table::Syslog,
        records: 1,
        data,
    }
}

fn number(c: &Chunk) -> usize {
    let text = std::str::from_utf8(&c.data).unwrap();
    text[5..text.find('}').unwrap()].parse().unwrap()
}

/// Reads what is available now; acknowledges as it goes when `ack`.
fn drain(r: &mut JournalReader, ack: bool) -> Vec<usize> {
    let mut got = Vec::new();
    while let Next::Chunk(c, pos) = r.next(Duration::from_millis(20)) {
        got.push(number(&c));
        if ack {
            r.ack(pos);
        }
    }
    got
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    v.sort();
    v
}

#[test]
fn appended_chunks_come_back_in_order_and_acked_segments_go() {
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(Metrics::default());
    let (w, mut r) = open(config(dir.path(), 1 << 20, WhenFull::Block), Arc::clone(&m)).unwrap();
    for i in 0..100 {
        w.append(&chunk(i, 2000)).unwrap();
    }
    assert!(
        segment_files(dir.path()).len() > 2,
        "64 KiB segments rotate"
    );
    assert_eq!(drain(&mut r, true), (0..100).collect::<Vec<_>>());
    assert_eq!(
        segment_files(dir.path()).len(),
        1,
        "only the segment being written remains"
    );
    drop(w);
    assert!(matches!(r.next(Duration::from_millis(10)), Next::Closed));
}

#[test]
fn a_restart_resumes_after_the_acknowledged_position() {
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(Metrics::default());
    {
        let (w, mut r) =
            open(config(dir.path(), 1 << 20, WhenFull::Block), Arc::clone(&m)).unwrap();
        for i in 0..50 {
            w.append(&chunk(i, 3000)).unwrap();
        }
        for _ in 0..20 {
            let Next::Chunk(_, pos) = r.next(Duration::from_millis(20)) else {
                panic!()
            };
            r.ack(pos);
        }
        // Read but not acknowledged: must come again after the restart.
        for _ in 0..5 {
            assert!(matches!(r.next(Duration::from_millis(20)), Next::Chunk(..)));
        }
    }
    let (w, mut r) = open(config(dir.path(), 1 << 20, WhenFull::Block), m).unwrap();
    w.append(&chunk(50, 100)).unwrap();
    assert_eq!(drain(&mut r, false), (20..51).collect::<Vec<_>>());
}

#[test]
fn a_torn_tail_is_cut_and_reported_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(Metrics::default());
    {
        let (w, _r) = open(config(dir.path(), 1 << 20, WhenFull::Block), Arc::clone(&m)).unwrap();
        for i in 0..10 {
            w.append(&chunk(i, 500)).unwrap();
        }
    }
    let seg = segment_files(dir.path())[0].clone();
    let good_len = std::fs::metadata(&seg).unwrap().len();
    // A crash in the middle of an append: a header and half a payload.
    let mut torn = segment::header(1, 0, 1, &[b'x'; 400]).to_vec();
    torn.extend_from_slice(&[b'x'; 150]);
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&torn).unwrap();
    drop(f);
    let (w, mut r) = open(config(dir.path(), 1 << 20, WhenFull::Block), m).unwrap();
    assert_eq!(
        std::fs::metadata(&seg).unwrap().len(),
        good_len,
        "torn tail cut off"
    );
    drop(w);
    assert_eq!(drain(&mut r, false), (0..10).collect::<Vec<_>>());
}

#[test]
fn corruption_in_the_middle_skips_only_the_bad_entry() {
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(Metrics::default());
    {
        let (w, _r) = open(config(dir.path(), 1 << 20, WhenFull::Block), Arc::clone(&m)).unwrap();
        for i in 0..10 {
            w.append(&chunk(i, 500)).unwrap();
        }
    }
    let seg = segment_files(dir.path())[0].clone();
    let entry = (segment::HEADER + 500) as u64;
    let mut f = OpenOptions::new().write(true).open(&seg).unwrap();
    f.seek(SeekFrom::Start(4 * entry + segment::HEADER as u64 + 100))
        .unwrap();
    f.write_all(b"CORRUPTED").unwrap();
    drop(f);
    let (w, mut r) = open(config(dir.path(), 1 << 20, WhenFull::Block), Arc::clone(&m)).unwrap();
    drop(w);
    let got = drain(&mut r, false);
    assert_eq!(
        got,
        vec![0, 1, 2, 3, 5, 6, 7, 8, 9],
        "every intact entry is kept"
    );
    assert_eq!(
        m.journal_corrupt_bytes
            .load(std::sync::atomic::Ordering::Relaxed),
        entry,
        "the corrupt entry is counted once: at the start-up scan, not again when the reader skips it"
    );
}

#[test]
fn corruption_that_appears_after_start_up_is_counted_by_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(Metrics::default());
    let (w, mut r) = open(config(dir.path(), 1 << 20, WhenFull::Block), Arc::clone(&m)).unwrap();
    for i in 0..3 {
        w.append(&chunk(i, 500)).unwrap();
    }
    let written = w.shared.lock().written;
    w.wait_durable(written).unwrap();
    let seg = segment_files(dir.path())[0].clone();
    let entry = (segment::HEADER + 500) as u64;
    let mut f = OpenOptions::new().write(true).open(&seg).unwrap();
    f.seek(SeekFrom::Start(entry + segment::HEADER as u64 + 10))
        .unwrap();
    f.write_all(b"CORRUPTED").unwrap();
    drop(f);
    drop(w);
    assert_eq!(drain(&mut r, false), vec![0, 2]);
    assert_eq!(
        m.journal_corrupt_bytes
            .load(std::sync::atomic::Ordering::Relaxed),
        entry
    );
}

#[test]
fn an_ack_past_the_journal_is_ignored_and_nothing_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(Metrics::default());
    {
        let (w, _r) = open(config(dir.path(), 1 << 20, WhenFull::Block), Arc::clone(&m)).unwrap();
        for i in 0..10 {
            w.append(&chunk(i, 500)).unwrap();
        }
    }
    for bad in ["99 0\n", "1 999999\n"] {
        std::fs::write(dir.path().join("ack"), bad).unwrap();
        let (w, mut r) =
            open(config(dir.path(), 1 << 20, WhenFull::Block), Arc::clone(&m)).unwrap();
        drop(w);
        assert_eq!(
            drain(&mut r, false),
            (0..10).collect::<Vec<_>>(),
            "ack {bad:?}: every record kept is sent"
        );
    }
}

#[test]
fn journal_files_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let jdir = dir.path().join("journal");
    let m = Arc::new(Metrics::default());
    let (w, mut r) = open(config(&jdir, 1 << 20, WhenFull::Block), m).unwrap();
    w.append(&chunk(1, 100)).unwrap();
    drop(w);
    while let Next::Chunk(_, pos) = r.next(Duration::from_millis(50)) {
        r.ack(pos);
    }
    drop(r);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&jdir), 0o700);
    for f in std::fs::read_dir(&jdir).unwrap() {
        let f = f.unwrap().path();
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    assert!(jdir.join("ack").exists());
}

#[test]
fn a_full_journal_shows_in_its_gauges_and_status_until_it_has_room() {
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(Metrics::default());
    let cfg = config(dir.path(), 1 << 20, WhenFull::Block);
    let health = Arc::clone(&cfg.health);
    let (w, mut r) = open(cfg, Arc::clone(&m)).unwrap();
    assert_eq!(Metrics::get(&m.journal_max_bytes), 1 << 20);
    let writer = std::thread::spawn(move || {
        for i in 0..400 {
            w.append(&chunk(i, 4000)).unwrap();
        }
    });
    assert!(
        (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            health
                .conditions_now()
                .iter()
                .any(|c| c.starts_with("journal full"))
        }),
        "the full state is shown"
    );
    let bytes = Metrics::get(&m.journal_bytes);
    assert!(bytes > (1 << 20) - 8192 && bytes <= 1 << 20, "{bytes}");
    loop {
        match r.next(Duration::from_millis(500)) {
            Next::Chunk(_, pos) => r.ack(pos),
            Next::Closed => break,
            Next::Idle => {}
        }
    }
    writer.join().unwrap();
    assert!(
        health.conditions_now().is_empty(),
        "{:?}",
        health.conditions_now()
    );
    assert_eq!(Metrics::get(&m.journal_bytes), 0);
}

#[test]
fn drop_oldest_counts_exactly_what_it_drops() {
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(Metrics::default());
    let (w, mut r) = open(
        config(dir.path(), 1 << 20, WhenFull::DropOldest),
        Arc::clone(&m),
    )
    .unwrap();
    let total = 600;
    for i in 0..total {
        w.append(&chunk(i, 4000)).unwrap();
    }
    drop(w);
    let got = drain(&mut r, true);
    let dropped = m
        .records_dropped_journal_full
        .load(std::sync::atomic::Ordering::Relaxed) as usize;
    assert!(dropped > 0, "the journal overflowed");
    assert_eq!(got.len() + dropped, total, "dropped + delivered = appended");
    assert_eq!(
        got,
        (dropped..total).collect::<Vec<_>>(),
        "the oldest went first"
    );
}

#[test]
fn block_waits_for_the_reader_to_free_room() {
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(Metrics::default());
    let (w, mut r) = open(config(dir.path(), 1 << 20, WhenFull::Block), Arc::clone(&m)).unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..600 {
            w.append(&chunk(i, 4000)).unwrap();
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !writer.is_finished(),
        "2.4 MB do not fit in 1 MiB: the writer waits"
    );
    let mut got = Vec::new();
    loop {
        match r.next(Duration::from_millis(500)) {
            Next::Chunk(c, pos) => {
                got.push(number(&c));
                r.ack(pos);
            }
            Next::Closed => break,
            Next::Idle => {}
        }
    }
    writer.join().unwrap();
    assert_eq!(got, (0..600).collect::<Vec<_>>(), "nothing lost, in order");
    assert_eq!(
        m.records_dropped_journal_full
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[test]
fn with_fsync_batch_readers_see_what_the_committer_synced_and_wait_durable_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(Metrics::default());
    let (w, mut r) = open(config(dir.path(), 1 << 20, WhenFull::Block), m).unwrap();
    let mut last = Position::default();
    for i in 0..50 {
        let end = w.append(&chunk(i, 300)).unwrap();
        assert!(end > last, "positions grow");
        last = end;
    }
    w.wait_durable(last).unwrap();
    {
        let st = w.shared.lock();
        assert!(st.committed >= last && st.written == last);
    }
    // Durable means visible: no waiting needed to read all fifty.
    let mut got = Vec::new();
    while let Next::Chunk(c, _) = r.next(Duration::ZERO) {
        got.push(number(&c));
    }
    assert_eq!(got, (0..50).collect::<Vec<_>>());
    // Appends without a wait, then the last writer goes: the reader still gets
    // every entry before Closed.
    for i in 50..60 {
        w.append(&chunk(i, 300)).unwrap();
    }
    drop(w);
    let mut rest = Vec::new();
    loop {
        match r.next(Duration::from_secs(5)) {
            Next::Chunk(c, _) => rest.push(number(&c)),
            Next::Closed => break,
            Next::Idle => panic!("idle with entries unread: {rest:?}"),
        }
    }
    assert_eq!(rest, (50..60).collect::<Vec<_>>());
}

fn spare_exists(dir: &Path) -> bool {
    spare_path(dir).exists()
}

#[test]
fn an_acknowledged_segment_becomes_the_next_one_and_every_record_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(Metrics::default());
    // 1 MiB: 64 KiB segments.
    let (w, mut r) = open(config(dir.path(), 1 << 20, WhenFull::Block), Arc::clone(&m)).unwrap();
    let mut got = Vec::new();
    let mut spare_seen = false;
    let mut most_files = 0;
    for i in 0..2000 {
        // Sizes vary so that entries of a recycled file never line up with the old ones.
        w.append(&chunk(i, 300 + (i * 37) % 1700)).unwrap();
        if i % 7 == 0 {
            let written = w.shared.lock().written;
            w.wait_durable(written).unwrap();
            got.extend(drain(&mut r, true));
            spare_seen |= spare_exists(dir.path());
            most_files = most_files.max(segment_files(dir.path()).len());
        }
    }
    let written = w.shared.lock().written;
    w.wait_durable(written).unwrap();
    got.extend(drain(&mut r, true));
    assert_eq!(
        got,
        (0..2000).collect::<Vec<_>>(),
        "in order, none lost, none twice"
    );
    assert!(spare_seen, "an acknowledged segment was kept as the spare");
    assert!(
        most_files <= 3,
        "segments are deleted or recycled as they are acknowledged: {most_files}"
    );
    assert_eq!(
        m.journal_corrupt_bytes
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[test]
fn after_a_crash_a_recycled_segment_gives_only_its_own_entries() {
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(Metrics::default());
    let recycled;
    {
        let (w, mut r) =
            open(config(dir.path(), 1 << 20, WhenFull::Block), Arc::clone(&m)).unwrap();
        // Fill the first segment and the start of a second, deliver all of it: the
        // first becomes the spare.
        for i in 0..40 {
            w.append(&chunk(i, 2000)).unwrap();
        }
        let written = w.shared.lock().written;
        w.wait_durable(written).unwrap();
        assert_eq!(drain(&mut r, true), (0..40).collect::<Vec<_>>());
        assert!(spare_exists(dir.path()));
        // Fill the second: the third segment is written into the spare.
        while segment_files(dir.path()).len() < 2 || spare_exists(dir.path()) {
            w.append(&chunk(99, 2000)).unwrap();
        }
        for i in 1000..1003 {
            w.append(&chunk(i, 100)).unwrap();
        }
        let written = w.shared.lock().written;
        w.wait_durable(written).unwrap();
        recycled = segment_files(dir.path()).pop().unwrap();
        let len = std::fs::metadata(&recycled).unwrap().len();
        assert!(
            len > 60_000,
            "the recycled file still holds the old entries after the new: {len}"
        );
        // A crash: nothing more is acknowledged, the files stay as they are.
        std::mem::forget(r);
        std::mem::forget(w);
    }
    let id: u64 = recycled
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .unwrap();
    let mut f = File::open(&recycled).unwrap();
    let scan = segment::scan(&mut f, id, 0).unwrap();
    assert_eq!(
        (scan.entries, scan.valid_end),
        (3, (3 * (segment::HEADER + 100)) as u64)
    );
    assert!(scan.recycled && scan.corrupt.is_empty(), "{scan:?}");
    // The same entries read as another segment's fail the checksum.
    let scan = segment::scan(&mut f, id + 1, 0).unwrap();
    assert_eq!(scan.entries, 0, "{scan:?}");
    let m2 = Arc::new(Metrics::default());
    let (w, mut r) = open(
        config(dir.path(), 1 << 20, WhenFull::Block),
        Arc::clone(&m2),
    )
    .unwrap();
    drop(w);
    let got = drain(&mut r, false);
    // The acknowledgement on disk may be up to half a second old, so delivered
    // records of the second segment may come again; the first segment's, which
    // the recycled file held, must not come back from it.
    assert!(
        got.ends_with(&[1000, 1001, 1002]),
        "nothing after the recycled segment's own entries: {got:?}"
    );
    let mut once = got.clone();
    once.retain(|&n| n != 99);
    once.dedup();
    assert_eq!(
        once.len(),
        got.iter().filter(|&&n| n != 99).count(),
        "{got:?}"
    );
    assert_eq!(
        std::fs::metadata(&recycled).unwrap().len(),
        (3 * (segment::HEADER + 100)) as u64,
        "the old entries are cut off"
    );
    assert_eq!(
        m2.journal_corrupt_bytes
            .load(std::sync::atomic::Ordering::Relaxed),
        0,
        "old entries are not damage"
    );
}

/// An entry as 0.1.0 wrote it: its checksum without the segment's number.
fn entry_v1(table: u32, records: u32, payload: &[u8]) -> Vec<u8> {
    let mut fields = Vec::new();
    fields.extend_from_slice(&table.to_le_bytes());
    fields.extend_from_slice(&records.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&fields), payload);
    let mut e = b"SLJ1".to_vec();
    e.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    e.extend_from_slice(&crc.to_le_bytes());
    e.extend_from_slice(&fields);
    e.extend_from_slice(payload);
    e
}

#[test]
fn a_journal_left_by_the_previous_format_is_read_and_then_deleted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path()).unwrap();
    let mut old = Vec::new();
    for i in 0..5 {
        old.extend(entry_v1(0, 1, &chunk(i, 200).data));
    }
    let path = segment_path(dir.path(), 3);
    std::fs::write(&path, &old).unwrap();
    let m = Arc::new(Metrics::default());
    let (w, mut r) = open(config(dir.path(), 1 << 20, WhenFull::Block), Arc::clone(&m)).unwrap();
    w.append(&chunk(5, 200)).unwrap();
    let written = w.shared.lock().written;
    w.wait_durable(written).unwrap();
    assert_eq!(drain(&mut r, true), (0..6).collect::<Vec<_>>());
    assert!(!path.exists(), "acknowledged");
    assert!(
        !spare_exists(dir.path()),
        "a file of the old format is never recycled"
    );
    assert_eq!(
        m.journal_corrupt_bytes
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[test]
fn a_segment_that_cannot_be_read_is_counted_as_lost_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let m = Arc::new(Metrics::default());
    let (w, mut r) = open(config(dir.path(), 1 << 20, WhenFull::Block), Arc::clone(&m)).unwrap();
    for i in 0..100 {
        w.append(&chunk(i, 2000)).unwrap();
    }
    let written = w.shared.lock().written;
    w.wait_durable(written).unwrap();
    let files = segment_files(dir.path());
    assert!(files.len() > 3);
    // The reader has the first segment open; the second disappears under it
    // (its state directory removed and made again, say).
    let Next::Chunk(first, _) = r.next(Duration::from_millis(20)) else {
        panic!("the first entry")
    };
    let gone: Vec<usize> = {
        let mut f = File::open(&files[1]).unwrap();
        let len = f.metadata().unwrap().len();
        let id = files[1]
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let mut at = 0;
        let mut n = Vec::new();
        while let Ok(segment::Found::Entry { entry, end }) = segment::read_at(&mut f, id, at, len) {
            n.push(number(&Chunk {
                table: Table::Syslog,
                records: 1,
                data: entry.payload,
            }));
            at = end;
        }
        n
    };
    std::fs::remove_file(&files[1]).unwrap();
    let mut got = vec![number(&first)];
    got.extend(drain(&mut r, true));
    let expected: Vec<usize> = (0..100).filter(|i| !gone.contains(i)).collect();
    assert_eq!(got, expected, "the segments after it are read");
    assert_eq!(
        Metrics::get(&m.records_lost_journal_unreadable),
        gone.len() as u64,
        "its records are counted, not skipped silently"
    );
}

mod census;
