//! The shipper's end: reading in order, skipping corruption, acknowledging.

use super::*;
use std::io::BufReader;

/// The segment reader's buffer: entries' headers and small entries.
const READ_BUFFER: usize = 16 * 1024;

/// What the shipper gets from [`JournalReader::next`].
#[derive(Debug)]
pub(crate) enum Next {
    /// A chunk and the position right after it (acknowledge it once delivered).
    Chunk(Chunk, Position),
    /// Nothing arrived within the wait.
    Idle,
    /// Every writer is gone and everything was read.
    Closed,
}

/// The shipper's end.
pub(crate) struct JournalReader {
    pub(super) shared: Arc<Shared>,
    pub(super) pos: Position,
    /// The segment being read, buffered, and the offset the buffer is at.
    pub(super) file: Option<(u64, BufReader<segment::Bounded>, u64)>,
    /// Reads of the current position that failed in a row (retried with backoff).
    pub(super) read_errors: u32,
    pub(super) ack_saved: Instant,
    /// An acknowledgement not yet on disk (saved at most every `ACK_SAVE_EVERY`,
    /// and once the reader is idle).
    pub(super) ack_unsaved: Option<Position>,
}

/// How often the acknowledged position is written to disk. Losing the last
/// interval in a crash only means sending those records again.
const ACK_SAVE_EVERY: Duration = Duration::from_millis(500);

