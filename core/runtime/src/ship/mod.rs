//! The shipper: reads the journal in order, gathers chunks of each table into
//! batches of at most `batch_max_bytes` (or the size the output asks for), lets a
//! batch that is not full wait for the output's linger, and offers each batch to
//! the output plugin until it is settled: delivered (OK) or rejected for good
//! (REJECT: dead-lettered); or until the shutdown deadline passes. Each offer is
//! one `send` call; "delivered" is only ever the output's OK. RETRY waits the
//! plugin's delay, else an exponential backoff with jitter. Only a settled batch
//! is acknowledged to the journal, so what the deadline interrupts stays
//! journaled for the next run.

mod dead_letter;
mod policy;

pub(crate) use dead_letter::DeadLetters;

use crate::health::Health;
use crate::journal::{JournalReader, Next};
use crate::metrics::Metrics;
use crate::plugin_host::{OutputInstance, OutputPreferences, SendOutcome};
use crate::table::Table;
use policy::{Policy, Ready};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// When set, the time by which shipping must stop.
pub(crate) type Deadline = Arc<Mutex<Option<Stop>>>;

/// Why and when the shipper stops.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stop {
    pub at: Instant,
    /// A reload replaces this pipeline (else the agent is shutting down).
    pub reload: bool,
}

pub(crate) struct Shipper {
    pub output: OutputInstance,
    pub journal: JournalReader,
    pub metrics: Arc<Metrics>,
    /// `batch_max_bytes` when the configuration sets it.
    pub batch_max_bytes: Option<usize>,
    pub dead_letters: DeadLetters,
    pub deadline: Deadline,
    pub health: Arc<Health>,
}

/// The batch size when neither the configuration nor the output says.
pub(crate) const DEFAULT_BATCH_BYTES: usize = 1 << 20;
/// The most an output may ask for (a batch is held in memory while it is offered).
pub(crate) const MAX_PREFERRED_BATCH_BYTES: usize = 64 << 20;
/// The batch size: `batch_max_bytes` when configured, else what the output asks
/// (ABI 1.2), else 1 MiB.
pub(crate) fn batch_bytes(configured: Option<usize>, prefs: &OutputPreferences) -> usize {
    configured.unwrap_or(match prefs.batch_bytes {
        0 => DEFAULT_BATCH_BYTES,
        n => n.clamp(1024, MAX_PREFERRED_BATCH_BYTES),
    })
}

struct Batch {
    table: Table,
    records: u32,
    data: Arc<Vec<u8>>,
}

/// How offering a batch until it settles ended.
struct Settling {
    /// `false` when the shutdown deadline stopped it.
    settled: bool,
    /// The output asked for a delay (429, 503 with Retry-After) on the way.
    throttled: bool,
}

/// Cheap jitter (not for secrets): xorshift over the clock.
fn jitter(d: Duration, seed: &mut u64) -> Duration {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    let quarter = d.as_millis() as u64 / 4;
    let offset = if quarter == 0 {
        0
    } else {
        *seed % (2 * quarter)
    };
    Duration::from_millis(d.as_millis() as u64 - quarter + offset)
}

/// The next retry delay: `backoff` with jitter, never over `BACKOFF_MAX` (the cap
/// includes the jitter); `backoff` doubles up to the cap.
fn next_delay(backoff: &mut Duration, seed: &mut u64) -> Duration {
    let d = jitter(*backoff, seed).min(BACKOFF_MAX);
    *backoff = (*backoff * 2).min(BACKOFF_MAX);
    d
}

