//! On the host: the `[output]` and `[output.auth]` drop-in in the configuration's
//! `conf.d/`, readable by root and the agent's group only; any other `[output]`
//! drop-in kept aside as a backup; `check-config`'s checks; the running agent
//! told to reload.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The drop-in's name: late in name order, so its `[output]` is the one that
/// counts (a table naming another plugin replaces the one before it whole).
pub(super) const DROP_IN: &str = "90-syslane-setup.toml";

/// The drop-ins setup set aside, one path a line, for `--remove` to put back
/// (not `*.toml`, so the configuration never reads it).
const SET_ASIDE: &str = "90-syslane-setup.set-aside";

/// What the agent needs to ship to the rule.
pub(super) struct Output {
    pub(super) endpoint: String,
    pub(super) dcr_immutable_id: String,
    pub(super) security: bool,
    pub(super) ca_file: Option<PathBuf>,
    /// `key = value` lines of `[output.auth]`.
    pub(super) auth: Vec<(String, String)>,
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

pub(super) fn drop_in_text(o: &Output) -> String {
    let mut t = String::from(
        "# Written by `syslane setup`: the azure output for the data collection rule it created.\n\
         # `syslane setup --remove` takes it out again.\n[output]\nplugin = \"azure\"\n",
    );
    t.push_str(&format!("endpoint = {}\n", quoted(&o.endpoint)));
    t.push_str(&format!(
        "dcr_immutable_id = {}\n",
        quoted(&o.dcr_immutable_id)
    ));
    t.push_str("stream = \"Custom-SyslaneSyslog\"\n");
    if o.security {
        t.push_str("security_stream = \"Custom-SyslaneSecurity\"\n");
    }
    t.push_str("heartbeat_stream = \"Custom-SyslaneHeartbeat\"\n");
    if let Some(ca) = &o.ca_file {
        t.push_str(&format!(
            "ca_file = {}\n",
            quoted(&ca.display().to_string())
        ));
    }
    t.push_str("\n[output.auth]\n");
    for (k, v) in &o.auth {
        t.push_str(&format!("{k} = {}\n", quoted(v)));
    }
    t
}

pub(super) fn conf_d(config: &Path) -> PathBuf {
    config
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("conf.d")
}

/// Other drop-ins that set `[output]`: they would fight ours.
fn other_outputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| p.file_name().is_some_and(|n| n != DROP_IN))
        .filter(|p| {
            std::fs::read_to_string(p)
                .ok()
                .and_then(|t| t.parse::<toml::Table>().ok())
                .is_some_and(|t| t.contains_key("output"))
        })
        .collect();
    found.sort();
    found
}

/// What writing the drop-in did.
pub(super) enum Written {
    Unchanged(PathBuf),
    New {
        path: PathBuf,
        backups: Vec<(PathBuf, PathBuf)>,
    },
    DryRun(PathBuf),
}

/// Writes `text` as the drop-in (atomically, mode 0640, group `syslane` when
/// root and that group exists). An earlier version of it, and other drop-ins
/// with an `[output]`, are renamed to `NAME.bak` (not read: only `*.toml` is).
pub(super) fn write_drop_in(config: &Path, text: &str, dry_run: bool) -> Result<Written, String> {
    let dir = conf_d(config);
    let path = dir.join(DROP_IN);
    if std::fs::read_to_string(&path).is_ok_and(|t| t == text) && other_outputs(&dir).is_empty() {
        return Ok(Written::Unchanged(path));
    }
    if dry_run {
        println!("  write {} (not written: --dry-run):", path.display());
        for line in text.lines() {
            println!("    {}", crate::config::escape(line));
        }
        return Ok(Written::DryRun(path));
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut backups = Vec::new();
    let mut aside: Vec<PathBuf> = other_outputs(&dir);
    if path.exists() {
        aside.push(path.clone());
    }
    for old in aside {
        let mut bak = old.clone().into_os_string();
        bak.push(".bak");
        let bak = PathBuf::from(bak);
        std::fs::rename(&old, &bak).map_err(|e| format!("{}: {e}", old.display()))?;
        backups.push((old, bak));
    }
    let others: String = backups
        .iter()
        .filter(|(old, _)| *old != path)
        .map(|(old, _)| format!("{}\n", old.display()))
        .collect();
    if !others.is_empty() {
        let list = dir.join(SET_ASIDE);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&list)
            .map_err(|e| format!("{}: {e}", list.display()))?;
        std::io::Write::write_all(&mut f, others.as_bytes())
            .map_err(|e| format!("{}: {e}", list.display()))?;
    }
    let mut tmp =
        tempfile::NamedTempFile::new_in(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o640))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if rustix::process::geteuid().is_root() {
        if let Ok(Some(group)) = nix::unistd::Group::from_name("syslane") {
            let _ = std::os::unix::fs::chown(tmp.path(), Some(0), Some(group.gid.as_raw()));
        } else {
            // No group to share it with: readable by root only.
            let _ = std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o600));
        }
    }
    tmp.persist(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Written::New { path, backups })
}

/// What taking the drop-in out did: whether there was one, and the drop-ins
/// setup had set aside that are back in place.
pub(super) struct Removed {
    pub(super) drop_in: Option<PathBuf>,
    pub(super) restored: Vec<PathBuf>,
}

/// Takes the drop-in out and puts back a backup of an earlier one, if any, and
/// the other `[output]` drop-ins setup set aside (unless one of the same name
/// was written since).
pub(super) fn remove_drop_in(config: &Path) -> Result<Removed, String> {
    let dir = conf_d(config);
    let path = dir.join(DROP_IN);
    let drop_in = match std::fs::remove_file(&path) {
        Ok(()) => {
            let mut bak = path.clone().into_os_string();
            bak.push(".bak");
            if Path::new(&bak).exists() {
                let _ = std::fs::rename(&bak, &path);
            }
            Some(path)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let list = dir.join(SET_ASIDE);
    let mut restored = Vec::new();
    if let Ok(text) = std::fs::read_to_string(&list) {
        for old in text.lines().filter(|l| !l.is_empty()).map(PathBuf::from) {
            let mut bak = old.clone().into_os_string();
            bak.push(".bak");
            if old.parent() == Some(dir.as_path()) && !old.exists() && Path::new(&bak).exists() {
                std::fs::rename(&bak, &old).map_err(|e| format!("{}: {e}", old.display()))?;
                restored.push(old);
            }
        }
        let _ = std::fs::remove_file(&list);
    }
    Ok(Removed { drop_in, restored })
}

/// Asks the agent running with this configuration to reload (SIGHUP); `None`
/// when none is running.
pub(super) fn reload(config: &Path) -> Result<Option<u32>, String> {
    let c = crate::config::Config::load(config).map_err(|e| e.to_string())?;
    match crate::state_dir::holder(&c.state_dir) {
        Some(Some(pid)) => {
            let p = i32::try_from(pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
                .ok_or_else(|| format!("pid {pid} is not a process id"))?;
            rustix::process::kill_process(p, rustix::process::Signal::HUP)
                .map_err(|e| format!("cannot signal the agent (pid {pid}): {e}"))?;
            Ok(Some(pid))
        }
        _ => Ok(None),
    }
}
