//! The workers' end: appends, the fsync policy, back-pressure and drop_oldest.

use super::*;
use std::io::IoSlice;

/// Writes `parts` one after the other at offset `at`, as `write_all_at` of them
/// joined would, but without joining them (an entry's payload is not copied
/// behind its header).
fn write_all_parts(file: &File, mut at: u64, parts: &[&[u8]]) -> std::io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
    let mut left = &mut slices[..];
    IoSlice::advance_slices(&mut left, 0);
    while !left.is_empty() {
        match rustix::io::pwritev(file, left, at) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                at += n as u64;
                IoSlice::advance_slices(&mut left, n);
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The workers' end. Cloning adds a writer; the reader sees `Closed` once every
/// writer is dropped and everything is read.
pub(crate) struct JournalWriter {
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
        if st.writers == 0 && st.failing.is_none() {
            match self.shared.sync(&mut st) {
                Ok(()) => st.committed = st.committed.max(st.written),
                Err(e) => {
                    tracing::error!(dir = %self.shared.config.dir.display(), error = %e, "journal fsync on closing (shutdown or reload) failed; what was not synced is sent again only if it reached the disk")
                }
            }
        }
        drop(st);
        self.shared.changed.notify_all();
    }
}

impl JournalWriter {
    /// The journal's write state, to watch: `Failing` while appends are refused.
    pub(crate) fn write_state(&self) -> tokio::sync::watch::Receiver<WriteState> {
        self.shared.writes.subscribe()
    }