impl Shipper {
    fn stop(&self) -> Option<Stop> {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn past_deadline(&self) -> bool {
        self.stop().is_some_and(|d| Instant::now() >= d.at)
    }

    /// Waits `d`, or less if the deadline comes first. `false` at the deadline.
    fn wait(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while Instant::now() < until {
            crate::health::beat();
            if self.past_deadline() {
                return false;
            }
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
        }
        !self.past_deadline()
    }

    fn shutting_down(&self) -> bool {
        self.stop().is_some()
    }

    /// Runs until the journal is closed and empty, or the deadline passes,
    /// batching as [`policy`] says. Offers go one at a time, in journal order.
    pub(crate) fn run(mut self) {
        let _stage = self.health.register("shipper");
        let prefs = self.output.preferences();
        let target = batch_bytes(self.batch_max_bytes, &prefs);
        let linger = prefs.flush_interval;
        tracing::debug!(
            target_bytes = target,
            linger_ms = linger.as_millis() as u64,
            "shipper batching"
        );
        let mut policy = Policy::new(target, linger, self.journal.position());
        let mut seed = crate::system::now_ns() as u64 | 1;
        loop {
            crate::health::beat();
            let plan = policy.plan(Instant::now(), self.shutting_down());
            let mut closed = false;
            // The chunk is read straight onto the end of the batch it belongs to.
            let mut landing = policy.landing();
            let next = self.journal.next_into(plan.wait, &mut landing.buf);
            let chunk = match &next {
                Next::Chunk(c, end) => Some((c.table, c.records, *end)),
                _ => None,
            };
            let ready = policy.landed(landing, chunk, Instant::now());
            match next {
                Next::Chunk(..) => {
                    for batch in ready {
                        if !self.offer(&mut policy, batch, &mut seed) {
                            return;
                        }
                    }
                    continue;
                }
                // Writers still open at the deadline (a worker holding records
                // while the disk fails, say) cannot keep the agent running.
                Next::Idle if !policy.has_open() && self.past_deadline() => return,
                Next::Idle => {}
                Next::Closed => closed = true,
            }
            if policy.has_open() && (plan.due || closed) {
                for batch in policy.take_open() {
                    if !self.offer(&mut policy, batch, &mut seed) {
                        return;
                    }
                }
            }
            if closed && !policy.has_open() {
                break;
            }
        }
    }

    /// Offers one batch until it is settled, then acknowledges the journal as
    /// far as the policy allows. `false` when the deadline stopped it.
    fn offer(&mut self, policy: &mut Policy, ready: Ready, seed: &mut u64) -> bool {
        let batch = Batch {
            table: ready.table,
            records: ready.records,
            data: Arc::new(ready.data),
        };
        let outcome = self.settle(&batch, ready.id, seed);
        policy.offered(ready.full, Instant::now());
        if !outcome.settled {
            if self.stop().is_some_and(|s| s.reload) {
                tracing::info!("reload: the output was still retrying a batch; its records stay in the journal and the new configuration's output sends them");
            } else {
                tracing::warn!("shutdown deadline passed with the output still failing; undelivered records stay in the journal for the next start");
            }
            return false;
        }
        let buffer = Arc::try_unwrap(batch.data).ok();
        let acked = policy.settled(ready.id, outcome.throttled, buffer);
        self.journal.ack(acked);
        true
    }

    /// Sends a batch until it is settled (delivered or dead-lettered), or the
    /// deadline stops it.
    fn settle(&mut self, batch: &Batch, batch_id: u64, seed: &mut u64) -> Settling {
        let mut backoff = BACKOFF_START;
        let mut attempt = 0u32;
        let mut throttled = false;
        let stopped = |throttled| Settling {
            settled: false,
            throttled,
        };
        loop {
            let outcome =
                self.output
                    .send(&batch.data, batch.table, batch_id, batch.records, attempt);
            let m = &*self.metrics;
            match outcome {
                SendOutcome::Delivered => {
                    Metrics::add(&m.records_sent, u64::from(batch.records));
                    Metrics::add(&m.batches_sent, 1);
                    return Settling {
                        settled: true,
                        throttled,
                    };
                }
                SendOutcome::Reject(reason) => {
                    tracing::error!(batch_id, records = batch.records, %reason, "output rejected a batch; writing it to the dead-letter file");
                    m.output_failed(self.output.name(), "reject", &reason);
                    // The batch stays journaled until its dead letters are on disk.
                    let mut wait = BACKOFF_START;
                    while let Err(e) =
                        self.dead_letters
                            .write(batch.table, batch_id, &reason, &batch.data)
                    {
                        tracing::error!(path = %self.dead_letters.path().display(), error = %e, delay_ms = wait.as_millis() as u64, "cannot write the dead-letter file; the batch stays in the journal and the write is retried");
                        if !self.wait(wait) {
                            return stopped(throttled);
                        }
                        wait = (wait * 2).min(BACKOFF_MAX);
                    }
                    Metrics::add(&m.records_dead_lettered, u64::from(batch.records));
                    return Settling {
                        settled: true,
                        throttled,
                    };
                }
                SendOutcome::Retry {
                    after,
                    reason,
                    panicked,
                } => {
                    if panicked {
                        Metrics::add(&m.plugin_panics, 1);
                    }
                    Metrics::add(&m.batches_retried, 1);
                    throttled |= after.is_some();
                    let delay = match after {
                        Some(after) => after.min(Duration::from_secs(3600)),
                        None => next_delay(&mut backoff, seed),
                    };
                    tracing::warn!(batch_id, attempt, delay_ms = delay.as_millis() as u64, %reason, "output did not take the batch; retrying");
                    m.output_failed(self.output.name(), "retry", &reason);
                    attempt = attempt.saturating_add(1);
                    if !self.wait(delay) {
                        return stopped(throttled);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_a_quarter() {
        let mut seed = 12345u64;
        for _ in 0..1000 {
            let d = jitter(Duration::from_millis(1000), &mut seed);
            assert!(
                d >= Duration::from_millis(750) && d < Duration::from_millis(1250),
                "{d:?}"
            );
        }
    }

    #[test]
    fn retry_delays_never_pass_the_cap_jitter_included() {
        let mut seed = 987_654_321u64;
        let mut longest = Duration::ZERO;
        for _ in 0..200 {
            let mut backoff = BACKOFF_START;
            for _ in 0..20 {
                let d = next_delay(&mut backoff, &mut seed);
                assert!(d <= BACKOFF_MAX, "{d:?}");
                longest = longest.max(d);
            }
        }
        assert!(longest > Duration::from_secs(29), "{longest:?}");
    }
}
