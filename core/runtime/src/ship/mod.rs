//! The shipper: reads the journal in order, gathers chunks of one table into
//! batches of at most `batch_max_bytes`, and offers each batch to the output plugin
//! until it is accepted (OK), rejected for good (REJECT: dead-lettered), or the
//! shutdown deadline passes. RETRY waits the plugin's delay, else an exponential
//! backoff with jitter. Only a settled batch is acknowledged to the journal, so what
//! the deadline interrupts stays journaled for the next run.

mod dead_letter;

pub use dead_letter::DeadLetters;

use crate::health::Health;
use crate::journal::{Chunk, JournalReader, Next, Position};
use crate::metrics::Metrics;
use crate::plugin_host::{OutputInstance, SendOutcome};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// When set, the time by which shipping must stop.
pub type Deadline = Arc<Mutex<Option<Instant>>>;

pub struct Shipper {
    pub output: OutputInstance,
    pub journal: JournalReader,
    pub metrics: Arc<Metrics>,
    pub batch_max_bytes: usize,
    pub dead_letters: DeadLetters,
    pub deadline: Deadline,
    pub health: Arc<Health>,
}

struct Batch {
    table: u32,
    records: u32,
    data: Arc<Vec<u8>>,
    /// Journal position after the batch's last chunk.
    end: Position,
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
    fn past_deadline(&self) -> bool {
        self.deadline
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|d| Instant::now() >= d)
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

    /// Gathers chunks of one table that are already journaled into a batch.
    fn gather(
        &mut self,
        (first, mut end): (Chunk, Position),
        carry: &mut Option<(Chunk, Position)>,
    ) -> Batch {
        let table = first.table;
        let mut records = first.records;
        let mut data = first.data;
        while data.len() < self.batch_max_bytes {
            match self.journal.next(Duration::ZERO) {
                Next::Chunk(c, pos)
                    if c.table == table && data.len() + c.data.len() <= self.batch_max_bytes =>
                {
                    records += c.records;
                    data.extend_from_slice(&c.data);
                    end = pos;
                }
                Next::Chunk(c, pos) => {
                    *carry = Some((c, pos));
                    break;
                }
                Next::Idle | Next::Closed => break,
            }
        }
        Batch {
            table,
            records,
            data: Arc::new(data),
            end,
        }
    }

    /// Runs until the journal is closed and empty, or the deadline passes.
    pub fn run(mut self) {
        let _stage = self.health.register("shipper");
        let mut carry: Option<(Chunk, Position)> = None;
        let mut batch_id = 0u64;
        let mut seed = crate::system::now_ns() as u64 | 1;
        loop {
            crate::health::beat();
            let first = match carry.take() {
                Some(c) => c,
                None => match self.journal.next(Duration::from_millis(200)) {
                    Next::Chunk(c, pos) => (c, pos),
                    // Writers still open at the deadline (a worker holding records
                    // while the disk fails, say) cannot keep the agent running.
                    Next::Idle if self.past_deadline() => return,
                    Next::Idle => continue,
                    Next::Closed => break,
                },
            };
            let batch = self.gather(first, &mut carry);
            batch_id += 1;
            if !self.deliver(&batch, batch_id, &mut seed) {
                tracing::warn!("shutdown deadline passed with the output still failing; undelivered records stay in the journal for the next start");
                return;
            }
            self.journal.ack(batch.end);
        }
    }

    /// Offers a batch until it is settled. `false` when the deadline stopped it.
    fn deliver(&mut self, batch: &Batch, batch_id: u64, seed: &mut u64) -> bool {
        let mut backoff = BACKOFF_START;
        let mut attempt = 0u32;
        loop {
            let outcome =
                self.output
                    .send(&batch.data, batch.table, batch_id, batch.records, attempt);
            let m = &*self.metrics;
            match outcome {
                SendOutcome::Delivered => {
                    Metrics::add(&m.records_sent, u64::from(batch.records));
                    Metrics::add(&m.batches_sent, 1);
                    return true;
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
                            return false;
                        }
                        wait = (wait * 2).min(BACKOFF_MAX);
                    }
                    Metrics::add(&m.records_dead_lettered, u64::from(batch.records));
                    return true;
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
                    let delay = match after {
                        Some(after) => after.min(Duration::from_secs(3600)),
                        None => next_delay(&mut backoff, seed),
                    };
                    tracing::warn!(batch_id, attempt, delay_ms = delay.as_millis() as u64, %reason, "output did not take the batch; retrying");
                    m.output_failed(self.output.name(), "retry", &reason);
                    attempt = attempt.saturating_add(1);
                    if !self.wait(delay) {
                        return false;
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
