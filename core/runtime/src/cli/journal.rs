//! `syslane journal`: what the journal holds that the output has not
//! acknowledged, counted from its files without changing them, with the agent
//! running or stopped (the .deb's removal counts it so that a purge can say how
//! many records it deletes).

use crate::config::Config;
use crate::journal::{census, Census};
use crate::state_dir::human_bytes;
use std::fmt::Write as _;
use std::path::Path;

/// The report, or with `count` only the number of records.
pub(crate) fn show(path: &Path, count: bool) -> Result<String, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    // A journal in a newer format would be misread: refuse it as `run` does.
    crate::state_format::check(&config.state_dir)?;
    let dir = config.state_dir.join("journal");
    let found = census(&dir).map_err(|e| {
        format!(
            "cannot read the journal in {}: {e}; run this as root or as the agent's user",
            dir.display()
        )
    })?;
    if count {
        return Ok(format!("{}\n", found.total()));
    }
    Ok(render(&dir, &found))
}

fn render(dir: &Path, c: &Census) -> String {
    let mut out = format!("journal {}: ", dir.display());
    if c.segments == 0 {
        out.push_str("empty: every record it took was delivered (or dead-lettered)\n");
        return out;
    }
    let tables: Vec<String> = c
        .records
        .iter()
        .map(|(t, n)| format!("{} {n}", t.name()))
        .collect();
    let _ = write!(
        out,
        "{} record(s) not yet acknowledged by the output",
        c.total()
    );
    if !tables.is_empty() {
        let _ = write!(out, " ({})", tables.join(", "));
    }
    let _ = writeln!(
        out,
        ", in {} segment file(s), {}",
        c.segments,
        human_bytes(c.bytes)
    );
    if c.damaged_bytes > 0 {
        let _ = writeln!(
            out,
            "  {} of it is damaged (not intact entries): the agent skips and counts it when it reads it",
            human_bytes(c.damaged_bytes)
        );
    }
    out
}
