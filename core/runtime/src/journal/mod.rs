//! The journal: where accepted records wait for the output.
//!
//! Workers append serialized chunks; the shipper reads them in order and
//! acknowledges what the output accepted. This version keeps the journal in a
//! bounded queue in memory: it rides out output outages and back-pressure reaches
//! the senders when it is full, but it does not survive a crash. The on-disk segment
//! journal takes this place behind the same `append` / `next` interface.

use crate::metrics::Metrics;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

/// Records of one table, serialized as JSON lines.
#[derive(Debug)]
pub struct Chunk {
    /// `SL_TABLE_*`.
    pub table: u32,
    pub records: u32,
    pub data: Vec<u8>,
}

/// The shipper has stopped: nothing more can be appended.
#[derive(Debug)]
pub struct Closed;

/// The workers' end.
#[derive(Clone)]
pub struct JournalWriter {
    tx: Sender<Chunk>,
    metrics: Arc<Metrics>,
}

impl JournalWriter {
    /// Appends a chunk, waiting while the journal is full (back-pressure).
    pub fn append(&self, chunk: Chunk) -> Result<(), Closed> {
        let records = u64::from(chunk.records);
        self.tx.send(chunk).map_err(|_| Closed)?;
        Metrics::add(&self.metrics.records_journaled, records);
        Ok(())
    }
}

/// What the shipper gets from [`JournalReader::next`].
#[derive(Debug)]
pub enum Next {
    Chunk(Chunk),
    /// Nothing arrived within the wait.
    Idle,
    /// Every writer is gone and the journal is empty.
    Closed,
}

/// The shipper's end.
pub struct JournalReader {
    rx: Receiver<Chunk>,
}

impl JournalReader {
    pub fn next(&self, wait: Duration) -> Next {
        match self.rx.recv_timeout(wait) {
            Ok(c) => Next::Chunk(c),
            Err(RecvTimeoutError::Timeout) => Next::Idle,
            Err(RecvTimeoutError::Disconnected) => Next::Closed,
        }
    }

    /// A chunk if one is waiting now.
    pub fn try_next(&self) -> Option<Chunk> {
        self.rx.try_recv().ok()
    }
}

/// A journal that holds at most `chunks` chunks in memory.
pub fn in_memory(chunks: usize, metrics: Arc<Metrics>) -> (JournalWriter, JournalReader) {
    let (tx, rx) = bounded(chunks.max(1));
    (JournalWriter { tx, metrics }, JournalReader { rx })
}
