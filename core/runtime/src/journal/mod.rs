//! The journal: accepted records on disk until the output acknowledges them.
//!
//! Workers append serialized chunks to segment files in `state_dir/journal/`; the
//! shipper reads them in order and acknowledges what the output accepted. The
//! acknowledged position is kept in `ack` (replaced atomically), and a segment
//! whose records are all acknowledged is deleted, except that one such file is
//! kept as `spare` and the next segment is written into it in place. After a
//! crash, start-up cuts a torn tail off each segment (and a recycled file's old
//! entries), reports corrupt regions by file and offset, and resumes at the
//! saved acknowledged position: what the output accepted after the last save may
//! be sent again (at-least-once), what was journaled is never lost.
//!
//! With `fsync = "batch"` the shipper sees an entry only once it is on disk: a
//! committer thread syncs what was written and moves the readers' limit, so
//! workers go on decoding meanwhile, and an append that must be acknowledged
//! (RELP) waits for it with [`JournalWriter::wait_durable`]. With an interval,
//! appends are synced at most that often. When the journal holds
//! `journal_max_bytes`, `when_full = "block"` makes appends wait (back-pressure up
//! to the senders) and `"drop_oldest"` deletes the oldest segment and counts it;
//! entering and leaving the full state is logged (at most once a minute) and shown
//! in STATUS.
//!
//! A write that fails (ENOSPC, EDQUOT, EIO) is a state, not an end ([`fault`]):
//! the partial entry is cut off, appends are refused until a probe write in the
//! journal directory succeeds again (retried with backoff by a thread of its own),
//! and STATUS says so meanwhile. The journal publishes that state, [`WriteState`],
//! on a watch channel ([`JournalWriter::write_state`]): the listeners act on it
//! (TCP stops reading, RELP answers 500, datagrams are dropped and counted) and
//! the gauge `journal_write_failing` shows it, so both read one truth.

mod fault;
mod reader;
mod segment;
mod writer;

pub(crate) use reader::{JournalReader, Next};
pub(crate) use writer::JournalWriter;

use crate::health::Health;
use crate::metrics::Metrics;
use crate::state_dir::{open_private, private_dir};
use crate::table::Table;
use segment::{Found, HEADER};
use std::collections::{HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// Records of one table, serialized as JSON lines.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub table: Table,
    pub records: u32,
    pub data: Vec<u8>,
}

/// The journal cannot take appends now: writes to its directory fail (disk full,
/// quota, I/O error). It retries by itself; see [`JournalWriter::wait_writable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriteFailing;

/// Whether the journal takes appends now: its one signal for the listeners and
/// the gauge `journal_write_failing`. A journal starts `Working`; it is
/// `Failing` from a failed write until a probe write succeeds again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum WriteState {
    #[default]
    Working,
    /// Writes to its directory fail (disk full, quota, I/O error); appends are
    /// refused while the journal retries by itself.
    Failing,
}

/// What to do when the journal is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WhenFull {
    /// Appends wait until the output frees room; TCP senders are paused.
    Block,
    /// The oldest segment is deleted and its records counted as dropped.
    DropOldest,
}

/// When appends reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fsync {
    /// Before the shipper sees an entry: the committer thread syncs what was
    /// written; an append waits for it only when its sender is answered once the
    /// records are durable (RELP, [`JournalWriter::wait_durable`]).
    Batch,
    /// At most this long after an append.
    Interval(Duration),
}

#[derive(Debug, Clone)]
pub(crate) struct JournalConfig {
    pub dir: PathBuf,
    pub max_bytes: u64,
    pub when_full: WhenFull,
    pub fsync: Fsync,
    /// Where the journal's known conditions (full, failing) are shown.
    pub health: Arc<Health>,
}

/// A place in the journal: segment id and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Position {
    pub segment: u64,
    pub offset: u64,
}

#[derive(Debug)]
struct Segment {
    id: u64,
    bytes: u64,
    records: u64,
    /// Records of it the reader has passed (read, or acknowledged before a restart).
    read: u64,
    /// Written by this run (so only in this version's format): once acknowledged,
    /// its file may become the spare that the next segment is written into.
    recyclable: bool,
}

