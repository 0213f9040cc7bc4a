//! The journal: accepted records on disk until the output acknowledges them.
//!
//! Workers append serialized chunks to segment files in `state_dir/journal/`; the
//! shipper reads them in order and acknowledges what the output accepted. The
//! acknowledged position is kept in `ack` (replaced atomically), and a segment is
//! deleted once everything in it is acknowledged. After a crash, start-up cuts a
//! torn tail off each segment, reports corrupt regions by file and offset, and
//! resumes at the acknowledged position: what was acknowledged by the output may be
//! sent again (at-least-once), what was journaled is never lost.
//!
//! With `fsync = "batch"` an append returns only once it is on disk; with an
//! interval, appends are synced at most that often. When the journal holds
//! `journal_max_bytes`, `when_full = "block"` makes appends wait (back-pressure up
//! to the senders) and `"drop_oldest"` deletes the oldest segment and counts it.

mod segment;

use crate::metrics::Metrics;
use segment::{Found, HEADER};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Records of one table, serialized as JSON lines.
#[derive(Debug)]
pub struct Chunk {
    /// `SL_TABLE_*`.
    pub table: u32,
    pub records: u32,
    pub data: Vec<u8>,
}

/// The journal cannot take appends (its directory failed, or the agent is stopping).
#[derive(Debug)]
pub struct Closed;

/// What to do when the journal is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Appends wait until the output frees room; TCP senders are paused.
    Block,
    /// The oldest segment is deleted and its records counted as dropped.
    DropOldest,
}

/// When appends reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// Before each append returns.
    Batch,
    /// At most this long after an append.
    Interval(Duration),
}

#[derive(Debug, Clone)]
pub struct JournalConfig {
    pub dir: PathBuf,
    pub max_bytes: u64,
    pub when_full: WhenFull,
    pub fsync: Fsync,
}

/// A place in the journal: segment id and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

#[derive(Debug)]
struct Segment {
    id: u64,
    bytes: u64,
    records: u64,
}

struct State {
    segments: VecDeque<Segment>,
    /// The segment being written; shared so fsync can run without the lock.
    file: Arc<File>,
    /// End of the last entry readers may see.
    committed: Position,
    writers: usize,
    reader_gone: bool,
    acked: Position,
    /// Where the reader is, so `drop_oldest` can move it past what it deletes.
    read: Position,
    dirty_since: Option<Instant>,
    failed: bool,
}

struct Shared {
    config: JournalConfig,
    segment_bytes: u64,
    state: Mutex<State>,
    changed: Condvar,
    metrics: Arc<Metrics>,
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
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
    std::fs::write(&tmp, format!("{} {}\n", p.segment, p.offset))?;
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

    fn sync(&self, st: &mut State) {
        if st.dirty_since.take().is_some() || self.config.fsync == Fsync::Batch {
            if let Err(e) = st.file.sync_data() {
                tracing::error!(dir = %self.config.dir.display(), error = %e, "journal fsync failed");
            }
        }
    }

