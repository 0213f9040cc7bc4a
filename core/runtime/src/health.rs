//! Whether the pipeline makes progress, for the service manager's watchdog and its
//! STATUS line.
//!
//! Every pipeline thread (worker, shipper, journal committer) registers a stage and
//! beats it whenever it finishes a unit of work or waits in a state the agent knows
//! (an empty queue, a full journal, a failing disk). A stage that has not beaten for
//! `stall_timeout_secs` is stuck somewhere nobody planned for (a plugin call that
//! never returns, an fsync on a dead disk); a stage whose thread panicked is gone.
//! Either way the agent stops petting the watchdog, so systemd restarts it, and
//! says why in STATUS. An idle agent keeps beating: idle is healthy.
//!
//! Conditions are the known bad states (journal full, disk failing) that the
//! agent rides out by itself: STATUS shows them, the watchdog keeps being petted,
//! since a restart would not free the disk or bring the output back.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

const RUNNING: u8 = 0;
const FINISHED: u8 = 1;
const DIED: u8 = 2;

#[derive(Debug)]
struct Beat {
    /// Milliseconds since `Health::base` at the last beat.
    at_ms: AtomicU64,
    state: AtomicU8,
}

#[derive(Debug)]
struct Stage {
    name: String,
    beat: Arc<Beat>,
}

/// The pipeline's stages and the agent's known conditions.
#[derive(Debug)]
pub(crate) struct Health {
    base: Instant,
    stages: Mutex<Vec<Stage>>,
    conditions: Mutex<BTreeMap<&'static str, String>>,
}

impl Default for Health {
    fn default() -> Health {
        Health {
            base: Instant::now(),
            stages: Mutex::new(Vec::new()),
            conditions: Mutex::new(BTreeMap::new()),
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<(Arc<Beat>, Instant)>> = const { RefCell::new(None) };
}

fn ms_since(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Marks progress of the stage running on this thread (nothing on other threads).
pub(crate) fn beat() {
    CURRENT.with(|c| {
        if let Some((beat, base)) = &*c.borrow() {
            beat.at_ms.store(ms_since(*base), Ordering::Relaxed);
        }
    });
}

/// A registered stage: beats through [`beat`] on its thread; dropping it (the
/// thread ends) takes it out, or marks it dead when the thread is panicking.
#[derive(Debug)]
pub(crate) struct StageGuard {
    beat: Arc<Beat>,
}

impl Drop for StageGuard {
    fn drop(&mut self) {
        let state = if std::thread::panicking() {
            DIED
        } else {
            FINISHED
        };
        self.beat.state.store(state, Ordering::Relaxed);
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}

/// A stage that does not make progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stall {
    pub stage: String,
    /// Since the last beat; `None` when its thread died.
    pub silent_for: Option<Duration>,
}

impl std::fmt::Display for Stall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.silent_for {
            Some(d) => write!(
                f,
                "{} has made no progress for {} s",
                self.stage,
                d.as_secs()
            ),
            None => write!(f, "{} stopped (its thread panicked)", self.stage),
        }
    }
}

impl Health {
    fn stages(&self) -> MutexGuard<'_, Vec<Stage>> {
        self.stages.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn conditions(&self) -> MutexGuard<'_, BTreeMap<&'static str, String>> {
        self.conditions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers the calling thread as stage `name`; keep the guard for the
    /// thread's life.
    pub(crate) fn register(&self, name: impl Into<String>) -> StageGuard {
        let beat = Arc::new(Beat {
            at_ms: AtomicU64::new(ms_since(self.base)),
            state: AtomicU8::new(RUNNING),
        });
        CURRENT.with(|c| *c.borrow_mut() = Some((Arc::clone(&beat), self.base)));
        let mut stages = self.stages();
        stages.retain(|s| s.beat.state.load(Ordering::Relaxed) != FINISHED);
        stages.push(Stage {
            name: name.into(),
            beat: Arc::clone(&beat),
        });
        StageGuard { beat }
    }

    /// Stages silent for longer than `limit`, and stages whose thread died.
    pub(crate) fn stalled(&self, limit: Duration) -> Vec<Stall> {
        let now = ms_since(self.base);
        let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        let mut stages = self.stages();
        stages.retain(|s| s.beat.state.load(Ordering::Relaxed) != FINISHED);
        stages
            .iter()
            .filter_map(|s| match s.beat.state.load(Ordering::Relaxed) {
                DIED => Some(Stall {
                    stage: s.name.clone(),
                    silent_for: None,
                }),
                _ => {
                    let silent = now.saturating_sub(s.beat.at_ms.load(Ordering::Relaxed));
                    (silent > limit_ms).then(|| Stall {
                        stage: s.name.clone(),
                        silent_for: Some(Duration::from_millis(silent)),
                    })
                }
            })
            .collect()
    }

    /// Sets (or, with `None`, clears) a known condition shown in STATUS.
    pub(crate) fn condition(&self, key: &'static str, text: Option<String>) {
        let mut c = self.conditions();
        match text {
            Some(t) => {
                c.insert(key, t);
            }
            None => {
                c.remove(key);
            }
        }
    }

    /// The known conditions, in key order.
    pub(crate) fn conditions_now(&self) -> Vec<String> {
        self.conditions().values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_stage_stalls_a_beating_one_does_not_a_finished_one_goes() {
        let health = Arc::new(Health::default());
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let h = Arc::clone(&health);
        let beating = std::thread::spawn(move || {
            let _g = h.register("worker-0");
            while stop_rx.recv_timeout(Duration::from_millis(5)).is_err() {
                beat();
            }
        });
        let h = Arc::clone(&health);
        let (silent_tx, silent_rx) = std::sync::mpsc::channel::<()>();
        let silent = std::thread::spawn(move || {
            let _g = h.register("shipper");
            let _ = silent_rx.recv();
        });
        std::thread::sleep(Duration::from_millis(120));
        let stalled = health.stalled(Duration::from_millis(60));
        assert_eq!(stalled.len(), 1, "{stalled:?}");
        assert_eq!(stalled[0].stage, "shipper");
        assert!(stalled[0].to_string().contains("no progress"));
        silent_tx.send(()).unwrap();
        silent.join().unwrap();
        stop_tx.send(()).unwrap();
        beating.join().unwrap();
        assert!(
            health.stalled(Duration::ZERO).is_empty(),
            "finished stages go"
        );
    }

    #[test]
    fn a_stage_whose_thread_panicked_is_reported_dead() {
        let health = Arc::new(Health::default());
        let h = Arc::clone(&health);
        let t = std::thread::spawn(move || {
            let _g = h.register("worker-1");
            panic!("bug");
        });
        assert!(t.join().is_err());
        let stalled = health.stalled(Duration::from_secs(3600));
        assert_eq!(stalled.len(), 1);
        assert!(
            stalled[0].to_string().contains("panicked"),
            "{}",
            stalled[0]
        );
    }

    #[test]
    fn conditions_are_set_and_cleared() {
        let health = Health::default();
        health.condition("journal", Some("journal full".into()));
        assert_eq!(health.conditions_now(), vec!["journal full".to_string()]);
        health.condition("journal", None);
        assert!(health.conditions_now().is_empty());
    }
}