struct State {
    segments: VecDeque<Segment>,
    /// The segment being written; shared so fsync can run without the lock.
    file: Arc<File>,
    /// End of the last entry readers may see.
    committed: Position,
    /// End of the last entry written (not yet synced with `fsync = "batch"`).
    written: Position,
    writers: usize,
    reader_gone: bool,
    /// Workers waiting in `wait_durable` (RELP batches): the committer syncs for
    /// them at once instead of pacing its syncs.
    durable_waiters: usize,
    acked: Position,
    /// Where the reader is, so `drop_oldest` can move it past what it deletes.
    read: Position,
    dirty_since: Option<Instant>,
    /// Set while writes fail; cleared by the recovery thread.
    failing: Option<fault::Failing>,
    flaps: fault::Flaps,
    /// A failed write left bytes that could not be cut off: start a new segment
    /// before the next append.
    rotate_first: bool,
    full: fault::Full,
    /// Corrupt regions (segment, offset) counted by the start-up scan, so the
    /// reader does not count them again when it skips them.
    counted_corrupt: HashSet<(u64, u64)>,
}

struct Shared {
    /// Itself, for the recovery thread.
    me: Weak<Shared>,
    config: JournalConfig,
    segment_bytes: u64,
    state: Mutex<State>,
    changed: Condvar,
    /// Tells a committer pacing its syncs that a worker waits for one.
    waiter: Condvar,
    metrics: Arc<Metrics>,
    /// The write state, published (under the state lock) as `State::failing` changes.
    writes: tokio::sync::watch::Sender<WriteState>,
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

/// An acknowledged segment's file kept to write the next segment into (see
/// `segment`): at most one, so the journal's files take at most one segment more
/// than what it holds.
fn spare_path(dir: &Path) -> PathBuf {
    dir.join("spare")
}

/// Opens the file of a new segment `id`: the spare renamed, when there is one,
/// else a new file. Written at explicit offsets (never in append mode, which
/// would write after a recycled file's old content).
fn new_segment_file(dir: &Path, id: u64) -> std::io::Result<File> {
    let path = segment_path(dir, id);
    if std::fs::rename(spare_path(dir), &path).is_ok() {
        match open_private(&path, OpenOptions::new().write(true)) {
            Ok(file) => return Ok(file),
            // Not left under the new segment's name, where the next try would
            // find it in the way.
            Err(e) => {
                if std::fs::rename(&path, spare_path(dir)).is_err() {
                    let _ = std::fs::remove_file(&path);
                }
                return Err(e);
            }
        }
    }
    open_private(&path, OpenOptions::new().write(true).create_new(true))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn read_ack(dir: &Path) -> Option<Position> {
    let text = std::fs::read_to_string(dir.join("ack")).ok()?;
    let mut words = text.split_whitespace();
    Some(Position {
        segment: words.next()?.parse().ok()?,
        offset: words.next()?.parse().ok()?,
    })
}

fn write_ack(dir: &Path, p: Position) -> std::io::Result<()> {
    let tmp = dir.join("ack.tmp");
    let mut f = open_private(
        &tmp,
        OpenOptions::new().write(true).create(true).truncate(true),
    )?;
    writeln!(f, "{} {}", p.segment, p.offset)?;
    drop(f);
    std::fs::rename(tmp, dir.join("ack"))
}

impl State {
    /// Bytes written but not yet acknowledged: what counts against `max_bytes`.
    fn unacked_bytes(&self) -> u64 {
        self.segments
            .iter()
            .filter(|s| s.id >= self.acked.segment)
            .map(|s| {
                if s.id == self.acked.segment {
                    s.bytes.saturating_sub(self.acked.offset)
                } else {
                    s.bytes
                }
            })
            .sum()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sync(&self, st: &mut State) -> std::io::Result<()> {
        if st.dirty_since.take().is_some() || self.config.fsync == Fsync::Batch {
            return st.file.sync_data();
        }
        Ok(())
    }

    /// Starts a new segment file after the last one (the finished one is synced
    /// first; if that fails nothing changes).
    fn rotate(&self, st: &mut State) -> std::io::Result<()> {
        self.sync(st)?;
        let id = st.segments.back().map_or(1, |s| s.id + 1);
        st.file = Arc::new(new_segment_file(&self.config.dir, id)?);
        sync_dir(&self.config.dir);
        st.segments.push_back(Segment {
            id,
            bytes: 0,
            records: 0,
            read: 0,
            recyclable: true,
        });
        st.committed = Position {
            segment: id,
            offset: 0,
        };
        Ok(())
    }

    /// Deletes the oldest segment (never the one being written); returns its unacknowledged records.
    fn drop_oldest(&self, st: &mut State) -> Option<u64> {
        if st.segments.len() < 2 {
            return None;
        }
        let seg = st.segments.pop_front()?;
        let path = segment_path(&self.config.dir, seg.id);
        // Records the reader already took are in flight and will still be delivered:
        // only the unread ones are lost, and only those are counted.
        let from = st.acked.max(st.read);
        let unacked = if from.segment > seg.id {
            0
        } else if from.segment == seg.id && from.offset > 0 {
            count_records_after(&path, seg.id, from.offset, seg.bytes)
        } else {
            seg.records
        };
        let _ = std::fs::remove_file(&path);
        st.counted_corrupt.retain(|(id, _)| *id != seg.id);
        if let Some(next) = st.segments.front() {
            let start = Position {
                segment: next.id,
                offset: 0,
            };
            st.read = st.read.max(start);
            st.acked = st.acked.max(start);
        }
        Some(unacked)
    }
}

fn count_records_after(path: &Path, id: u64, from: u64, limit: u64) -> u64 {
    let Ok(mut f) = File::open(path) else {
        return 0;
    };
    let mut at = from;
    let mut n = 0;
    while let Ok(Found::Entry { entry, end }) = segment::read_at(&mut f, id, at, limit) {
        n += u64::from(entry.records);
        at = end;
    }
    n
}

/// The acknowledged position if it lies within the journal; one that points past
/// it (a damaged or foreign `ack` file) is logged and ignored, so every kept record
/// is sent (some perhaps again) instead of segments being deleted unsent.
fn checked_ack(dir: &Path, ids: &[u64]) -> Position {
    let Some(ack) = read_ack(dir) else {
        return Position::default();
    };
    let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else {
        return ack;
    };
    let past = if ack.segment > last {
        Some(format!(
            "segment {} is after the last one ({last})",
            ack.segment
        ))
    } else if ids.contains(&ack.segment) {
        let len = std::fs::metadata(segment_path(dir, ack.segment)).map_or(0, |m| m.len());
        (ack.offset > len).then(|| {
            format!(
                "offset {} is past the end of segment {} ({len} bytes)",
                ack.offset, ack.segment
            )
        })
    } else {
        None
    };
    match past {
        None => ack,
        Some(why) => {
            tracing::warn!(dir = %dir.display(), segment = ack.segment, offset = ack.offset, first_segment = first, last_segment = last, "journal: the acknowledged position points past the journal ({why}); ignoring it: every record kept is sent, some perhaps again");
            Position::default()
        }
    }
}

/// What a journal holds that the output has not acknowledged, read without
/// changing anything (no tail cut, no segment deleted, no file created): for
/// `syslane journal` and the package's purge, with the agent running or not.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Census {
    /// Unacknowledged records per table code, from intact entries.
    pub records: std::collections::BTreeMap<Table, u64>,
    /// Segment files holding some of them.
    pub segments: u64,
    /// Bytes of those files after the acknowledged position.
    pub bytes: u64,
    /// Bytes in them that are not intact entries (their records cannot be counted).
    pub damaged_bytes: u64,
}

impl Census {
    pub(crate) fn total(&self) -> u64 {
        self.records.values().sum()
    }
}

/// Counts what the journal in `dir` holds after its acknowledged position. A
/// missing directory is an empty journal.
pub(crate) fn census(dir: &Path) -> std::io::Result<Census> {
    let mut census = Census::default();
    let list = match std::fs::read_dir(dir) {
        Ok(list) => list,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(census),
        Err(e) => return Err(e),
    };
    let mut ids: Vec<u64> = list
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
        .collect();
    ids.sort_unstable();
    let ack = checked_ack(dir, &ids);
    for id in ids.into_iter().filter(|id| *id >= ack.segment) {
        let mut file = match File::open(segment_path(dir, id)) {
            Ok(f) => f,
            // Deleted by a running agent since the listing: acknowledged.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        let mut at = if id == ack.segment { ack.offset } else { 0 };
        let from = at;
        let mut counted = 0u64;
        while at < len {
            match segment::read_at(&mut file, id, at, len)? {
                Found::Entry { entry, end } => {
                    *census
                        .records
                        .entry(Table::from_code_or_syslog(entry.table))
                        .or_default() += u64::from(entry.records);
                    counted += end - at;
                    at = end;
                }
                Found::Corrupt { resume, .. } => at = resume,
                // A torn tail, or an entry being written by a running agent.
                Found::Short => break,
            }
        }
        if len > from {
            census.segments += 1;
            census.bytes += len - from;
            census.damaged_bytes += at.min(len) - from - counted;
        }
    }
    Ok(census)
}

/// Opens (or creates) the journal in `config.dir`, recovering what a previous run left.
pub(crate) fn open(
    config: JournalConfig,
    metrics: Arc<Metrics>,
) -> Result<(JournalWriter, JournalReader), String> {
    let dir = config.dir.clone();
    let fail = |what: &str, e: std::io::Error| {
        format!("journal in {}: {what}: {e}; check that the directory exists and the agent can write it", dir.display())
    };
    private_dir(&dir).map_err(|e| fail("cannot create it", e))?;
    let mut ids: Vec<u64> = std::fs::read_dir(&dir)
        .map_err(|e| fail("cannot list it", e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
        .collect();
    ids.sort_unstable();
    let ack = checked_ack(&dir, &ids);
    let mut segments = VecDeque::new();
    let mut counted_corrupt = HashSet::new();
    let mut pending = 0u64;
    for id in ids {
        let path = segment_path(&dir, id);
        if id < ack.segment {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let mut file = open_private(&path, OpenOptions::new().read(true).write(true))
            .map_err(|e| fail("cannot open a segment", e))?;
        let scan = segment::scan(&mut file, id, 0).map_err(|e| fail("cannot read a segment", e))?;
        for (offset, bytes) in &scan.corrupt {
            tracing::warn!(file = %path.display(), offset, bytes, "journal: corrupt region found at start-up; the intact entries around it are kept");
            Metrics::add(&metrics.journal_corrupt_bytes, *bytes);
            counted_corrupt.insert((id, *offset));
        }
        if scan.torn_tail > 0 {
            if scan.recycled {
                tracing::info!(file = %path.display(), offset = scan.valid_end, bytes = scan.torn_tail, "journal: cutting off the older entries a recycled segment file held after its own");
            } else {
                tracing::warn!(file = %path.display(), offset = scan.valid_end, bytes = scan.torn_tail, "journal: cutting off a torn tail left by a crash");
            }
            file.set_len(scan.valid_end)
                .map_err(|e| fail("cannot cut a torn tail", e))?;
            let _ = file.sync_all();
        }
        let unread = if id == ack.segment {
            count_records_after(&path, id, ack.offset, scan.valid_end)
        } else {
            scan.records
        };
        pending += unread;
        segments.push_back(Segment {
            id,
            bytes: scan.valid_end,
            records: scan.records,
            read: scan.records.saturating_sub(unread),
            // Perhaps written by an older version: deleted once acknowledged.
            recyclable: false,
        });
    }
    if pending > 0 {
        tracing::info!(
            records = pending,
            "journal: records from before the restart will be sent first"
        );
    }
    // After the acknowledged segment even if it is gone, so a later start never
    // takes the new segment for an acknowledged one.
    let next_id = segments.back().map_or(1, |s| s.id + 1).max(ack.segment + 1);
    let file =
        Arc::new(new_segment_file(&dir, next_id).map_err(|e| fail("cannot create a segment", e))?);
    sync_dir(&dir);
    segments.push_back(Segment {
        id: next_id,
        bytes: 0,
        records: 0,
        read: 0,
        recyclable: true,
    });
    let start = if segments.iter().any(|s| s.id == ack.segment) {
        ack
    } else {
        Position::default()
    };
    let segment_bytes = (config.max_bytes / 16).clamp(64 << 10, 16 << 20);
    // A journal replaced by a reload takes its states with it; this one starts afresh.
    Metrics::set(&metrics.journal_max_bytes, config.max_bytes);
    let (writes, watching) = tokio::sync::watch::channel(WriteState::Working);
    metrics.journal_write_failing.follow(watching);
    config.health.condition("journal_write", None);
    config.health.condition("journal_full", None);
    let shared = Arc::new_cyclic(|me| Shared {
        me: me.clone(),
        config,
        segment_bytes,
        state: Mutex::new(State {
            segments,
            file,
            committed: Position {
                segment: next_id,
                offset: 0,
            },
            written: Position {
                segment: next_id,
                offset: 0,
            },
            writers: 1,
            reader_gone: false,
            durable_waiters: 0,
            acked: start,
            read: start,
            dirty_since: None,
            failing: None,
            flaps: fault::Flaps::default(),
            rotate_first: false,
            full: fault::Full::default(),
            counted_corrupt,
        }),
        changed: Condvar::new(),
        waiter: Condvar::new(),
        metrics,
        writes,
    });
    shared.show_bytes(&shared.lock());
    let weak = Arc::downgrade(&shared);
    let syncer = match shared.config.fsync {
        Fsync::Interval(every) => std::thread::Builder::new()
            .name("journal-sync".into())
            .spawn(move || writer::background_sync(weak, every)),
        Fsync::Batch => std::thread::Builder::new()
            .name("journal-commit".into())
            .spawn(move || writer::committer(weak)),
    };
    syncer.map_err(|e| fail("cannot start the fsync thread", e))?;
    Ok((
        JournalWriter {
            shared: Arc::clone(&shared),
        },
        JournalReader {
            shared,
            pos: start,
            file: None,
            read_errors: 0,
            ack_saved: Instant::now(),
            ack_unsaved: None,
        },
    ))
}

#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;
