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
