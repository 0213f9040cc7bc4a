//! The state directory: one agent per `state_dir`, and private modes for what the
//! agent keeps there.
//!
//! `run` (and `dead-letter replay`, which also writes there) holds an exclusive
//! `flock` on `state_dir/syslane.lock` for its whole life; a crash or `kill -9`
//! releases it with the process. A second holder is refused at once, with the
//! directory and the PID of the one holding it, written in the lock file.
//!
//! The journal holds authpriv messages: directories are created 0700 and files
//! 0600 whatever the umask (the mode is set again after creation, since a umask
//! can only take bits away, including ones the agent needs).

use std::fs::{File, OpenOptions, Permissions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The lock file's name in `state_dir`.
pub(crate) const LOCK_FILE: &str = "syslane.lock";

/// Creates `dir` (and missing parents) with mode 0700. An existing directory is
/// left as it is (a service manager may have made `state_dir` 0750).
pub(crate) fn create_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, Permissions::from_mode(0o700))
}

/// Creates `dir` if needed and makes it 0700: for the agent's own directories
/// inside `state_dir` (journal, dead letters), which nobody else needs to read.
pub(crate) fn private_dir(dir: &Path) -> std::io::Result<()> {
    create_dir(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode != 0o700 {
        std::fs::set_permissions(dir, Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Opens `path` with `options`, creating it 0600, and makes sure it is 0600.
pub(crate) fn open_private(path: &Path, options: &mut OpenOptions) -> std::io::Result<File> {
    let file = options.mode(0o600).open(path)?;
    let mode = file.metadata()?.permissions().mode() & 0o777;
    if mode != 0o600 {
        file.set_permissions(Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// The user running this process, as `name (uid N)`.
pub(crate) fn this_user() -> String {
    let uid = rustix::process::geteuid().as_raw();
    let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|t| {
        t.lines().find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)? == uid.to_string()).then(|| name.to_string())
        })
    });
    match name {
        Some(n) => format!("{n} (uid {uid})"),
        None => format!("uid {uid}"),
    }
}

/// Why this user cannot write `path` (a directory: create files in it), in words
/// that say what to do; `None` when it can.
fn unwritable(path: &Path, dir: bool, state_dir: &Path) -> Option<String> {
    use rustix::fs::Access;
    let access = if dir {
        Access::WRITE_OK | Access::EXEC_OK
    } else {
        Access::READ_OK | Access::WRITE_OK
    };
    match rustix::fs::access(path, access) {
        Ok(()) => None,
        Err(rustix::io::Errno::ROFS) => Some(format!(
            "{} is on a read-only file system; remount it read-write, or point state_dir at a writable directory (the packaged service needs /var/lib/syslane writable)",
            path.display()
        )),
        Err(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM) => {
            let owner = std::fs::metadata(path)
                .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
                .map_or_else(|_| String::new(), |uid| format!(" (owned by uid {uid})"));
            Some(format!(
                "{}{owner} is not writable by {}, who runs this; give the agent's user the state directory (for the packaged service: chown -R syslane:syslane {}), or run as that user",
                path.display(),
                this_user(),
                state_dir.display()
            ))
        }
        Err(e) => Some(format!("cannot use {}: {e}", path.display())),
    }
}

/// Every file and directory the agent writes in an existing `state_dir` (the
/// directory, its lock and format marker, the journal and dead letters with
/// their files) is writable by this user: the first that is not, named, with why
/// and what to do. Changes nothing.
pub(crate) fn check_writable(state_dir: &Path) -> Result<(), String> {
    if let Some(why) = unwritable(state_dir, true, state_dir) {
        return Err(why);
    }
    for name in [LOCK_FILE, crate::state_format::FILE] {
        let file = state_dir.join(name);
        if file.is_file() {
            if let Some(why) = unwritable(&file, false, state_dir) {
                return Err(why);
            }
        }
    }
    for sub in ["journal", "dead-letter"] {
        let dir = state_dir.join(sub);
        if !dir.is_dir() {
            continue;
        }
        if let Some(why) = unwritable(&dir, true, state_dir) {
            return Err(why);
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for file in files {
            if let Some(why) = unwritable(&file, false, state_dir) {
                return Err(why);
            }
        }
    }
    Ok(())
}

/// The exclusive hold on a state directory; released when dropped or when the
/// process ends, however it ends.
#[derive(Debug)]
pub(crate) struct StateDirLock {
    _file: File,
}

fn holder_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// What an operator reads when `state_dir` is taken.
fn in_use(state_dir: &Path, pid: Option<u32>, advice: &str) -> String {
    let by = match pid {
        Some(pid) => format!("another syslane (pid {pid})"),
        None => "another syslane".to_string(),
    };
    format!(
        "state_dir {} is in use by {by}: one agent per state_dir (its journal, dead letters and stats socket are that agent's). {advice}",
        state_dir.display()
    )
}

/// Takes the exclusive lock on `state_dir` (created 0700 if missing), or says who
/// holds it. `advice` ends the message when it is taken. A state directory in a
/// format this build cannot read is refused before anything in it is touched
/// ([`crate::state_format`]); once locked, this build's format marker is written.
pub(crate) fn lock(state_dir: &Path, advice: &str) -> Result<StateDirLock, String> {
    crate::state_format::check(state_dir)?;
    if state_dir.is_dir() {
        check_writable(state_dir).map_err(|e| format!("state_dir: {e}"))?;
    }
    create_dir(state_dir).map_err(|e| {
        format!(
            "state_dir: cannot create {}: {e}; create it, writable by the agent's user",
            state_dir.display()
        )
    })?;
    let path = state_dir.join(LOCK_FILE);
    let mut file = open_private(
        &path,
        OpenOptions::new().read(true).write(true).create(true),
    )
    .map_err(|e| {
        format!(
            "state_dir: cannot open {}: {e}; the agent's user must be able to write state_dir",
            path.display()
        )
    })?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            return Err(in_use(state_dir, holder_pid(&mut file), advice))
        }
        Err(e) => return Err(format!("state_dir: cannot lock {}: {e}", path.display())),
    }
    let pid = std::process::id();
    let written = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{pid}"));
    if let Err(e) = written {
        tracing::warn!(path = %path.display(), error = %e, "cannot write this agent's pid into the lock file");
    }
    // Again under the lock: another build may have written its marker meanwhile.
    let found = crate::state_format::check(state_dir)?;
    crate::state_format::mark(state_dir, found.as_ref())?;
    Ok(StateDirLock { _file: file })
}

/// The PID of the agent holding `state_dir`, if one does, without creating or
/// changing anything (for `check-config`). `Some(None)`: held, PID unknown.
pub(crate) fn holder(state_dir: &Path) -> Option<Option<u32>> {
    let mut file = File::open(state_dir.join(LOCK_FILE)).ok()?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockShared) {
        Ok(()) => {
            let _ = rustix::fs::flock(&file, rustix::fs::FlockOperation::Unlock);
            None
        }
        Err(rustix::io::Errno::WOULDBLOCK) => Some(holder_pid(&mut file)),
        Err(_) => None,
    }
}

