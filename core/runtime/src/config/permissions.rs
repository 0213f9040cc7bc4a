//! Who can change the configuration. The agent loads plugins and reads secrets
//! from paths the configuration names, so a `syslane.toml`, a `conf.d/` or a
//! drop-in that a user other than root or the agent's own could write lets that
//! user run code as the agent. Such files are warned about at every load (so in
//! `check-config` and at the start of `run`), with the command that fixes them:
//! the same rule the plugin host enforces for `plugin_dir`, but a warning, since
//! refusing would stop the collection of logs on hosts that run fine today.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What is wrong with who may change `path`, if anything: group- or
/// world-writable, or owned by someone other than root or `agent_uid`.
pub(super) fn others_can_change(path: &Path, agent_uid: u32) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let mode = meta.mode() & 0o7777;
    let what = if meta.is_dir() { "directory" } else { "file" };
    if mode & 0o022 != 0 {
        return Some(format!(
            "configuration {what} {} is group- or world-writable (mode {mode:04o}): whoever can write it can make the agent load their code or send secrets elsewhere. Fix: chmod go-w {}",
            path.display(),
            path.display()
        ));
    }
    if meta.uid() != 0 && meta.uid() != agent_uid {
        return Some(format!(
            "configuration {what} {} is owned by uid {}, neither root nor the agent's user (uid {agent_uid}): that user can make the agent load their code or send secrets elsewhere. Fix: chown root {}",
            path.display(),
            meta.uid(),
            path.display()
        ));
    }
    None
}

/// Warnings for the configuration file, its directory, `conf.d/` and the drop-ins.
pub(super) fn check(main: &Path, dir: &Path, drop_ins: &[&Path]) -> Vec<String> {
    let uid = rustix::process::geteuid().as_raw();
    let conf_d = dir.join("conf.d");
    let mut paths: Vec<&Path> = vec![main, dir];
    if conf_d.is_dir() {
        paths.push(&conf_d);
    }
    paths.extend(drop_ins);
    paths
        .into_iter()
        .filter_map(|p| others_can_change(p, uid))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writable_by_others_or_owned_by_a_stranger_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("syslane.toml");
        std::fs::write(&file, "").unwrap();
        let me = rustix::process::geteuid().as_raw();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(others_can_change(&file, me), None);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        let w = others_can_change(&file, me).unwrap();
        assert!(w.contains("mode 0666") && w.contains("chmod go-w"), "{w}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        // Owned by me, judged for an agent running as another user (not root).
        let owner = std::fs::metadata(&file).unwrap().uid();
        if owner != 0 {
            let w = others_can_change(&file, owner + 1).unwrap();
            assert!(w.contains("chown root"), "{w}");
        }
        let conf_d = dir.path().join("conf.d");
        std::fs::create_dir(&conf_d).unwrap();
        std::fs::set_permissions(&conf_d, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let all = check(&file, dir.path(), &[]);
        assert_eq!(all.len(), 1, "{all:?}");
        assert!(
            all[0].contains("conf.d") && all[0].contains("0777"),
            "{all:?}"
        );
    }
}
