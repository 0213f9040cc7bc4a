//! The journal's bad days, as states with an entry, an exit and a way back:
//! writes that fail (disk full, quota, I/O error) and a full journal.
//!
//! A failing write enters the *failing* state once: the partial entry is cut off
//! (or, if that fails too, the next append starts a new segment), the cause and
//! the free space are logged, the journal's [`WriteState`] is `Failing` (the
//! listeners and the gauge `journal_write_failing` follow it) and STATUS says it.
//! Appends are refused meanwhile (the pipeline holds TCP, answers RELP 500 and
//! drops and counts UDP). A recovery thread writes a probe file in the journal's
//! directory with backoff; once that works the state is left, logged once with
//! how long it lasted and what was refused, and appends resume.
//!
//! Recovery needs evidence that what waits will fit, with hysteresis, so that
//! writes do not flap between failing and working when only a sliver is free:
//! the probe writes (and syncs) at least `PROBE_MIN`, and at least four times
//! the largest entry refused in the episode; and when writes fail again soon
//! after a recovery (the backlog held meanwhile did not fit), the next recovery
//! asks for twice as much, up to `PROBE_MAX`.

use super::*;
use crate::state_dir::{free_bytes, human_bytes};
use std::io::Write as _;

/// A failing probe is tried again after this, doubling up to `RETRY_MAX`.
const RETRY_START: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// The least the probe writes: room for a few batches.
const PROBE_MIN: u64 = 1 << 20;
/// The most it writes, however often writes flapped.
const PROBE_MAX: u64 = 16 << 20;
/// The probe is written in blocks of this size.
const PROBE_BLOCK: usize = 256 * 1024;
/// Writes failing again this soon after a recovery count as a flap: the next
/// recovery asks for twice the room.
const FLAP_WINDOW: Duration = Duration::from_secs(30);
const FLAP_LEVELS: u32 = 4;
/// The journal-full log lines come at most this often.
const FULL_LOG_EVERY: Duration = Duration::from_secs(60);

/// Writes fail: since when, and the refusal count when it started.
#[derive(Debug)]
pub(super) struct Failing {
    since: Instant,
    refused_before: u64,
    /// The largest entry refused in this episode.
    want: u64,
}

/// The recovery's hysteresis: how recently writes recovered, and how many
/// times in a row they failed again soon after.
#[derive(Debug, Default)]
pub(super) struct Flaps {
    recovered_at: Option<Instant>,
    level: u32,
}

impl State {
    /// An append of `size` bytes was refused while writes fail.
    pub(super) fn wants(&mut self, size: u64) {
        if let Some(f) = self.failing.as_mut() {
            f.want = f.want.max(size);
        }
    }

    /// What a probe must write to end this episode.
    fn probe_bytes(&self) -> u64 {
        let want = self.failing.as_ref().map_or(0, |f| f.want);
        (PROBE_MIN.max(want.saturating_mul(4)) << self.flaps.level).min(PROBE_MAX)
    }
}

/// The journal-full state, for its log lines.
#[derive(Debug, Default)]
pub(super) struct Full {
    since: Option<Instant>,
    /// The entry of this episode was logged, so its exit is too.
    logged: bool,
    last_log: Option<Instant>,
}

fn errno_name(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(28) => "ENOSPC",
        Some(122) => "EDQUOT",
        Some(5) => "EIO",
        Some(30) => "EROFS",
        Some(13) => "EACCES",
        _ => "error",
    }
}

impl Shared {
    /// Shows the journal's fill in its gauge.
    pub(super) fn show_bytes(&self, st: &State) {
        Metrics::set(&self.metrics.journal_bytes, st.unacked_bytes());
    }

    fn free_space(&self) -> String {
        free_bytes(&self.config.dir).map_or_else(|| "unknown".to_string(), human_bytes)
    }

    /// Enters the failing state after `what` failed with `e` (once per episode).
    pub(super) fn fail(&self, st: &mut State, what: &str, e: &std::io::Error) {
        if st.failing.is_some() {
            tracing::debug!(error = %e, what, "journal: still failing");
            return;
        }
        st.failing = Some(Failing {
            since: Instant::now(),
            refused_before: self.metrics.refused_journal_write(),
            want: 0,
        });
        let flapped = st
            .flaps
            .recovered_at
            .is_some_and(|t| t.elapsed() < FLAP_WINDOW);
        st.flaps.level = match flapped {
            true => (st.flaps.level + 1).min(FLAP_LEVELS),
            false => 0,
        };
        self.writes.send_replace(WriteState::Failing);
        let free = self.free_space();
        let dir = self.config.dir.display();
        tracing::error!(%dir, error = %e, code = errno_name(e), free, "journal: {what} failed; until writes work again TCP senders are paused, RELP messages are answered 500 (the sender keeps them) and UDP datagrams are dropped and counted (syslane_records_refused_total{{reason=\"journal_write\",transport=\"udp\"}}, and unix); the agent retries by itself: free space in {dir}");
        self.config.health.condition(
            "journal_write",
            Some(format!(
                "journal writes failing ({e}; {free} free in {dir}): TCP paused, RELP answered 500, UDP dropped; retrying"
            )),
        );
        let weak = self.me.clone();
        let health = Arc::clone(&self.config.health);
        let started = std::thread::Builder::new()
            .name("journal-recovery".into())
            .spawn(move || recover(weak, health));
        if let Err(e) = started {
            tracing::error!(error = %e, "journal: cannot start the recovery thread; retrying at the next append");
            st.failing = None;
            self.writes.send_replace(WriteState::Working);
        }
    }

