//! `census`: what a journal holds undelivered, read without changing a byte.

use super::*;

/// Every file of `dir` with its bytes: what a read-only look must leave as it was.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn the_census_counts_what_is_not_acknowledged_per_table_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        census(&dir.path().join("absent")).unwrap(),
        Census::default()
    );
    let m = Arc::new(Metrics::default());
    let (w, mut r) = open(config(dir.path(), 1 << 20, WhenFull::Block), Arc::clone(&m)).unwrap();
    for i in 0..60 {
        let mut c = chunk(i, 2000);
        c.table = if i % 3 == 0 {
            Table::Security
        } else {
            Table::Syslog
        };
        c.records = 2;
        w.append(&c).unwrap();
    }
    // The first 21 chunks delivered and acknowledged, the rest not.
    for _ in 0..21 {
        let Next::Chunk(_, pos) = r.next(Duration::from_millis(200)) else {
            panic!("a chunk is there");
        };
        r.ack(pos);
    }
    // As a stopped agent leaves it (the position saved on the way out).
    drop(r);
    drop(w);
    let before = snapshot(dir.path());
    let found = census(dir.path()).unwrap();
    // Of chunks 21..60, those with i % 3 == 0 are table 1: 13 of 39.
    assert_eq!(found.records.get(&Table::Security), Some(&26));
    assert_eq!(found.records.get(&Table::Syslog), Some(&52));
    assert_eq!(found.total(), 78);
    assert_eq!(found.damaged_bytes, 0);
    assert!(found.segments >= 1 && found.bytes >= 39 * 2000, "{found:?}");
    assert_eq!(snapshot(dir.path()), before, "nothing written or cut");
    // Damage in an unacknowledged entry is reported, not counted as records.
    let last = segment_files(dir.path())
        .into_iter()
        .rev()
        .find(|p| std::fs::metadata(p).unwrap().len() > 0)
        .unwrap();
    let mut f = OpenOptions::new().write(true).open(&last).unwrap();
    f.seek(SeekFrom::Start(HEADER as u64 + 3)).unwrap();
    f.write_all(b"XX").unwrap();
    drop(f);
    let damaged = census(dir.path()).unwrap();
    assert_eq!(damaged.total(), 76, "{damaged:?}");
    assert!(damaged.damaged_bytes > 0, "{damaged:?}");
}
