//! `syslane dead-letter list|replay`: what the output rejected for good, and
//! sending it again once the cause is fixed.
//!
//! Replay takes the file aside first (a rename), so an agent that keeps running
//! and rejecting writes a new file instead of racing with the replay. Records the
//! output takes are gone; records it rejects again, and those not tried because it
//! asked to retry later, are appended back with their reason.

use crate::config::Config;
use crate::plugin_host::{HostInfo, PluginHost, PluginInstance};
use crate::ship::DeadLetters;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use syslane_abi::{SL_KIND_OUTPUT, SL_OK, SL_REJECT, SL_TABLE_SECURITY, SL_TABLE_SYSLOG};

#[derive(Deserialize)]
struct Letter {
    time: String,
    table: String,
    batch_id: u64,
    reason: String,
    record: Box<RawValue>,
}

fn letters(text: &str, file: &Path) -> Result<Vec<Letter>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                format!(
                    "{}: line {}: not a dead letter ({e})",
                    file.display(),
                    i + 1
                )
            })
        })
        .collect()
}

fn dead_letters(config: &Config) -> DeadLetters {
    DeadLetters::new(config.state_dir.join("dead-letter"))
}

/// A summary: one line per rejected batch, with its reason.
pub fn list(path: &Path) -> Result<String, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let file = dead_letters(&config).path();
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(format!(
            "no dead letters ({} does not exist)\n",
            file.display()
        ));
    };
    let letters = letters(&text, &file)?;
    let mut batches: BTreeMap<(String, u64, String), (usize, String)> = BTreeMap::new();
    for l in &letters {
        let e = batches
            .entry((l.time.clone(), l.batch_id, l.table.clone()))
            .or_insert((0, l.reason.clone()));
        e.0 += 1;
    }
    let mut out = String::new();
    for ((time, batch_id, table), (count, reason)) in &batches {
        let _ = writeln!(
            out,
            "{time}  {table:<17}  batch {batch_id:<6}  {count:>6} records  {reason}"
        );
    }
    let _ = writeln!(
        out,
        "{} records in {} ({} batches)",
        letters.len(),
        file.display(),
        batches.len()
    );
    Ok(out)
}

/// Offers every dead letter to the configured output again.
pub fn replay(path: &Path) -> Result<String, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let dl = dead_letters(&config);
    let file = dl.path();
    let taken = file.with_extension("replaying");
    if !taken.exists() {
        if !file.exists() {
            return Ok(format!(
                "no dead letters ({} does not exist)\n",
                file.display()
            ));
        }
        std::fs::rename(&file, &taken)
            .map_err(|e| format!("cannot take {} aside: {e}", file.display()))?;
    }
    let text = std::fs::read_to_string(&taken).map_err(|e| format!("{}: {e}", taken.display()))?;
    let letters = letters(&text, &taken)?;

    let host = PluginHost::new(&config.plugin_dir)
        .map_err(|e| format!("{}: plugin_dir: {e}", config.file.display()))?;
    let plugin = host
        .load(&config.output.plugin, SL_KIND_OUTPUT)
        .map_err(|e| e.to_string())?;
    let info = Arc::new(HostInfo {
        host_name: config
            .hostname
            .clone()
            .unwrap_or_else(crate::system::host_name),
        config_dir: config.config_dir.display().to_string(),
        state_dir: config.state_dir.display().to_string(),
    });
    let again = dl.clone();
    let sink: crate::plugin_host::DeadLetterSink =
        Arc::new(move |table, _records, reason: &str, data: &[u8]| {
            again.write(table, 0, reason, data);
        });
    let mut output =
        PluginInstance::create_with(plugin, &config.output.options_json, info, Some(sink))
            .map_err(|e| e.to_string())?;

    let (mut delivered, mut rejected, mut later) = (0usize, 0usize, 0usize);
    let mut retry_later = false;
    let mut i = 0;
    while i < letters.len() {
        // A batch: consecutive letters of one table, within batch_max_bytes.
        let table = &letters[i].table;
        let mut j = i;
        let mut data = Vec::new();
        while j < letters.len()
            && letters[j].table == *table
            && (j == i || data.len() + letters[j].record.get().len() < config.batch_max_bytes)
        {
            data.extend_from_slice(letters[j].record.get().as_bytes());
            data.push(b'\n');
            j += 1;
        }
        let batch = &letters[i..j];
        if retry_later {
            later += batch.len();
            rewrite(&dl, batch, None);
            i = j;
            continue;
        }
        let code = if table == "CommonSecurityLog" {
            SL_TABLE_SECURITY
        } else {
            SL_TABLE_SYSLOG
        };
        let (status, _, reason) = output.send(
            &Arc::new(data),
            code,
            batch[0].batch_id,
            batch.len() as u32,
            0,
        );
        match status {
            SL_OK => delivered += batch.len(),
            SL_REJECT => {
                rejected += batch.len();
                rewrite(
                    &dl,
                    batch,
                    Some(
                        reason
                            .as_deref()
                            .unwrap_or("rejected again without a reason"),
                    ),
                );
            }
            _ => {
                retry_later = true;
                later += batch.len();
                rewrite(&dl, batch, None);
            }
        }
        i = j;
    }
    std::fs::remove_file(&taken).map_err(|e| format!("cannot remove {}: {e}", taken.display()))?;
    Ok(format!(
        "replayed {} dead letters: {delivered} delivered, {rejected} rejected again, {later} kept for later (the output asked to retry)\n",
        letters.len()
    ))
}

/// Puts letters back into the dead-letter file, with a new reason if given.
fn rewrite(dl: &DeadLetters, batch: &[Letter], reason: Option<&str>) {
    let mut data = Vec::new();
    for l in batch {
        data.extend_from_slice(l.record.get().as_bytes());
        data.push(b'\n');
    }
    let table = if batch[0].table == "CommonSecurityLog" {
        SL_TABLE_SECURITY
    } else {
        SL_TABLE_SYSLOG
    };
    dl.write(
        table,
        batch[0].batch_id,
        reason.unwrap_or(&batch[0].reason),
        &data,
    );
}
