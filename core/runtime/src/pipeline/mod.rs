//! The pipeline: frames → decoder plugin → filter plugins → JSON lines → journal.
//!
//! Each worker thread owns its own plugin instances (plugins need not be
//! thread-safe), reuses its buffers from batch to batch, and calls each plugin once
//! per batch. Records stay in one arena per batch and are serialized straight into
//! the chunk that goes to the journal.

pub mod batch;
pub mod serialize;

use crate::journal::{Chunk, JournalWriter};
use crate::listen::FrameBatch;
use crate::metrics::Metrics;
use crate::plugin_host::records::{self, DecodeScratch, FilterScratch};
use crate::plugin_host::PluginInstance;
use batch::RecordBatch;
use crossbeam_channel::Receiver;
use serialize::Serializer;
use std::sync::Arc;
use syslane_abi::{SL_PANICKED, SL_RECORD_PARSE_FAILED, SL_TABLE_SECURITY};

/// One pipeline worker.
pub struct Worker {
    /// One decoder per `[[listen]]`, by index.
    pub decoders: Vec<PluginInstance>,
    /// In config order.
    pub filters: Vec<PluginInstance>,
    pub serializer: Serializer,
    pub journal: JournalWriter,
    pub metrics: Arc<Metrics>,
    /// This host's address, for records from local senders.
    pub local_ip: String,
}

impl Worker {
    /// Processes batches until every sender is gone, then returns.
    pub fn run(mut self, rx: Receiver<FrameBatch>) {
        let mut records = RecordBatch::default();
        let mut decode = DecodeScratch::default();
        let mut filter = FilterScratch::default();
        for mut frames in rx {
            records.clear();
            let ack = frames.ack.take();
            let journaled = self
                .process(
                    &frames,
                    &mut records,
                    &mut decode,
                    &mut filter,
                    ack.is_some(),
                )
                .is_ok();
            if let Some(ack) = ack {
                let _ = ack.send(journaled);
            }
            if !journaled {
                break;
            }
        }
    }

    fn process(
        &mut self,
        frames: &FrameBatch,
        records: &mut RecordBatch,
        decode: &mut DecodeScratch,
        filter: &mut FilterScratch,
        durable: bool,
    ) -> Result<(), crate::journal::Closed> {
        let m = &*self.metrics;
        let Some(decoder) = self.decoders.get_mut(frames.listener) else {
            return Ok(());
        };
        let report = records::decode(decoder, frames, records, decode, self.local_ip.as_bytes());
        if report.status == SL_PANICKED {
            Metrics::add(&m.plugin_panics, 1);
        }
        Metrics::add(&m.decoder_errors, report.malformed);
        Metrics::add(&m.records_decoded, records.recs.len() as u64);
        let failures = records
            .recs
            .iter()
            .filter(|r| r.flags & SL_RECORD_PARSE_FAILED != 0)
            .count();
        Metrics::add(&m.parse_failures, failures as u64);

        for f in &mut self.filters {
            let report = records::filter(f, records, filter);
            if report.status == SL_PANICKED {
                Metrics::add(&m.plugin_panics, 1);
            }
            Metrics::add(&m.records_filtered_out, report.dropped);
        }

        let mut syslog = Chunk {
            table: syslane_abi::SL_TABLE_SYSLOG,
            records: 0,
            data: Vec::with_capacity(records.arena.len() * 2 + records.recs.len() * 256),
        };
        let mut security = Chunk {
            table: SL_TABLE_SECURITY,
            records: 0,
            data: Vec::new(),
        };
        for (_, r) in records.live() {
            let chunk = if r.table == SL_TABLE_SECURITY {
                &mut security
            } else {
                &mut syslog
            };
            self.serializer.write_record(records, r, &mut chunk.data);
            chunk.records += 1;
        }
        let mut end = None;
        for chunk in [syslog, security] {
            if chunk.records > 0 {
                end = Some(self.journal.append(chunk)?);
            }
        }
        // A batch the sender waits on (RELP) is answered once it is on disk; others
        // go on while the committer syncs.
        match end {
            Some(end) if durable => self.journal.wait_durable(end),
            _ => Ok(()),
        }
    }
}
