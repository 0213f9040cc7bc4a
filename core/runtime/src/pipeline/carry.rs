//! Records read but not yet journaled when a reload replaces the pipeline.
//!
//! A worker holds a TCP batch while journal writes fail (the connection stops
//! reading meanwhile: back-pressure). When a reload stops that worker, the
//! records it holds were already taken from the socket and the sender cannot
//! send them again, so they are handed to the next pipeline instead of being
//! refused: its first worker journals them (waiting, like any TCP batch, until
//! writes work) before any worker takes a new batch, so a connection's records
//! stay in order. Only a shutdown while the disk still fails refuses them
//! (counted).

use crate::journal::Chunk;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Shared by the pipelines of one agent, one after the other.
#[derive(Default)]
pub(crate) struct Carry {
    state: Mutex<CarryState>,
    changed: Condvar,
}

#[derive(Default)]
struct CarryState {
    chunks: Vec<Chunk>,
    /// The pipeline is stopping for a reload: held records are handed over.
    reloading: bool,
    /// A worker of the new pipeline is journaling handed-over records.
    draining: bool,
}

impl Carry {
    fn lock(&self) -> MutexGuard<'_, CarryState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Says whether the pipeline now stopping is being replaced by a reload.
    pub(crate) fn set_reloading(&self, on: bool) {
        self.lock().reloading = on;
    }

    /// Takes `chunks` for the next pipeline when a reload stops this one;
    /// gives them back when the agent is shutting down (the caller counts them).
    pub(crate) fn hand_over(&self, chunks: Vec<Chunk>) -> Result<u64, Vec<Chunk>> {
        let mut st = self.lock();
        if !st.reloading {
            return Err(chunks);
        }
        let records = chunks.iter().map(|c| u64::from(c.records)).sum();
        st.chunks.extend(chunks);
        Ok(records)
    }

    /// For a starting worker: the handed-over records it must journal before
    /// anything else (then call [`Carry::drained`]), or `None` when there are
    /// none or another worker has them (it then waits until they are journaled).
    pub(crate) fn take(&self) -> Option<Vec<Chunk>> {
        let mut st = self.lock();
        if st.chunks.is_empty() {
            while st.draining {
                crate::health::beat();
                st = self
                    .changed
                    .wait_timeout(st, Duration::from_millis(100))
                    .map_or_else(|e| e.into_inner().0, |r| r.0);
            }
            return None;
        }
        st.draining = true;
        Some(std::mem::take(&mut st.chunks))
    }

    /// The records from [`Carry::take`] are journaled (or handed over again).
    pub(crate) fn drained(&self) {
        self.lock().draining = false;
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(records: u32) -> Chunk {
        Chunk {
            table: crate::table::Table::Syslog,
            records,
            data: vec![b'x'; 10],
        }
    }

    #[test]
    fn records_are_handed_over_only_during_a_reload() {
        let carry = Carry::default();
        let back = carry.hand_over(vec![chunk(3)]);
        assert!(
            matches!(back, Err(ref c) if c.len() == 1),
            "a shutdown keeps them"
        );
        carry.set_reloading(true);
        assert_eq!(carry.hand_over(vec![chunk(3), chunk(2)]).ok(), Some(5));
        carry.set_reloading(false);
        let taken = carry.take().unwrap();
        assert_eq!(taken.iter().map(|c| c.records).sum::<u32>(), 5);
        // Another worker starting meanwhile waits until they are journaled.
        let carry = std::sync::Arc::new(carry);
        let other = std::sync::Arc::clone(&carry);
        let waiter = std::thread::spawn(move || other.take().is_none());
        std::thread::sleep(Duration::from_millis(150));
        assert!(!waiter.is_finished(), "waits while the first worker drains");
        carry.drained();
        assert!(waiter.join().unwrap());
    }
}
