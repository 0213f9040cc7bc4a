//! A model of the journal: random sequences of append, sync, read, acknowledge,
//! clean reopen, crash and corruption (segments rotate and are recycled on the
//! way), checked against what the journal promises:
//!
//! - every entry synced (or read, which needs it synced) and not acknowledged
//!   comes back after a reopen or a crash, exactly once per run and in order;
//! - after a crash, reading resumes somewhere between the last acknowledgement
//!   known to be saved and the last one made (at-least-once), and entries not
//!   synced may come back or not, but nothing else does: no entry from a
//!   recycled file's earlier life, no entry twice in one run;
//! - a damaged entry is skipped and counted (`journal_corrupt_bytes`), and the
//!   entries around it are kept.
//!
//! A crash is a copy of the journal's files as the page cache holds them, taken
//! with the journal locked, whose newest segment is then cut at any byte past
//! what was synced (or has the bytes from there zeroed: a torn write); the copy
//! is opened as the journal of the next run. `PROPTEST_CASES` sets the number of
//! cases (64 by default), e.g. for a long run:
//! `PROPTEST_CASES=100000 cargo test --release -p syslane journal_model`.

use super::*;
use proptest::prelude::*;
use std::os::unix::fs::FileExt;

const MAX_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone)]
enum Op {
    Append {
        size: usize,
        table: Table,
    },
    Sync,
    Read(usize),
    Ack,
    Reopen,
    /// `cut`: where in the unsynced part of the newest segment the file ends
    /// (a fraction of it); `torn`: zeroed from there instead of cut.
    Crash {
        cut: u16,
        torn: bool,
    },
    /// Damages one byte (`byte`, a fraction of its header or of the whole
    /// entry) of one unacknowledged entry (`which`) while the journal is closed.
    Corrupt {
        which: u16,
        byte: u16,
        header: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (1usize..9000, 0u32..2).prop_map(|(size, code)| Op::Append {
            size,
            table: Table::from_code_or_syslog(code),
        }),
        2 => Just(Op::Sync),
        4 => (1usize..8).prop_map(Op::Read),
        3 => Just(Op::Ack),
        1 => Just(Op::Reopen),
        2 => (any::<u16>(), any::<bool>()).prop_map(|(cut, torn)| Op::Crash { cut, torn }),
        1 => (any::<u16>(), any::<u16>(), any::<bool>())
            .prop_map(|(which, byte, header)| Op::Corrupt { which, byte, header }),
    ]
}

fn payload(id: u64, size: usize) -> Vec<u8> {
    let mut data = format!("{{\"n\":{id}}}\n").into_bytes();
    data.resize(size.max(data.len()), b' ');
    data
}

fn id_of(data: &[u8]) -> u64 {
    let text = std::str::from_utf8(data).expect("payloads are text");
    let end = text.find('}').expect("payloads are JSON");
    text[5..end].parse().expect("payloads carry their number")
}

fn fraction(of: u64, f: u16) -> u64 {
    of * u64::from(f) / u64::from(u16::MAX)
}

/// The journal under test and the model of what it holds.
struct Harness {
    root: tempfile::TempDir,
    dir: PathBuf,
    runs: u32,
    metrics: Arc<Metrics>,
    journal: Option<(JournalWriter, JournalReader)>,
    next_id: u64,
    /// Every entry that may still come back, in append order: (id, table).
    log: Vec<(u64, Table)>,
    /// The position after each entry, once read in this run.
    positions: Vec<Option<Position>>,
    /// Entries lost to damage the model made: they must not come back.
    lost: HashSet<u64>,
    /// Entries before `floor` were acknowledged and that was saved.
    floor: usize,
    /// Entries before `acked` were acknowledged in this run.
    acked: usize,
    /// Entries before `read` were read in this run.
    read: usize,
    /// Entries before `durable` are on disk.
    durable: usize,
}

impl Harness {
    fn new() -> Harness {
        let root = tempfile::tempdir().expect("a temporary directory");
        let dir = root.path().join("j0");
        let mut h = Harness {
            root,
            dir,
            runs: 0,
            metrics: Arc::new(Metrics::default()),
            journal: None,
            next_id: 0,
            log: Vec::new(),
            positions: Vec::new(),
            lost: HashSet::new(),
            floor: 0,
            acked: 0,
            read: 0,
            durable: 0,
        };
        h.open();
        h
    }