/// Bytes available to unprivileged users on the file system holding `path`.
pub(crate) fn free_bytes(path: &Path) -> Option<u64> {
    let s = rustix::fs::statvfs(path).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

/// A byte count for people: `512 B`, `3.2 MiB`, `1.0 GiB`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holder_pid_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let first = lock(&state, "stop it").unwrap();
        let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let mode = std::fs::metadata(state.join(LOCK_FILE))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        // flock locks belong to the open file description: a second open in the
        // same process conflicts like another process would.
        let err = lock(&state, "stop it").unwrap_err();
        assert!(
            err.contains(&state.display().to_string())
                && err.contains(&format!("pid {}", std::process::id()))
                && err.ends_with("stop it"),
            "{err}"
        );
        assert_eq!(holder(&state), Some(Some(std::process::id())));
        drop(first);
        assert_eq!(holder(&state), None);
        let again = lock(&state, "stop it");
        assert!(again.is_ok());
    }

    #[test]
    fn private_files_and_dirs_ignore_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("journal");
        std::fs::create_dir(&sub).unwrap();
        std::fs::set_permissions(&sub, Permissions::from_mode(0o755)).unwrap();
        private_dir(&sub).unwrap();
        assert_eq!(
            std::fs::metadata(&sub).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let f = sub.join("f");
        std::fs::write(&f, "x").unwrap();
        std::fs::set_permissions(&f, Permissions::from_mode(0o644)).unwrap();
        open_private(&f, OpenOptions::new().append(true)).unwrap();
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn bytes_read_like_people_write_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(5 << 20), "5.0 MiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}
