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
        table: 0,
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
    let mut torn = segment::header(0, 1, &[b'x'; 400]).to_vec();
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