    fn open(&mut self) {
        let config = JournalConfig {
            dir: self.dir.clone(),
            max_bytes: MAX_BYTES,
            when_full: WhenFull::Block,
            fsync: Fsync::Batch,
            health: Arc::new(Health::default()),
        };
        self.journal = Some(open(config, Arc::clone(&self.metrics)).expect("the journal opens"));
    }

    fn writer(&self) -> &JournalWriter {
        &self.journal.as_ref().expect("open").0
    }

    fn reader(&mut self) -> &mut JournalReader {
        &mut self.journal.as_mut().expect("open").1
    }

    fn close(&mut self) {
        self.journal = None;
        self.durable = self.log.len();
        self.floor = self.acked;
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Append { size, table } => {
                let room = self.writer().shared.lock().unacked_bytes() + (HEADER + size) as u64;
                if room > MAX_BYTES {
                    return Ok(()); // it would wait for the reader
                }
                let id = self.next_id;
                self.next_id += 1;
                let chunk = Chunk {
                    table,
                    records: 1,
                    data: payload(id, size),
                };
                prop_assert!(self.writer().append(&chunk).is_ok());
                self.log.push((id, table));
                self.positions.push(None);
            }
            Op::Sync => {
                let written = self.writer().shared.lock().written;
                prop_assert!(self.writer().wait_durable(written).is_ok());
                self.durable = self.log.len();
            }
            Op::Read(n) => {
                for _ in 0..n {
                    let Next::Chunk(c, pos) = self.reader().next(Duration::ZERO) else {
                        break;
                    };
                    let id = id_of(&c.data);
                    prop_assert!(
                        self.read < self.log.len(),
                        "read {id}, which was never appended (or came twice)"
                    );
                    prop_assert_eq!((id, c.table), self.log[self.read], "out of order");
                    self.positions[self.read] = Some(pos);
                    self.read += 1;
                    self.durable = self.durable.max(self.read);
                }
            }
            Op::Ack => {
                if self.read > self.acked {
                    let pos = self.positions[self.read - 1].expect("read in this run");
                    self.reader().ack(pos);
                    self.acked = self.read;
                }
            }
            Op::Reopen => {
                self.close();
                self.open();
                self.check_restart(false)?;
            }
            Op::Crash { cut, torn } => {
                self.crash(cut, torn);
                self.check_restart(true)?;
            }
            Op::Corrupt {
                which,
                byte,
                header,
            } => {
                self.close();
                let damaged = self.corrupt(which, byte, header);
                let before = Metrics::get(&self.metrics.journal_corrupt_bytes);
                self.open();
                self.check_restart(false)?;
                if damaged {
                    prop_assert!(
                        Metrics::get(&self.metrics.journal_corrupt_bytes) > before,
                        "a damaged entry is counted"
                    );
                }
            }
        }
        Ok(())
    }

    /// Copies the journal's files as they are now into the next run's directory,
    /// loses what was not synced of the newest segment past a random byte, and
    /// opens the copy.
    fn crash(&mut self, cut: u16, torn: bool) {
        self.runs += 1;
        let next = self.root.path().join(format!("j{}", self.runs));
        std::fs::create_dir(&next).expect("the next run's directory");
        let committed = {
            let (w, _) = self.journal.as_ref().expect("open");
            let st = w.shared.lock();
            for e in std::fs::read_dir(&self.dir).expect("the journal lists") {
                let e = e.expect("an entry");
                std::fs::copy(e.path(), next.join(e.file_name())).expect("a copy");
            }
            st.committed
        };
        self.journal = None;
        let newest = segment_path(&next, committed.segment);
        if let Ok(f) = OpenOptions::new().write(true).open(&newest) {
            let len = f.metadata().map_or(0, |m| m.len());
            let from = committed.offset + fraction(len.saturating_sub(committed.offset), cut);
            if torn {
                let zeros = vec![0u8; (len - from) as usize];
                f.write_all_at(&zeros, from).expect("zeroed");
            } else {
                f.set_len(from).expect("cut");
            }
        }
        self.dir = next;
        self.open();
    }

    /// Flips one byte of an unacknowledged entry that is not its segment's last
    /// (a damaged last entry looks like a torn tail). `false` if there was none.
    fn corrupt(&mut self, which: u16, byte: u16, header: bool) -> bool {
        let mut places = Vec::new();
        let mut ids: Vec<u64> = std::fs::read_dir(&self.dir)
            .expect("lists")
            .filter_map(|e| {
                e.ok()?
                    .file_name()
                    .to_str()?
                    .strip_suffix(".seg")?
                    .parse()
                    .ok()
            })
            .collect();
        ids.sort_unstable();
        let wanted: HashSet<u64> = self.log[self.acked..].iter().map(|e| e.0).collect();
        for seg in ids {
            let path = segment_path(&self.dir, seg);
            let Ok(mut f) = File::open(&path) else {
                continue;
            };
            let len = f.metadata().map_or(0, |m| m.len());
            let mut at = 0;
            let mut found = Vec::new();
            while let Ok(Found::Entry { entry, end }) = segment::read_at(&mut f, seg, at, len) {
                found.push((id_of(&entry.payload), path.clone(), at, end));
                at = end;
            }
            found.pop();
            places.extend(found.into_iter().filter(|p| wanted.contains(&p.0)));
        }
        if places.is_empty() {
            return false;
        }
        let (id, path, start, end) = &places[usize::from(which) % places.len()];
        let span = if header { HEADER as u64 } else { end - start };
        let at = start + fraction(span - 1, byte);
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .expect("opens");
        let mut b = [0u8];
        f.read_exact_at(&mut b, at).expect("reads");
        f.write_all_at(&[b[0] ^ 0x5a], at).expect("writes");
        self.lost.insert(*id);
        true
    }

    /// After a reopen: reads everything there is and checks it against the model.
    fn check_restart(&mut self, crashed: bool) -> Result<(), TestCaseError> {
        let mut got = Vec::new();
        while let Next::Chunk(c, pos) = self.reader().next(Duration::ZERO) {
            got.push((id_of(&c.data), c.table, pos));
        }
        let alive = |h: &Harness, i: usize| !h.lost.contains(&h.log[i].0);
        // Where reading resumed: the saved acknowledgement, which a crash may
        // have left anywhere between the last one known saved and the last made.
        let start = match got.first() {
            None => self.acked,
            Some(first) => {
                let i = self.log.iter().position(|e| e.0 == first.0);
                prop_assert!(i.is_some(), "{} came back but was never appended", first.0);
                i.unwrap_or(0)
            }
        };
        let low = if crashed { self.floor } else { self.acked };
        prop_assert!(
            start >= low,
            "resumed at {start}, before the saved acknowledgement {low}"
        );
        prop_assert!(
            (self.acked.min(start)..start).all(|i| !alive(self, i)),
            "resumed at {start}, after entries not acknowledged ({})",
            self.acked
        );
        let indexes: Vec<usize> = (start..self.log.len())
            .filter(|&i| alive(self, i))
            .take(got.len())
            .collect();
        let expected: Vec<(u64, Table)> = indexes.iter().map(|&i| self.log[i]).collect();
        let seen: Vec<(u64, Table)> = got.iter().map(|g| (g.0, g.1)).collect();
        prop_assert_eq!(&seen, &expected, "what came back after the restart");
        let end = indexes.last().map_or(start, |i| i + 1);
        let missing: Vec<u64> = (end..self.durable)
            .filter(|&i| alive(self, i))
            .map(|i| self.log[i].0)
            .collect();
        prop_assert!(missing.is_empty(), "synced entries lost: {missing:?}");
        // What did not come back is gone for good: the model forgets it.
        self.log.truncate(end);
        self.positions = vec![None; end];
        for (&i, g) in indexes.iter().zip(&got) {
            self.positions[i] = Some(g.2);
        }
        self.floor = start;
        self.acked = start;
        self.read = end;
        self.durable = end;
        Ok(())
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn journal_model(ops in proptest::collection::vec(op(), 1..80)) {
        let mut h = Harness::new();
        for op in &ops {
            h.apply(op)?;
        }
        // A last clean reopen gives back everything not acknowledged.
        h.apply(&Op::Reopen)?;
    }
}

/// The first case the model found: a damaged length field claimed bytes past
/// the segment's end, and the start-up scan took the rest of the segment for a
/// torn tail and cut it off, losing the synced entries after it uncounted.
#[test]
fn a_damaged_length_field_loses_only_its_own_entry() {
    let mut h = Harness::new();
    let ops = [
        Op::Append {
            size: 1,
            table: Table::Syslog,
        },
        Op::Append {
            size: 1,
            table: Table::Syslog,
        },
        Op::Corrupt {
            which: 0,
            byte: 13797,
            header: false,
        },
        Op::Reopen,
    ];
    for op in &ops {
        h.apply(op).unwrap_or_else(|e| panic!("{op:?}: {e}"));
    }
    assert_eq!(h.log.iter().map(|e| e.0).collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(h.lost, HashSet::from([0]));
}
