//! `syslane dead-letter list|replay`: what the output rejected for good, and
//! sending it again once the cause is fixed.
//!
//! Replay holds the state directory's lock (an agent running on it is asked to
//! stop first) and takes the file aside (`dead-letter.replaying`), recording in
//! `dead-letter.replaying.done` how many lines are settled after each batch; a
//! replay that stops half-way is resumed by the next one from there. Records the
//! output takes are gone; records it rejects again, those not tried because it
//! asked to retry later, and lines that are not dead letters at all are put back
//! into the dead-letter file. `list` shows everything waiting, an interrupted
//! replay included, and names unreadable lines by number.

use crate::agent::components::Components;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::plugin_host::SendOutcome;
use crate::ship::DeadLetters;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Deserialize)]
struct Letter {
    time: String,
    table: String,
    batch_id: u64,
    reason: String,
    record: Box<RawValue>,
}

/// One line of a dead-letter file: a letter, or why it is not one.
struct Line {
    number: usize,
    raw: Vec<u8>,
    letter: Result<Letter, String>,
}

fn read_lines(file: &Path) -> std::io::Result<Vec<Line>> {
    let bytes = std::fs::read(file)?;
    Ok(bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
        .map(|(i, raw)| {
            let letter = match std::str::from_utf8(raw) {
                Err(e) => Err(format!("not UTF-8 (at byte {})", e.valid_up_to())),
                Ok(text) => {
                    serde_json::from_str(text).map_err(|e| format!("not a dead letter ({e})"))
                }
            };
            Line {
                number: i + 1,
                raw: raw.to_vec(),
                letter,
            }
        })
        .collect())
}

fn dead_letters(config: &Config) -> DeadLetters {
    DeadLetters::new(config.state_dir.join("dead-letter"))
}

fn replaying(dl: &DeadLetters) -> PathBuf {
    dl.path().with_extension("replaying")
}

fn progress_file(dl: &DeadLetters) -> PathBuf {
    dl.path().with_extension("replaying.done")
}