    /// Leaves the failing state (the caller notifies waiters).
    fn recovered(&self, st: &mut State) {
        let Some(failing) = st.failing.take() else {
            return;
        };
        self.writes.send_replace(WriteState::Working);
        self.config.health.condition("journal_write", None);
        st.flaps.recovered_at = Some(Instant::now());
        let refused = self
            .metrics
            .refused_journal_write()
            .saturating_sub(failing.refused_before);
        tracing::info!(dir = %self.config.dir.display(), after_secs = failing.since.elapsed().as_secs(), refused, free = self.free_space(), "journal: writes work again; TCP senders resume, RELP and UDP are accepted again");
    }

    /// An append waits for room: the journal is full.
    pub(super) fn note_full(&self, st: &mut State) {
        if st.full.since.is_some() {
            return;
        }
        st.full.since = Some(Instant::now());
        st.full.logged = st
            .full
            .last_log
            .is_none_or(|t| t.elapsed() >= FULL_LOG_EVERY);
        let bytes = st.unacked_bytes();
        let text = format!(
            "journal full ({} of {}): TCP and RELP senders paused, UDP dropped (counted) until the output takes records",
            human_bytes(bytes),
            human_bytes(self.config.max_bytes)
        );
        if st.full.logged {
            st.full.last_log = Some(Instant::now());
            tracing::warn!(
                bytes,
                max_bytes = self.config.max_bytes,
                "{text}; is the output down? (journal_max_bytes, when_full)"
            );
        }
        self.config.health.condition("journal_full", Some(text));
    }

    /// An append that waited for room got it.
    pub(super) fn note_room(&self, st: &mut State) {
        let Some(since) = st.full.since.take() else {
            return;
        };
        self.config.health.condition("journal_full", None);
        if std::mem::take(&mut st.full.logged) {
            tracing::info!(
                after_secs = since.elapsed().as_secs(),
                bytes = st.unacked_bytes(),
                "journal has room again; senders resume"
            );
        }
    }

    /// Whether the journal's directory takes `bytes` of writes again: a probe
    /// file written, synced and removed (not tried while the file system says
    /// there is less room than that).
    fn probe(&self, bytes: u64) -> std::io::Result<()> {
        if let Some(free) = free_bytes(&self.config.dir).filter(|f| *f < bytes) {
            return Err(std::io::Error::other(format!(
                "{} free, waiting for {}",
                human_bytes(free),
                human_bytes(bytes)
            )));
        }
        let path = self.config.dir.join("probe.tmp");
        let written = open_private(
            &path,
            OpenOptions::new().write(true).create(true).truncate(true),
        )
        .and_then(|mut f| {
            let block = [0u8; PROBE_BLOCK];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(PROBE_BLOCK as u64) as usize;
                f.write_all(&block[..n])?;
                left -= n as u64;
            }
            f.sync_data()
        });
        let _ = std::fs::remove_file(&path);
        written
    }

    /// After a good probe: starts a new segment if the failed write could not be
    /// cut off, then leaves the failing state.
    fn resume(&self) -> std::io::Result<()> {
        let mut st = self.lock();
        if st.rotate_first {
            self.rotate(&mut st)?;
            st.rotate_first = false;
        }
        self.recovered(&mut st);
        drop(st);
        self.changed.notify_all();
        Ok(())
    }
}

/// The recovery thread: probes with backoff until writes work again or the
/// journal is gone.
fn recover(shared: Weak<Shared>, health: Arc<Health>) {
    let _stage = health.register("journal-recovery");
    let mut delay = RETRY_START;
    loop {
        let until = Instant::now() + delay;
        while Instant::now() < until {
            std::thread::sleep((until - Instant::now()).min(RETRY_START));
            crate::health::beat();
        }
        let Some(sh) = shared.upgrade() else { return };
        let bytes = {
            let st = sh.lock();
            if st.failing.is_none() {
                return;
            }
            st.probe_bytes()
        };
        match sh.probe(bytes).and_then(|()| sh.resume()) {
            Ok(()) => return,
            Err(e) => tracing::debug!(error = %e, "journal: probe write failed; retrying"),
        }
        delay = (delay * 2).min(RETRY_MAX);
    }
}
