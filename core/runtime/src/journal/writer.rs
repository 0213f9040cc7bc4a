//! The workers' end: appends, the fsync policy, back-pressure and drop_oldest.

use super::*;
use std::io::Write;

/// The workers' end. Cloning adds a writer; the reader sees `Closed` once every
/// writer is dropped and everything is read.
pub struct JournalWriter {
    pub(super) shared: Arc<Shared>,
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
            st.committed = st.committed.max(st.written);
        }
        drop(st);
        self.shared.changed.notify_all();
    }
}

impl JournalWriter {
    /// Appends a chunk, waiting first for room when the journal is full and
    /// `when_full = "block"`; returns the position after it. With `fsync =
    /// "batch"` the entry reaches readers once the committer has synced it; wait
    /// for that with [`JournalWriter::wait_durable`] before acknowledging it.
    pub fn append(&self, chunk: Chunk) -> Result<Position, Closed> {
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
        let written = match st.segments.back_mut() {
            Some(seg) => {
                seg.bytes += size;
                seg.records += u64::from(chunk.records);
                Position {
                    segment: seg.id,
                    offset: seg.bytes,
                }
            }
            None => st.written,
        };
        st.written = st.written.max(written);
        // With an interval, readers see the entry at once and the syncer thread makes
        // it durable in the background; with fsync = "batch", the committer moves
        // `committed` once the entry is on disk.
        if let Fsync::Interval(_) = sh.config.fsync {
            st.committed = st.committed.max(written);
        }
        if written.offset >= sh.segment_bytes {
            // rotate() syncs the finished segment first.
            if let Err(e) = sh.rotate(&mut st) {
                tracing::error!(dir = %sh.config.dir.display(), error = %e, "cannot start a new journal segment");
                st.failed = true;
            }
        }
        Metrics::add(&sh.metrics.records_journaled, u64::from(chunk.records));
        sh.publish_size(&st);
        drop(st);
        sh.changed.notify_all();
        Ok(written)
    }

    /// Returns once everything up to `upto` is durable under the fsync policy (at
    /// once with an interval); `Closed` if the journal failed first.
    pub fn wait_durable(&self, upto: Position) -> Result<(), Closed> {
        let sh = &*self.shared;
        if sh.config.fsync != Fsync::Batch {
            return Ok(());
        }
        let mut st = sh.lock();
        while st.committed < upto {
            if st.failed {
                return Err(Closed);
            }
            st = sh
                .changed
                .wait_timeout(st, Duration::from_millis(100))
                .map_or_else(|e| e.into_inner().0, |r| r.0);
        }
        Ok(())
    }
}

/// With `fsync = "batch"`: syncs what was written, outside the lock, and lets
/// readers see it; appends made during one sync share the next (group commit).
/// Runs until the journal is gone.
pub(super) fn committer(shared: std::sync::Weak<Shared>) {
    while let Some(sh) = shared.upgrade() {
        let (file, upto) = {
            let st = sh.lock();
            if st.written <= st.committed || st.failed {
                drop(sh.changed.wait_timeout(st, Duration::from_millis(100)));
                continue;
            }
            (Arc::clone(&st.file), st.written)
        };
        let synced = file.sync_data();
        let mut st = sh.lock();
        match synced {
            // A rotation meanwhile synced the old segment and moved past it.
            Ok(()) => st.committed = st.committed.max(upto),
            Err(e) => {
                tracing::error!(dir = %sh.config.dir.display(), error = %e, "journal fsync failed; records from now on are refused");
                st.failed = true;
            }
        }
        drop(st);
        sh.changed.notify_all();
    }
}

/// With `fsync` as an interval: syncs what was written at most that long ago, outside
/// the lock, until the journal is gone.
pub(super) fn background_sync(shared: std::sync::Weak<Shared>, every: Duration) {
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
