//! The pipeline: frames → decoder plugin → filter plugins → JSON lines → journal.
//!
//! Each worker thread owns its own plugin instances (plugins need not be
//! thread-safe), reuses its buffers from batch to batch, and calls each plugin once
//! per batch. Records stay in one arena per batch and are serialized straight into
//! the chunk that goes to the journal.

mod arena;
pub(crate) mod batch;
pub(crate) mod carry;
pub(crate) mod decode;
pub(crate) mod filter;
pub(crate) mod serialize;

use crate::health::Health;
use crate::journal::{Chunk, JournalWriter, Position, WriteFailing};
use crate::listen::FrameBatch;
use crate::metrics::Metrics;
use crate::plugin_host::{CallOutcome, DecoderInstance, FilterInstance};
use crate::table::Table;
use batch::RecordBatch;
use carry::Carry;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use decode::{DecodeScratch, ThisHost};
use filter::FilterScratch;
use serialize::Serializer;
use std::sync::Arc;
use std::time::Duration;
use syslane_abi::{
    SL_RECORD_PARSE_FAILED, SL_RECORD_UNRECOGNISED, SL_TRANSPORT_RELP, SL_TRANSPORT_TCP,
    SL_TRANSPORT_UNIX,
};

/// An idle worker shows it is alive this often.
const IDLE_BEAT: Duration = Duration::from_millis(500);

/// Counts what a decode or filter call answered. Only a panic is counted: a
/// failed call's records are kept (the frames whole as parse failures, the
/// records unfiltered), and so are those of a call that answered a status the ABI
/// does not give decoders and filters.
fn count_outcome(m: &Metrics, outcome: CallOutcome) {
    match outcome {
        CallOutcome::Panicked => Metrics::add(&m.plugin_panics, 1),
        CallOutcome::Done
        | CallOutcome::Failed
        | CallOutcome::NoInstance
        | CallOutcome::Unexpected(_) => {}
    }
}

/// One pipeline worker.
pub(crate) struct Worker {
    /// Its stage name for the watchdog, such as `worker-0`.
    pub name: String,
    /// One decoder per `[[listen]]`, by index.
    pub decoders: Vec<DecoderInstance>,
    /// In config order.
    pub filters: Vec<FilterInstance>,
    pub serializer: Serializer,
    pub journal: JournalWriter,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    /// This host, for records from local senders.
    pub this_host: ThisHost,
    /// Records a replaced pipeline had read but not journaled.
    pub carry: Arc<Carry>,
}