/// A segment that cannot be read is tried this many times more (the first wait
/// `READ_RETRY_START`, doubling up to `READ_RETRY_MAX`: about a minute in all)
/// before its unread records are counted as lost: an I/O error that passes (a
/// storage path failing over, a disk recovering a sector) loses nothing, one
/// that stays holds shipping up for a minute per segment, not for ever.
const READ_RETRIES: u32 = 16;
const READ_RETRY_START: Duration = Duration::from_millis(100);
const READ_RETRY_MAX: Duration = Duration::from_secs(5);

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
    /// Where the next read starts: what `ack` of it would leave unacknowledged is
    /// everything not read yet.
    pub(crate) fn position(&self) -> Position {
        self.pos
    }

    /// The next chunk, waiting up to `wait` for one.
    #[cfg(test)]
    pub(crate) fn next(&mut self, wait: Duration) -> Next {
        let mut data = Vec::new();
        match self.next_into(wait, &mut data) {
            Next::Chunk(mut chunk, end) => {
                chunk.data = data;
                Next::Chunk(chunk, end)
            }
            other => other,
        }
    }

    /// [`next`](Self::next), with the chunk's payload appended to `out` instead
    /// of `chunk.data` (which stays empty); `out` is unchanged unless a chunk is
    /// returned.
    pub(crate) fn next_into(&mut self, wait: Duration, out: &mut Vec<u8>) -> Next {
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
                    drop(st);
                    self.save_idle_ack();
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
            match self.read(id, limit, out) {
                Ok(Found::Entry { entry, end }) => {
                    self.pos.offset = end;
                    self.read_errors = 0;
                    let mut st = sh.lock();
                    st.read = self.pos;
                    if let Some(seg) = st.segments.iter_mut().find(|s| s.id == id) {
                        seg.read += u64::from(entry.records);
                    }
                    drop(st);
                    let chunk = Chunk {
                        table: crate::table::Table::from_code_or_syslog(entry.table),
                        records: entry.records,
                        data: Vec::new(),
                    };
                    return Next::Chunk(chunk, self.pos);
                }
                Ok(Found::Corrupt { resume, .. }) => {
                    // Regions the start-up scan found were counted and logged then.
                    let known = sh.lock().counted_corrupt.remove(&(id, self.pos.offset));
                    if !known {
                        let path = segment_path(&sh.config.dir, id);
                        tracing::warn!(file = %path.display(), offset = self.pos.offset, bytes = resume - self.pos.offset, "journal: skipping a corrupt region");
                        Metrics::add(&sh.metrics.journal_corrupt_bytes, resume - self.pos.offset);
                    }
                    self.pos.offset = resume;
                }
                Ok(Found::Short) => {
                    self.pos = Position {
                        segment: id + 1,
                        offset: 0,
                    }
                }
                Err(e) => {
                    if !self.unreadable(id, &e) {
                        return Next::Idle;
                    }
                    self.pos = Position {
                        segment: id + 1,
                        offset: 0,
                    };
                }
            }
        }
    }

    /// A read of segment `id` failed with `e`: `false` to try again after a
    /// wait (a transient error), `true` once it has failed too often or the
    /// file is gone; its records not read yet are then logged and counted as
    /// lost, so the ledger still balances.
    fn unreadable(&mut self, id: u64, e: &std::io::Error) -> bool {
        let sh = Arc::clone(&self.shared);
        let path = segment_path(&sh.config.dir, id);
        self.file = None;
        let gone = e.kind() == std::io::ErrorKind::NotFound;
        if !gone && self.read_errors < READ_RETRIES {
            let wait = (READ_RETRY_START * 2u32.pow(self.read_errors.min(10))).min(READ_RETRY_MAX);
            self.read_errors += 1;
            tracing::warn!(file = %path.display(), offset = self.pos.offset, error = %e, attempt = self.read_errors, retry_ms = wait.as_millis() as u64, "journal: cannot read a segment; retrying");
            let until = Instant::now() + wait;
            while Instant::now() < until {
                crate::health::beat();
                std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
            }
            return false;
        }
        self.read_errors = 0;
        let lost = {
            let st = sh.lock();
            st.segments
                .iter()
                .find(|s| s.id == id)
                .map_or(0, |s| s.records.saturating_sub(s.read))
        };
        Metrics::add(&sh.metrics.records_lost_journal_unreadable, lost);
        tracing::error!(file = %path.display(), offset = self.pos.offset, error = %e, records = lost, "journal: a segment cannot be read; its unread records are lost (counted in syslane_records_lost_journal_unreadable_total). Was the state directory removed or replaced while the agent ran?");
        true
    }

    fn read(&mut self, id: u64, limit: u64, out: &mut Vec<u8>) -> std::io::Result<Found> {
        if self.file.as_ref().is_none_or(|(open, _, _)| *open != id) {
            let f = segment::Bounded::new(File::open(segment_path(&self.shared.config.dir, id))?);
            // Small: a payload larger than the buffer is read from the file
            // straight into its own buffer (BufReader hands such reads through),
            // so most journaled bytes are copied once on the way to the output,
            // not twice; small entries still share one read.
            self.file = Some((id, BufReader::with_capacity(READ_BUFFER, f), u64::MAX));
        }
        let Some((_, reader, at)) = &mut self.file else {
            return Err(std::io::Error::other("segment not open"));
        };
        // What was buffered lies before the old limit, so it stays valid.
        reader.get_mut().limit = limit;
        let mut found = segment::read_entry_into(
            reader,
            id,
            self.pos.offset,
            limit,
            *at == self.pos.offset,
            out,
        )?;
        if let Found::Short = found {
            // What readers may see holds whole entries: a header claiming bytes
            // past the limit was damaged. Go on at the next valid entry.
            let resume = segment::next_entry(reader, id, self.pos.offset + 1, limit)?;
            found = Found::Corrupt {
                resume: resume.unwrap_or(limit),
                whole: false,
            };
        }
        *at = match &found {
            Found::Entry { end, .. } => *end,
            _ => u64::MAX,
        };
        Ok(found)
    }

    /// Everything up to `pos` was delivered (or dead-lettered): remember it and delete
    /// segments that are wholly behind it.
    pub(crate) fn ack(&mut self, pos: Position) {
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
            let (id, recyclable) = (front.id, front.recyclable);
            st.segments.pop_front();
            done_segments.push((id, recyclable));
            if self.file.as_ref().is_some_and(|(open, _, _)| *open == id) {
                self.file = None;
            }
        }
        sh.show_bytes(&st);
        drop(st);
        sh.changed.notify_all();
        // Deleting a large file can block on the file system: not under the lock.
        // The first done segment of this run's format becomes the spare the next
        // segment is written into, unless there is one already.
        let dir = &sh.config.dir;
        for (id, recyclable) in done_segments {
            let path = segment_path(dir, id);
            let keep = recyclable && std::fs::symlink_metadata(spare_path(dir)).is_err();
            if !keep || std::fs::rename(&path, spare_path(dir)).is_err() {
                let _ = std::fs::remove_file(&path);
            }
        }
        if self.ack_saved.elapsed() >= ACK_SAVE_EVERY {
            self.save_ack(pos);
        } else {
            self.ack_unsaved = Some(pos);
        }
    }

    /// Saves an acknowledgement that came too soon after the last save, once the
    /// interval has passed, so an idle agent's position is on disk too.
    fn save_idle_ack(&mut self) {
        if self.ack_saved.elapsed() >= ACK_SAVE_EVERY {
            if let Some(pos) = self.ack_unsaved {
                self.save_ack(pos);
            }
        }
    }

    /// Persists the acknowledged position (outside the lock: a rename can be slow).
    fn save_ack(&mut self, pos: Position) {
        self.ack_saved = Instant::now();
        self.ack_unsaved = None;
        if let Err(e) = write_ack(&self.shared.config.dir, pos) {
            tracing::warn!(dir = %self.shared.config.dir.display(), error = %e, "cannot record the acknowledged position; a restart will send some records again");
        }
    }
}
