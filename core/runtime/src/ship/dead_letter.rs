//! Batches the output rejected for good, kept as JSON lines with the reason, so an
//! operator can see them and send them again once the cause is fixed.

use crate::metrics::Metrics;
use crate::plugin_host::{DeadLetter, DeadLetterSink};
use crate::state_dir::{open_private, private_dir};
use crate::table::Table;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// Writes `s` as a JSON string.
fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail, and a &str is always valid JSON text.
    let _ = serde_json::to_writer(out, s);
}

#[derive(Clone, Debug)]
pub(crate) struct DeadLetters {
    dir: PathBuf,
}

impl DeadLetters {
    /// The callback an output uses to dead-letter part of a batch (ABI 1.1): writes
    /// the records with the batch they were offered in and counts them.
    pub(crate) fn sink(&self, metrics: Arc<Metrics>) -> DeadLetterSink {
        let letters = self.clone();
        Arc::new(move |letter: DeadLetter<'_>| {
            let DeadLetter {
                table,
                batch_id,
                records,
                reason,
                data,
            } = letter;
            tracing::error!(batch_id, records, %reason, "output refused records for good; writing them to the dead-letter file");
            if let Err(e) = letters.write(table, batch_id, reason, data) {
                tracing::error!(path = %letters.path().display(), records, error = %e, "could not write records the output refused for good to the dead-letter file; they are lost");
            }
            Metrics::add(&metrics.records_dead_lettered, u64::from(records));
        })
    }

    /// Dead letters go to `dir/dead-letter.jsonl`.
    pub(crate) fn new(dir: PathBuf) -> DeadLetters {
        DeadLetters { dir }
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.dir.join("dead-letter.jsonl")
    }

    /// Appends every record of a rejected batch with the reason.
    pub(crate) fn write(
        &self,
        table: Table,
        batch_id: u64,
        reason: &str,
        data: &[u8],
    ) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(data.len() + 256);
        let time = jiff::Timestamp::now().to_string();
        let table = table.name();
        for record in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            out.extend_from_slice(b"{\"time\":");
            write_str(&mut out, &time);
            out.extend_from_slice(b",\"table\":");
            write_str(&mut out, table);
            let _ = write!(out, ",\"batch_id\":{batch_id},\"reason\":");
            write_str(&mut out, reason);
            out.extend_from_slice(b",\"record\":");
            out.extend_from_slice(record);
            out.extend_from_slice(b"}\n");
        }
        self.append(&out)
    }

    /// Appends whole lines as they are (the directory 0700, the file 0600), synced.
    pub(crate) fn append(&self, lines: &[u8]) -> std::io::Result<()> {
        private_dir(&self.dir)?;
        let mut f = open_private(&self.path(), OpenOptions::new().create(true).append(true))?;
        f.write_all(lines)?;
        f.sync_data()
    }
}