    /// Appends a chunk, waiting first for room when the journal is full and
    /// `when_full = "block"`; returns the position after it. With `fsync =
    /// "batch"` the entry reaches readers once the committer has synced it; wait
    /// for that with [`JournalWriter::wait_durable`] before acknowledging it.
    /// While writes fail, refuses at once.
    pub(crate) fn append(&self, chunk: &Chunk) -> Result<Position, WriteFailing> {
        let sh = &*self.shared;
        let size = (HEADER + chunk.data.len()) as u64;
        let mut st = sh.lock();
        let mut waited = false;
        // An empty journal takes any chunk; a stopping agent (no reader) never blocks.
        while st.unacked_bytes() > 0
            && st.unacked_bytes() + size > sh.config.max_bytes
            && !st.reader_gone
            && st.failing.is_none()
        {
            match sh.config.when_full {
                WhenFull::Block => {
                    sh.note_full(&mut st);
                    waited = true;
                    st = sh
                        .changed
                        .wait_timeout(st, Duration::from_millis(100))
                        .map_or_else(|e| e.into_inner().0, |r| r.0);
                    crate::health::beat();
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
        if waited {
            sh.note_room(&mut st);
        }
        if st.failing.is_some() {
            st.wants(size);
            return Err(WriteFailing);
        }
        if st.rotate_first {
            if let Err(e) = sh.rotate(&mut st) {
                sh.fail(&mut st, "starting a new segment", &e);
                st.wants(size);
                return Err(WriteFailing);
            }
            st.rotate_first = false;
        }
        let (id, end) = st.segments.back().map_or((0, 0), |s| (s.id, s.bytes));
        let header = segment::header(id, chunk.table.code(), chunk.records, &chunk.data);
        if let Err(e) = write_all_parts(&st.file, end, &[&header, &chunk.data]) {
            // Cut what part of the entry got written, so the next one starts where
            // readers expect it; if even that fails, the next append starts a new segment.
            if st.file.set_len(end).is_err() {
                st.rotate_first = true;
            }
            sh.fail(&mut st, "writing an entry", &e);
            st.wants(size);
            return Err(WriteFailing);
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
            // rotate() syncs the finished segment first. The entry is written either way.
            if let Err(e) = sh.rotate(&mut st) {
                sh.fail(&mut st, "starting a new segment", &e);
            }
        }
        Metrics::add(&sh.metrics.records_journaled, u64::from(chunk.records));
        sh.show_bytes(&st);
        drop(st);
        sh.changed.notify_all();
        Ok(written)
    }

    /// Returns once everything up to `upto` is durable under the fsync policy (at
    /// once with an interval); `WriteFailing` if writes fail meanwhile.
    pub(crate) fn wait_durable(&self, upto: Position) -> Result<(), WriteFailing> {
        let sh = &*self.shared;
        if sh.config.fsync != Fsync::Batch {
            return Ok(());
        }
        let mut st = sh.lock();
        if st.committed >= upto {
            return Ok(());
        }
        st.durable_waiters += 1;
        sh.waiter.notify_all();
        let mut result = Ok(());
        while st.committed < upto {
            if st.failing.is_some() {
                result = Err(WriteFailing);
                break;
            }
            st = sh
                .changed
                .wait_timeout(st, Duration::from_millis(100))
                .map_or_else(|e| e.into_inner().0, |r| r.0);
            crate::health::beat();
        }
        st.durable_waiters -= 1;
        result
    }

    /// Waits while writes fail: `true` once they work again, `false` if the
    /// journal is closing first (the shipper stopped: the agent is stopping).
    pub(crate) fn wait_writable(&self) -> bool {
        let sh = &*self.shared;
        let mut st = sh.lock();
        loop {
            if st.failing.is_none() {
                return true;
            }
            if st.reader_gone {
                return false;
            }
            st = sh
                .changed
                .wait_timeout(st, Duration::from_millis(100))
                .map_or_else(|e| e.into_inner().0, |r| r.0);
            crate::health::beat();
        }
    }
}

/// With `fsync = "batch"`: syncs what was written, outside the lock, and lets
/// readers see it; appends made during one sync share the next (group commit).
/// Runs until the journal is gone.
/// The least time between the starts of two syncs while writes keep coming and
/// no worker waits for one: each sync then takes several appends' worth, not one
/// (a sync costs the disk and the kernel's journal about as much for a little as
/// for a few megabytes). A RELP batch waiting for its sync is not paced.
const SYNC_GAP: Duration = Duration::from_millis(10);

/// A sync that takes this long is worth a warning: records (and RELP answers)
/// wait for it, so a slow disk shows as late delivery.
const SLOW_SYNC: Duration = Duration::from_secs(1);
/// The slow-sync warning comes at most this often.
const SLOW_SYNC_LOG_EVERY: Duration = Duration::from_secs(60);

pub(super) fn committer(shared: std::sync::Weak<Shared>) {
    let _stage = shared
        .upgrade()
        .map(|sh| sh.config.health.register("journal-commit"));
    let mut last_sync: Option<Instant> = None;
    let mut slow_logged: Option<Instant> = None;
    while let Some(sh) = shared.upgrade() {
        crate::health::beat();
        let (file, upto) = {
            let st = sh.lock();
            if st.written <= st.committed || st.failing.is_some() {
                drop(sh.changed.wait_timeout(st, Duration::from_millis(100)));
                continue;
            }
            let early = last_sync.and_then(|t| SYNC_GAP.checked_sub(t.elapsed()));
            if let Some(left) = early.filter(|_| st.durable_waiters == 0) {
                // Appends do not wake this wait; a worker that starts waiting does.
                drop(sh.waiter.wait_timeout(st, left));
                continue;
            }
            (Arc::clone(&st.file), st.written)
        };
        let started = Instant::now();
        last_sync = Some(started);
        let synced = file.sync_data();
        let took = started.elapsed();
        if took >= SLOW_SYNC && slow_logged.is_none_or(|t| t.elapsed() >= SLOW_SYNC_LOG_EVERY) {
            slow_logged = Some(Instant::now());
            tracing::warn!(dir = %sh.config.dir.display(), took_ms = took.as_millis() as u64, "journal: an fsync took over a second; records reach the output (and RELP senders their answers) only after it: the disk holding the journal is slow or busy");
        }
        let mut st = sh.lock();
        match synced {
            // A rotation meanwhile synced the old segment and moved past it.
            Ok(()) => st.committed = st.committed.max(upto),
            Err(e) => sh.fail(&mut st, "fsync", &e),
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
                let mut st = sh.lock();
                sh.fail(&mut st, "fsync", &e);
            }
        }
    }
}

#[cfg(test)]
mod parts_tests {
    use super::*;

    #[test]
    fn parts_are_written_in_order_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = File::create(&path).unwrap();
        let big = vec![b'x'; 300_000];
        write_all_parts(&file, 0, &[b"head", &[], &big, b"tail"]).unwrap();
        let got = std::fs::read(&path).unwrap();
        assert_eq!(got.len(), 4 + big.len() + 4);
        assert!(got.starts_with(b"head") && got.ends_with(b"tail"));
    }
}