/// Lines of an interrupted replay already settled.
fn progress(dl: &DeadLetters) -> usize {
    std::fs::read_to_string(progress_file(dl))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// One file's summary: a line per rejected batch, then unreadable lines.
fn summarize(out: &mut String, file: &Path, lines: &[Line]) -> usize {
    let mut batches: BTreeMap<(String, u64, String), (usize, String)> = BTreeMap::new();
    let mut letters = 0;
    for l in lines {
        if let Ok(l) = &l.letter {
            letters += 1;
            let e = batches
                .entry((l.time.clone(), l.batch_id, l.table.clone()))
                .or_insert((0, l.reason.clone()));
            e.0 += 1;
        }
    }
    for ((time, batch_id, table), (count, reason)) in &batches {
        let _ = writeln!(
            out,
            "{time}  {table:<17}  batch {batch_id:<6}  {count:>6} records  {reason}"
        );
    }
    for l in lines {
        if let Err(why) = &l.letter {
            let _ = writeln!(out, "{}: line {}: {why}", file.display(), l.number);
        }
    }
    let unreadable = lines.len() - letters;
    let _ = write!(
        out,
        "{letters} records in {} ({} batches)",
        file.display(),
        batches.len()
    );
    if unreadable > 0 {
        let _ = write!(out, "; {unreadable} unreadable lines, kept as they are");
    }
    out.push('\n');
    letters
}

/// A summary of everything waiting: one line per rejected batch with its reason,
/// an interrupted replay, and unreadable lines by number.
pub(super) fn list(path: &Path) -> Result<String, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let dl = dead_letters(&config);
    let mut out = String::new();
    let mut found = false;
    let taken = replaying(&dl);
    match read_lines(&taken) {
        Ok(lines) => {
            found = true;
            let done = progress(&dl).min(lines.len());
            let _ = writeln!(
                out,
                "an interrupted replay waits in {} ({done} of its {} lines settled); `syslane dead-letter replay` resumes it:",
                taken.display(),
                lines.len()
            );
            summarize(&mut out, &taken, &lines[done..]);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read {}: {e}", taken.display())),
    }
    let file = dl.path();
    match read_lines(&file) {
        Ok(lines) => {
            found = true;
            summarize(&mut out, &file, &lines);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    }
    if !found {
        let _ = writeln!(out, "no dead letters ({} does not exist)", file.display());
    }
    Ok(out)
}

/// Offers every dead letter to the configured output again, resuming an
/// interrupted replay first.
pub(super) fn replay(path: &Path) -> Result<String, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let _lock = crate::state_dir::lock(
        &config.state_dir,
        "Stop it first (systemctl stop syslane), replay, then start it again.",
    )
    .map_err(|e| format!("{}: {e}", config.file.display()))?;
    let dl = dead_letters(&config);
    let file = dl.path();
    let taken = replaying(&dl);
    let resumed = taken.exists();
    if !resumed && !file.exists() {
        return Ok(format!(
            "no dead letters ({} does not exist)\n",
            file.display()
        ));
    }
    // The output first (created as `run` creates it, with every other instance
    // of the configuration): a configuration it refuses leaves the files as they
    // are. Records it dead-letters itself within a batch go back to the file.
    let mut output = Components::instantiate(&config, &Arc::new(Metrics::default()))?.output;
    let batch_max_bytes =
        crate::ship::batch_bytes(config.pipeline.batch_max_bytes, &output.preferences());
    if !resumed {
        std::fs::rename(&file, &taken)
            .map_err(|e| format!("cannot take {} aside: {e}", file.display()))?;
        let _ = std::fs::remove_file(progress_file(&dl));
    }
    let lines = read_lines(&taken).map_err(|e| format!("{}: {e}", taken.display()))?;
    let start = if resumed {
        progress(&dl).min(lines.len())
    } else {
        0
    };
    let mut count = Counts::default();
    let mut i = start;
    while i < lines.len() {
        let Ok(first) = &lines[i].letter else {
            // Not a dead letter: back into the file, as it is, for the operator.
            let mut raw = lines[i].raw.clone();
            raw.push(b'\n');
            dl.append(&raw)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            count.unreadable.push(lines[i].number);
            i += 1;
            save_progress(&dl, i)?;
            continue;
        };
        // A batch: consecutive letters of one table, within batch_max_bytes.
        let mut j = i;
        let mut data = Vec::new();
        let mut batch: Vec<&Letter> = Vec::new();
        while let Some(Ok(l)) = lines.get(j).map(|l| l.letter.as_ref()) {
            if l.table != first.table
                || (j > i && data.len() + l.record.get().len() >= batch_max_bytes)
            {
                break;
            }
            data.extend_from_slice(l.record.get().as_bytes());
            data.push(b'\n');
            batch.push(l);
            j += 1;
        }
        if count.retry_later {
            count.later += batch.len();
            rewrite(&dl, &batch, None)?;
        } else {
            let outcome = output.send(
                &Arc::new(data),
                crate::table::by_name(&first.table),
                first.batch_id,
                batch.len() as u32,
                0,
            );
            match outcome {
                SendOutcome::Delivered => count.delivered += batch.len(),
                SendOutcome::Reject(reason) => {
                    count.rejected += batch.len();
                    rewrite(&dl, &batch, Some(&reason))?;
                }
                SendOutcome::Retry { .. } => {
                    count.retry_later = true;
                    count.later += batch.len();
                    rewrite(&dl, &batch, None)?;
                }
            }
        }
        i = j;
        save_progress(&dl, i)?;
    }
    std::fs::remove_file(&taken).map_err(|e| format!("cannot remove {}: {e}", taken.display()))?;
    let _ = std::fs::remove_file(progress_file(&dl));
    let mut text = String::new();
    if resumed {
        let _ = writeln!(
            text,
            "resumed an interrupted replay at line {} of {}",
            start + 1,
            taken.display()
        );
    }
    let _ = writeln!(
        text,
        "replayed {} dead letters: {} delivered, {} rejected again, {} kept for later (the output asked to retry)",
        count.delivered + count.rejected + count.later,
        count.delivered,
        count.rejected,
        count.later
    );
    if !count.unreadable.is_empty() {
        let numbers: Vec<String> = count.unreadable.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            text,
            "{} unreadable lines (lines {}) were put back into {} as they were: fix or delete them",
            numbers.len(),
            numbers.join(", "),
            file.display()
        );
    }
    if resumed && file.exists() {
        let _ = writeln!(
            text,
            "{} holds more dead letters: run `syslane dead-letter replay` again for them",
            file.display()
        );
    }
    Ok(text)
}

#[derive(Default)]
struct Counts {
    delivered: usize,
    rejected: usize,
    later: usize,
    retry_later: bool,
    unreadable: Vec<usize>,
}

/// Records how many lines of the replayed file are settled.
fn save_progress(dl: &DeadLetters, lines: usize) -> Result<(), String> {
    let path = progress_file(dl);
    let tmp = path.with_extension("tmp");
    let written = crate::state_dir::open_private(
        &tmp,
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true),
    )
    .and_then(|mut f| {
        writeln!(f, "{lines}")?;
        f.sync_data()
    })
    .and_then(|()| std::fs::rename(&tmp, &path));
    written.map_err(|e| {
        format!(
            "cannot record the replay's progress in {}: {e}",
            path.display()
        )
    })
}

/// Puts letters back into the dead-letter file, with a new reason if given.
fn rewrite(dl: &DeadLetters, batch: &[&Letter], reason: Option<&str>) -> Result<(), String> {
    let mut data = Vec::new();
    for l in batch {
        data.extend_from_slice(l.record.get().as_bytes());
        data.push(b'\n');
    }
    dl.write(
        crate::table::by_name(&batch[0].table),
        batch[0].batch_id,
        reason.unwrap_or(&batch[0].reason),
        &data,
    )
    .map_err(|e| format!("cannot write {}: {e}", dl.path().display()))
}