    /// Starts a new segment file after the last one.
    fn rotate(&self, st: &mut State) -> std::io::Result<()> {
        self.sync(st);
        let id = st.segments.back().map_or(1, |s| s.id + 1);
        st.file = Arc::new(
            OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(segment_path(&self.config.dir, id))?,
        );
        sync_dir(&self.config.dir);
        st.segments.push_back(Segment {
            id,
            bytes: 0,
            records: 0,
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
            count_records_after(&path, from.offset, seg.bytes)
        } else {
            seg.records
        };
        let _ = std::fs::remove_file(&path);
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

fn count_records_after(path: &Path, from: u64, limit: u64) -> u64 {
    let Ok(mut f) = File::open(path) else {
        return 0;
    };
    let mut at = from;
    let mut n = 0;
    while let Ok(Found::Entry { entry, end }) = segment::read_at(&mut f, at, limit) {
        n += u64::from(entry.records);
        at = end;
    }
    n
}

/// The workers' end. Cloning adds a writer; the reader sees `Closed` once every
/// writer is dropped and everything is read.
pub struct JournalWriter {
    shared: Arc<Shared>,
}

impl Clone for JournalWriter {
    fn clone(&self) -> Self {
        self.shared.lock().writers += 1;
        JournalWriter {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for JournalWriter {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.writers -= 1;
        if st.writers == 0 {
            self.shared.sync(&mut st);
        }
        drop(st);
        self.shared.changed.notify_all();
    }
}

impl JournalWriter {
    /// Appends a chunk; returns once it is durable under the fsync policy, waiting
    /// first for room when the journal is full and `when_full = "block"`.
    pub fn append(&self, chunk: Chunk) -> Result<(), Closed> {
        let sh = &*self.shared;
        let size = (HEADER + chunk.data.len()) as u64;
        let mut st = sh.lock();
        // An empty journal takes any chunk; a stopping agent (no reader) never blocks.
        while st.unacked_bytes() > 0
            && st.unacked_bytes() + size > sh.config.max_bytes
            && !st.reader_gone
        {
            match sh.config.when_full {
                WhenFull::Block => {
                    st = sh
                        .changed
                        .wait_timeout(st, Duration::from_millis(100))
                        .map_or_else(|e| e.into_inner().0, |r| r.0);
                }
                WhenFull::DropOldest => match sh.drop_oldest(&mut st) {
                    Some(records) => {
                        Metrics::add(&sh.metrics.records_dropped_journal_full, records);
                        tracing::warn!(records, "journal full: dropped its oldest segment (when_full = \"drop_oldest\")");
                    }
                    None => break,
                },
            }
        }
        if st.failed {
            return Err(Closed);
        }
        let mut entry = Vec::with_capacity(size as usize);
        entry.extend_from_slice(&segment::header(chunk.table, chunk.records, &chunk.data));
        entry.extend_from_slice(&chunk.data);
        if let Err(e) = (&*st.file).write_all(&entry) {
            tracing::error!(dir = %sh.config.dir.display(), error = %e, "cannot write to the journal; records from now on are refused");
            st.failed = true;
            return Err(Closed);
        }
        st.dirty_since.get_or_insert_with(Instant::now);
        let mut written = None;
        if let Some(seg) = st.segments.back_mut() {
            seg.bytes += size;
            seg.records += u64::from(chunk.records);
            written = Some(Position {
                segment: seg.id,
                offset: seg.bytes,
            });
        }
        // With fsync = "batch" readers see the entry only once it is on disk; the fsync
        // runs without the lock, so concurrent appends share one (group commit).
        // With an interval, the syncer thread makes appends durable in the background.
        let to_sync = match sh.config.fsync {
            Fsync::Batch => Some(Arc::clone(&st.file)),
            Fsync::Interval(_) => {
                if let Some(p) = written {
                    st.committed = st.committed.max(p);
                }
                None
            }
        };
        if written.is_some_and(|p| p.offset >= sh.segment_bytes) {
            if let Err(e) = sh.rotate(&mut st) {
                tracing::error!(dir = %sh.config.dir.display(), error = %e, "cannot start a new journal segment");
                st.failed = true;
            }
        }
        if let (Some(file), Some(p)) = (to_sync, written) {
            drop(st);
            if let Err(e) = file.sync_data() {
                tracing::error!(dir = %sh.config.dir.display(), error = %e, "journal fsync failed; records from now on are refused");
                sh.lock().failed = true;
                return Err(Closed);
            }
            st = sh.lock();
            st.committed = st.committed.max(p);
        }
        Metrics::add(&sh.metrics.records_journaled, u64::from(chunk.records));
        drop(st);
        sh.changed.notify_all();
        Ok(())
    }
}

/// What the shipper gets from [`JournalReader::next`].
#[derive(Debug)]
pub enum Next {
    /// A chunk and the position right after it (acknowledge it once delivered).
    Chunk(Chunk, Position),
    /// Nothing arrived within the wait.
    Idle,
    /// Every writer is gone and everything was read.
    Closed,
}

/// The shipper's end.
pub struct JournalReader {
    shared: Arc<Shared>,
    pos: Position,
    /// The segment being read, buffered, and the offset the buffer is at.
    file: Option<(u64, BufReader<File>, u64)>,
    ack_saved: Instant,
}

/// How often the acknowledged position is written to disk. Losing the last
/// interval in a crash only means sending those records again.
const ACK_SAVE_EVERY: Duration = Duration::from_millis(500);

impl Drop for JournalReader {
    fn drop(&mut self) {
        let acked = {
            let mut st = self.shared.lock();
            st.reader_gone = true;
            st.acked
        };
        self.shared.changed.notify_all();
        self.save_ack(acked);
    }
}

impl JournalReader {
    /// The next chunk, waiting up to `wait` for one.
    pub fn next(&mut self, wait: Duration) -> Next {
        let sh = Arc::clone(&self.shared);
        let deadline = Instant::now() + wait;
        loop {
            let mut st = sh.lock();
            let oldest = st.segments.front().map_or(self.pos, |s| Position {
                segment: s.id,
                offset: 0,
            });
            if self.pos < oldest {
                self.pos = oldest;
            }
            st.read = self.pos;
            if self.pos >= st.committed {
                if st.writers == 0 {
                    return Next::Closed;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Next::Idle;
                }
                drop(
                    sh.changed
                        .wait_timeout(st, left.min(Duration::from_millis(100))),
                );
                continue;
            }
            let Some(seg) = st.segments.iter().find(|s| s.id >= self.pos.segment) else {
                return Next::Idle;
            };
            if seg.id > self.pos.segment {
                self.pos = Position {
                    segment: seg.id,
                    offset: 0,
                };
                continue;
            }
            let limit = if seg.id == st.committed.segment {
                st.committed.offset
            } else {
                seg.bytes
            };
            let id = seg.id;
            drop(st);
            if self.pos.offset >= limit {
                self.pos = Position {
                    segment: id + 1,
                    offset: 0,
                };
                continue;
            }
            match self.read(id, limit) {
                Ok(Found::Entry { entry, end }) => {
                    self.pos.offset = end;
                    sh.lock().read = self.pos;
                    let chunk = Chunk {
                        table: entry.table,
                        records: entry.records,
                        data: entry.payload,
                    };
                    return Next::Chunk(chunk, self.pos);
                }
                Ok(Found::Corrupt { resume }) => {
                    let path = segment_path(&sh.config.dir, id);
                    tracing::warn!(file = %path.display(), offset = self.pos.offset, bytes = resume - self.pos.offset, "journal: skipping a corrupt region");
                    Metrics::add(&sh.metrics.journal_corrupt_bytes, resume - self.pos.offset);
                    self.pos.offset = resume;
                }
                Ok(Found::Short) => {
                    self.pos = Position {
                        segment: id + 1,
                        offset: 0,
                    }
                }
                Err(e) => {
                    tracing::error!(segment = id, error = %e, "journal: cannot read a segment; skipping it");
                    self.pos = Position {
                        segment: id + 1,
                        offset: 0,
                    };
                }
            }
        }
    }

    fn read(&mut self, id: u64, limit: u64) -> std::io::Result<Found> {
        if self.file.as_ref().is_none_or(|(open, _, _)| *open != id) {
            let f = File::open(segment_path(&self.shared.config.dir, id))?;
            self.file = Some((id, BufReader::with_capacity(256 * 1024, f), u64::MAX));
        }
        let Some((_, reader, at)) = &mut self.file else {
            return Err(std::io::Error::other("segment not open"));
        };
        let found = segment::read_entry(reader, self.pos.offset, limit, *at == self.pos.offset)?;
        *at = match &found {
            Found::Entry { end, .. } => *end,
            _ => u64::MAX,
        };
        Ok(found)
    }

    /// Everything up to `pos` was delivered (or dead-lettered): remember it and delete
    /// segments that are wholly behind it.
    pub fn ack(&mut self, pos: Position) {
        let sh = &*self.shared;
        let mut st = sh.lock();
        if pos <= st.acked {
            return;
        }
        st.acked = pos;
        let mut done_segments = Vec::new();
        while st.segments.len() > 1 {
            let Some(front) = st.segments.front() else {
                break;
            };
            let done =
                front.id < pos.segment || (front.id == pos.segment && pos.offset >= front.bytes);
            if !done {
                break;
            }
            let id = front.id;
            st.segments.pop_front();
            done_segments.push(id);
            if self.file.as_ref().is_some_and(|(open, _, _)| *open == id) {
                self.file = None;
            }
        }
        drop(st);
        sh.changed.notify_all();
        // Deleting a large file can block on the file system: not under the lock.
        for id in done_segments {
            let _ = std::fs::remove_file(segment_path(&sh.config.dir, id));
        }
        if self.ack_saved.elapsed() >= ACK_SAVE_EVERY {
            self.save_ack(pos);
        }
    }

    /// Persists the acknowledged position (outside the lock: a rename can be slow).
    fn save_ack(&mut self, pos: Position) {
        self.ack_saved = Instant::now();
        if let Err(e) = write_ack(&self.shared.config.dir, pos) {
            tracing::warn!(dir = %self.shared.config.dir.display(), error = %e, "cannot record the acknowledged position; a restart will send some records again");
        }
    }
}

/// With `fsync` as an interval: syncs what was written at most that long ago, outside
/// the lock, until the journal is gone.
fn background_sync(shared: std::sync::Weak<Shared>, every: Duration) {
    loop {
        std::thread::sleep(every);
        let Some(sh) = shared.upgrade() else { return };
        let file = {
            let mut st = sh.lock();
            st.dirty_since.take().map(|_| Arc::clone(&st.file))
        };
        if let Some(file) = file {
            if let Err(e) = file.sync_data() {
                tracing::error!(dir = %sh.config.dir.display(), error = %e, "journal fsync failed");
            }
        }
    }
}

/// Opens (or creates) the journal in `config.dir`, recovering what a previous run left.
pub fn open(
    config: JournalConfig,
    metrics: Arc<Metrics>,
) -> Result<(JournalWriter, JournalReader), String> {
    let dir = config.dir.clone();
    let fail = |what: &str, e: std::io::Error| {
        format!("journal in {}: {what}: {e}; check that the directory exists and the agent can write it", dir.display())
    };
    std::fs::create_dir_all(&dir).map_err(|e| fail("cannot create it", e))?;
    let mut ids: Vec<u64> = std::fs::read_dir(&dir)
        .map_err(|e| fail("cannot list it", e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
        .collect();
    ids.sort_unstable();
    let ack = read_ack(&dir).unwrap_or_default();
    let mut segments = VecDeque::new();
    let mut pending = 0u64;
    for id in ids {
        let path = segment_path(&dir, id);
        if id < ack.segment {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| fail("cannot open a segment", e))?;
        let scan = segment::scan(&mut file, 0).map_err(|e| fail("cannot read a segment", e))?;
        for (offset, bytes) in &scan.corrupt {
            tracing::warn!(file = %path.display(), offset, bytes, "journal: corrupt region found at start-up; the intact entries around it are kept");
            Metrics::add(&metrics.journal_corrupt_bytes, *bytes);
        }
        if scan.torn_tail > 0 {
            tracing::warn!(file = %path.display(), offset = scan.valid_end, bytes = scan.torn_tail, "journal: cutting off a torn tail left by a crash");
            file.set_len(scan.valid_end)
                .map_err(|e| fail("cannot cut a torn tail", e))?;
            let _ = file.sync_all();
        }
        pending += if id == ack.segment {
            count_records_after(&path, ack.offset, scan.valid_end)
        } else {
            scan.records
        };
        segments.push_back(Segment {
            id,
            bytes: scan.valid_end,
            records: scan.records,
        });
    }
    if pending > 0 {
        tracing::info!(
            records = pending,
            "journal: records from before the restart will be sent first"
        );
    }
    let next_id = segments.back().map_or(1, |s| s.id + 1);
    let file = Arc::new(
        OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(segment_path(&dir, next_id))
            .map_err(|e| fail("cannot create a segment", e))?,
    );
    sync_dir(&dir);
    segments.push_back(Segment {
        id: next_id,
        bytes: 0,
        records: 0,
    });
    let start = if segments.iter().any(|s| s.id == ack.segment) {
        ack
    } else {
        Position::default()
    };
    let segment_bytes = (config.max_bytes / 16).clamp(64 << 10, 64 << 20);
    let shared = Arc::new(Shared {
        config,
        segment_bytes,
        state: Mutex::new(State {
            segments,
            file,
            committed: Position {
                segment: next_id,
                offset: 0,
            },
            writers: 1,
            reader_gone: false,
            acked: start,
            read: start,
            dirty_since: None,
            failed: false,
        }),
        changed: Condvar::new(),
        metrics,
    });
    if let Fsync::Interval(every) = shared.config.fsync {
        let weak = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("journal-sync".into())
            .spawn(move || background_sync(weak, every))
            .map_err(|e| fail("cannot start the fsync thread", e))?;
    }
    Ok((
        JournalWriter {
            shared: Arc::clone(&shared),
        },
        JournalReader {
            shared,
            pos: start,
            file: None,
            ack_saved: Instant::now(),
        },
    ))
}

#[cfg(test)]
mod tests;
