//! Carries a plan out: writes syslane's files and the edited old ones, each
//! atomically, keeping the first version of every file it changes as
//! `<file>.syslane-migrate-backup` (never overwritten, so running again keeps the
//! original), and says how to undo it. A file that already holds what the plan
//! wants is left alone: a second run changes nothing.

use super::planner::Plan;
use super::Root;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub(super) const BACKUP_SUFFIX: &str = ".syslane-migrate-backup";

/// What was done, and how to undo it.
#[derive(Debug, Default)]
pub(super) struct Applied {
    pub changed: Vec<String>,
    pub undo: Vec<String>,
    pub notes: Vec<String>,
}

fn backup_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(BACKUP_SUFFIX);
    PathBuf::from(name)
}

/// Writes `text` to `path` with `mode`, so that readers see the old file or the
/// new one, whole.
fn write_atomically(path: &Path, text: &[u8], mode: u32) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| format!("could not write in {}: {e}", dir.display()))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    tmp.write_all(text)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| format!("could not write {}: {e}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| format!("could not write {}: {}", path.display(), e.error))?;
    Ok(())
}

/// Copies `path` to its backup unless one exists; returns the undo step.
fn back_up(real: &Path, shown: &Path) -> Result<String, String> {
    let backup = backup_of(real);
    if !backup.exists() {
        std::fs::copy(real, &backup).map_err(|e| {
            format!(
                "could not back up {} to {}: {e}; nothing of it was changed",
                real.display(),
                backup.display()
            )
        })?;
    }
    let shown_backup = backup_of(shown);
    Ok(format!("mv {} {}", shown_backup.display(), shown.display()))
}

/// Makes the service user own the proxy copy, when that user exists and this is
/// the real root (not a `--root` trial).
fn hand_to_service_user(root: &Root, real: &Path, notes: &mut Vec<String>) {
    let user = nix::unistd::User::from_name("syslane").ok().flatten();
    match user {
        Some(u) if root.is_host() => {
            if let Err(e) =
                std::os::unix::fs::chown(real, Some(u.uid.as_raw()), Some(u.gid.as_raw()))
            {
                notes.push(format!(
                    "could not give {} to the syslane user ({e}); run: sudo chown syslane: {}",
                    real.display(),
                    real.display()
                ));
            }
        }
        _ => notes.push(format!(
            "{} must be readable by the agent's user: sudo chown syslane: {}",
            root.strip(real).display(),
            root.strip(real).display()
        )),
    }
}

pub(super) fn apply(root: &Root, plan: &Plan) -> Result<Applied, String> {
    let mut done = Applied::default();
    for file in &plan.files {
        let real = root.path(&file.path.to_string_lossy());
        let current = std::fs::read(&real).ok();
        let same_mode = std::fs::metadata(&real)
            .map(|m| m.permissions().mode() & 0o777 == file.mode)
            .unwrap_or(false);
        if current.as_deref() == Some(file.text.as_bytes()) && same_mode {
            continue;
        }
        match current {
            Some(_) => done.undo.push(back_up(&real, &file.path)?),
            None => done.undo.push(format!("rm {}", file.path.display())),
        }
        write_atomically(&real, file.text.as_bytes(), file.mode)?;
        if file.mode == 0o600 {
            hand_to_service_user(root, &real, &mut done.notes);
        }
        done.changed
            .push(format!("wrote {}: {}", file.path.display(), file.why));
    }
    for edit in &plan.edits {
        let real = root.path(&edit.path.to_string_lossy());
        let mode = std::fs::metadata(&real)
            .map(|m| m.permissions().mode() & 0o777)
            .map_err(|e| format!("{}: {e}", edit.path.display()))?;
        done.undo.push(back_up(&real, &edit.path)?);
        write_atomically(&real, edit.text.as_bytes(), mode)?;
        if !edit.disabled.is_empty() {
            done.changed.push(format!(
                "disabled {} line(s) of {} (each now starts with `{}`)",
                edit.disabled.len(),
                edit.path.display(),
                super::reader::DISABLED.trim_end()
            ));
        }
        if let Some((_, why)) = &edit.appended {
            done.changed
                .push(format!("added to {}: {why}", edit.path.display()));
        }
    }
    done.undo.dedup();
    Ok(done)
}