impl Worker {
    /// Processes batches until every sender is gone, then returns. A journal that
    /// cannot be written does not stop it: see [`Worker::store`].
    pub(crate) fn run(mut self, rx: Receiver<FrameBatch>) {
        let _stage = self.health.register(self.name.clone());
        let mut records = RecordBatch::default();
        let mut decode = DecodeScratch::default();
        let mut filter = FilterScratch::default();
        // What the pipeline this one replaced had read goes first, so each
        // connection's records stay in order.
        if let Some(carried) = self.carry.take() {
            let records: u64 = carried.iter().map(|c| u64::from(c.records)).sum();
            tracing::info!(
                records,
                "reload: journaling the TCP records the previous configuration had read"
            );
            let _ = self.journal_all(carried, SL_TRANSPORT_TCP);
            self.carry.drained();
        }
        loop {
            let mut frames = match rx.recv_timeout(IDLE_BEAT) {
                Ok(frames) => frames,
                Err(RecvTimeoutError::Timeout) => {
                    crate::health::beat();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            crate::health::beat();
            records.clear();
            let ack = frames.ack.take();
            let journaled = self.process(
                &frames,
                &mut records,
                &mut decode,
                &mut filter,
                ack.is_some(),
            );
            if let Some(ack) = ack {
                let _ = ack.send(journaled);
            }
        }
    }

    /// Appends a chunk. While journal writes fail, records of a TCP batch are held
    /// until they work again (the connection stops reading meanwhile, so TCP
    /// back-pressure reaches the sender); others are refused at once (RELP answers
    /// 500, UDP is dropped), since their senders cannot be paused.
    fn store(&self, chunk: &Chunk, hold: bool) -> Result<Position, WriteFailing> {
        loop {
            match self.journal.append(chunk) {
                Err(WriteFailing) if hold && self.journal.wait_writable() => continue,
                other => return other,
            }
        }
    }

    /// Journals `chunks` (read from `transport`) in order, holding TCP's while
    /// writes fail; the position after the last, or `Err` when some could not
    /// be journaled: held records are then handed to the next pipeline if a
    /// reload stops this one, and counted as refused otherwise (per transport).
    fn journal_all(&self, chunks: Vec<Chunk>, transport: u32) -> Result<Option<Position>, ()> {
        let hold = transport == SL_TRANSPORT_TCP;
        let mut end = None;
        let mut chunks = chunks.into_iter().filter(|c| c.records > 0);
        while let Some(chunk) = chunks.next() {
            if let Ok(pos) = self.store(&chunk, hold) {
                end = Some(pos);
                continue;
            }
            let rest: Vec<Chunk> = std::iter::once(chunk).chain(chunks).collect();
            let back = match hold {
                true => self.carry.hand_over(rest),
                false => Err(rest),
            };
            match back {
                Ok(records) => {
                    tracing::info!(records, "reload while journal writes fail: the TCP records already read go to the new configuration's pipeline")
                }
                Err(rest) => {
                    let refused: u64 = rest.iter().map(|c| u64::from(c.records)).sum();
                    let m = &self.metrics;
                    let counter = match transport {
                        SL_TRANSPORT_TCP => &m.records_refused_journal_write_tcp,
                        SL_TRANSPORT_RELP => &m.records_refused_journal_write_relp,
                        SL_TRANSPORT_UNIX => &m.records_refused_journal_write_unix,
                        _ => &m.records_refused_journal_write_udp,
                    };
                    Metrics::add(counter, refused);
                    if hold {
                        tracing::error!(records = refused, "stopping while journal writes still fail: TCP records already read could not be journaled (counted in syslane_records_refused_total)");
                    }
                }
            }
            return Err(());
        }
        Ok(end)
    }

    /// Decodes, filters and journals a batch; `false` when some of its records
    /// could not be journaled (they are counted as refused).
    fn process(
        &mut self,
        frames: &FrameBatch,
        records: &mut RecordBatch,
        decode: &mut DecodeScratch,
        filter: &mut FilterScratch,
        durable: bool,
    ) -> bool {
        let m = &*self.metrics;
        let Some(decoder) = self.decoders.get_mut(frames.listener) else {
            return true;
        };
        let report = decode::decode(decoder, frames, records, decode, &self.this_host);
        count_outcome(m, report.outcome);
        Metrics::add(&m.decoder_errors, report.malformed);
        Metrics::add(&m.records_decoded, records.recs.len() as u64);
        let (mut failures, mut unrecognised) = (0, 0);
        for r in &records.recs {
            failures += u64::from(r.flags & SL_RECORD_PARSE_FAILED != 0);
            unrecognised += u64::from(r.flags & SL_RECORD_UNRECOGNISED != 0);
        }
        Metrics::add(&m.parse_failures, failures);
        Metrics::add(&m.records_unrecognised, unrecognised);

        for f in &mut self.filters {
            let report = filter::filter(f, records, filter);
            count_outcome(m, report.outcome);
            Metrics::add(&m.records_filtered_out, report.dropped);
        }

        let mut syslog = Chunk {
            table: Table::Syslog,
            records: 0,
            data: Vec::with_capacity(records.arena.len() * 2 + records.recs.len() * 256),
        };
        let mut security = Chunk {
            table: Table::Security,
            records: 0,
            data: Vec::new(),
        };
        let mut out_of_range = 0;
        for (_, r) in records.live() {
            out_of_range += u64::from(serialize::time_generated(r).1);
            let chunk = match r.table {
                Table::Syslog => &mut syslog,
                Table::Security => &mut security,
            };
            self.serializer.write_record(records, r, &mut chunk.data);
            chunk.records += 1;
        }
        Metrics::add(&m.time_out_of_range, out_of_range);
        let end = match self.journal_all(vec![syslog, security], frames.transport) {
            Ok(end) => end,
            Err(()) => return false,
        };
        // A batch the sender waits on (RELP) is answered once it is on disk; others
        // go on while the committer syncs.
        match end {
            Some(end) if durable => self.journal.wait_durable(end).is_ok(),
            _ => true,
        }
    }
}
