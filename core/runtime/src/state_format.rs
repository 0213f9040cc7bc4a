//! The state directory's format marker: `state_dir/format`, which says which
//! on-disk format the journal and dead letters are in and which syslane wrote it.
//!
//! Every build checks it before it takes the state directory: one that finds a
//! newer format refuses to start, names both versions and leaves every file as it
//! is (an older agent reading a newer journal would take its entries for damage
//! and cut them off); one that finds an older format, or none (0.1.0 wrote no
//! marker), reads it as it is and writes its own marker. Bump [`FORMAT`] whenever
//! a build writes something an older one cannot read, and the package version
//! with it.
//!
//! The file is small text, replaced atomically:
//!
//! ```text
//! format = 2
//! written_by = "0.2.0"
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// This build's on-disk format.
///
/// - 1: 0.1.0 (no marker): journal entries checksummed without their segment's number.
/// - 2: 0.2.0: entries checksummed with their segment's number, segment files recycled.
///   Format 1 journals are still read.
pub(crate) const FORMAT: u32 = 2;

/// The oldest format this build reads.
const OLDEST_READ: u32 = 1;

/// The marker's name in `state_dir`.
pub(crate) const FILE: &str = "format";

/// What a state directory's marker says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marker {
    pub format: u32,
    /// The version of syslane that wrote it, as written.
    pub written_by: String,
}

/// What this build may do with a state directory in format `found`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// This build's own format.
    Current,
    /// An older format this build reads; the marker is rewritten.
    Upgrade,
    /// A newer format (or one too old): refuse, touch nothing.
    Unreadable,
}

/// The rule, as a function of the format on disk (`None`: no marker, 0.1.0 or a
/// new directory) and the build's own.
pub(crate) fn judge(found: Option<u32>, this: u32, oldest_read: u32) -> Verdict {
    match found {
        None => Verdict::Upgrade,
        Some(f) if f == this => Verdict::Current,
        Some(f) if f < this && f >= oldest_read => Verdict::Upgrade,
        Some(_) => Verdict::Unreadable,
    }
}

fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

/// Parses the marker's text; `None` when it is not one.
fn parse(text: &str) -> Option<Marker> {
    let mut format = None;
    let mut written_by = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "format" => format = value.parse::<u32>().ok(),
            "written_by" => written_by = Some(value.trim_matches('"').to_string()),
            _ => {}
        }
    }
    Some(Marker {
        format: format?,
        written_by: written_by.unwrap_or_else(|| "an unknown version".into()),
    })
}

/// Reads `state_dir`'s marker without changing anything: `Ok(None)` when there is
/// none (or no directory).
pub(crate) fn read(state_dir: &Path) -> Result<Option<Marker>, String> {
    let file = path(state_dir);
    match std::fs::read_to_string(&file) {
        Ok(text) => parse(&text).map(Some).ok_or_else(|| {
            format!(
                "{} is not a syslane format marker (it should hold `format = N`); it says which journal format state_dir is in: restore it, or move state_dir aside and start with an empty one",
                file.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!(
            "cannot read {}: {e}; the agent's user must be able to read state_dir",
            file.display()
        )),
    }
}

/// Whether this build may use `state_dir`, changing nothing; the refusal names
/// the directory and both versions. Returns the marker found.
pub(crate) fn check(state_dir: &Path) -> Result<Option<Marker>, String> {
    let marker = read(state_dir)?;
    let found = marker.as_ref().map(|m| m.format);
    if judge(found, FORMAT, OLDEST_READ) == Verdict::Unreadable {
        let m = marker.as_ref().map_or_else(
            || "an unknown version".to_string(),
            |m| m.written_by.clone(),
        );
        let format = found.unwrap_or_default();
        let why = if format > FORMAT {
            "a newer one"
        } else {
            "one too old for it"
        };
        return Err(format!(
            "state_dir {} holds journal format {format}, written by syslane {m}; this is syslane {} (format {FORMAT}), which cannot read {why}. Nothing was changed: run syslane {m} or newer on it, or move the directory aside to start this version with an empty journal (what it holds is kept there)",
            state_dir.display(),
            crate::VERSION,
        ));
    }
    Ok(marker)
}

/// Writes this build's marker (atomically) unless it is there already; logs an
/// upgrade from an older format. Call with the state directory locked.
pub(crate) fn mark(state_dir: &Path, found: Option<&Marker>) -> Result<(), String> {
    if let Some(m) = found {
        if m.format == FORMAT && m.written_by == crate::VERSION {
            return Ok(());
        }
        if m.format < FORMAT {
            tracing::info!(
                from = m.format,
                written_by = %m.written_by,
                to = FORMAT,
                "state_dir: the journal's format is older; it is read as it is and the marker updated"
            );
        }
    }
    let file = path(state_dir);
    let tmp = state_dir.join(format!(".{FILE}.tmp"));
    let text = format!("format = {FORMAT}\nwritten_by = \"{}\"\n", crate::VERSION);
    let written = (|| {
        let mut f = crate::state_dir::open_private(
            &tmp,
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true),
        )?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &file)?;
        std::fs::File::open(state_dir)?.sync_all()
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!(
            "cannot write {}: {e}; the agent's user must be able to write state_dir",
            file.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_reads_older_and_refuses_newer() {
        assert_eq!(judge(None, 2, 1), Verdict::Upgrade);
        assert_eq!(judge(Some(2), 2, 1), Verdict::Current);
        assert_eq!(judge(Some(1), 2, 1), Verdict::Upgrade);
        assert_eq!(judge(Some(3), 2, 1), Verdict::Unreadable);
        assert_eq!(judge(Some(0), 2, 1), Verdict::Unreadable);
        // A downgrade across a format change: the older build meets the newer marker.
        assert_eq!(judge(Some(2), 1, 1), Verdict::Unreadable);
    }

    #[test]
    fn a_newer_marker_is_refused_with_both_versions_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let text = "format = 99\nwritten_by = \"9.9.9\"\n";
        std::fs::write(dir.path().join(FILE), text).unwrap();
        let err = check(dir.path()).unwrap_err();
        assert!(
            err.contains("format 99")
                && err.contains("9.9.9")
                && err.contains(crate::VERSION)
                && err.contains(&format!("format {FORMAT}")),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(FILE)).unwrap(),
            text
        );
    }

    #[test]
    fn no_marker_is_upgraded_and_the_marker_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let found = check(dir.path()).unwrap();
        assert_eq!(found, None);
        mark(dir.path(), found.as_ref()).unwrap();
        let m = check(dir.path()).unwrap().unwrap();
        assert_eq!(m.format, FORMAT);
        assert_eq!(m.written_by, crate::VERSION);
        assert!(!dir.path().join(format!(".{FILE}.tmp")).exists());
    }

    #[test]
    fn a_damaged_marker_is_an_error_that_says_what_it_is() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "garbage").unwrap();
        let err = check(dir.path()).unwrap_err();
        assert!(err.contains("format = N"), "{err}");
    }
}
