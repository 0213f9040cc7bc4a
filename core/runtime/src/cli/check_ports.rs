//! Ports below 1024 as the service meets them. The packaged unit runs as the
//! `syslane` user with no capabilities, so a listener on a port below the
//! kernel's `net.ipv4.ip_unprivileged_port_start` (1024 by default; 514 is the
//! usual one) needs `CAP_NET_BIND_SERVICE` in both `CapabilityBoundingSet=` and
//! `AmbientCapabilities=` of a unit drop-in. `check-config` run by root binds
//! such a port anyway, so it judges as the service would: by the capabilities
//! the installed unit and its drop-ins grant. Run by another user (as the unit's
//! `ExecStartPre=` runs it), the bind itself answers.

use std::path::{Path, PathBuf};

/// `CAP_NET_BIND_SERVICE`'s bit in the capability sets (linux/capability.h).
const CAP_NET_BIND_SERVICE: u32 = 10;

/// The lowest port that needs no capability.
pub(super) fn unprivileged_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(1024)
}

/// Whether this process may bind ports below [`unprivileged_start`].
fn this_process_may() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_NET_BIND_SERVICE) != 0)
}

/// The unit file and its drop-ins, in systemd's order of precedence, under `root`.
fn unit_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let unit = [
        "etc/systemd/system",
        "run/systemd/system",
        "usr/lib/systemd/system",
        "lib/systemd/system",
    ]
    .iter()
    .map(|d| root.join(d).join("syslane.service"))
    .find(|p| p.is_file());
    let Some(unit) = unit else { return files };
    files.push(unit);
    let mut drop_ins: Vec<PathBuf> = [
        "usr/lib/systemd/system",
        "run/systemd/system",
        "etc/systemd/system",
    ]
    .iter()
    .filter_map(|d| std::fs::read_dir(root.join(d).join("syslane.service.d")).ok())
    .flat_map(|e| e.flatten().map(|e| e.path()))
    .filter(|p| p.extension().is_some_and(|x| x == "conf"))
    .collect();
    // Drop-ins apply in file-name order whatever their directory.
    drop_ins.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    files.extend(drop_ins);
    files
}

/// Whether `key=` ends up holding the capability after the unit and drop-ins in
/// order (an empty assignment resets the list; later lines add to it).
fn grants(texts: &[String], key: &str) -> bool {
    let mut has = false;
    for text in texts {
        for line in text.lines() {
            let Some(value) = line
                .trim()
                .strip_prefix(key)
                .and_then(|r| r.strip_prefix('='))
            else {
                continue;
            };
            let value = value.trim();
            if value.is_empty() {
                has = false;
            } else if let Some(removed) = value.strip_prefix('~') {
                if removed
                    .split_whitespace()
                    .any(|c| c == "CAP_NET_BIND_SERVICE")
                {
                    has = false;
                }
            } else if value
                .split_whitespace()
                .any(|c| c == "CAP_NET_BIND_SERVICE")
            {
                has = true;
            }
        }
    }
    has
}

/// Why the service could not bind `port`, if it could not, judged under `root`
/// (`/` on a host). `None`: it can, or this is not a privileged port.
pub(super) fn refused(port: u16, root: &Path, as_root: bool) -> Option<String> {
    if port >= unprivileged_start() {
        return None;
    }
    let fix = "give the service CAP_NET_BIND_SERVICE with a drop-in (systemctl edit syslane): [Service] CapabilityBoundingSet=CAP_NET_BIND_SERVICE and AmbientCapabilities=CAP_NET_BIND_SERVICE (\"Ports below 1024\" in the documentation, docs/src/syslog-daemons.md), or choose a port above 1023";
    if !as_root {
        return (!this_process_may()).then(|| {
            format!(
                "{} may not bind port {port} (ports below {} need CAP_NET_BIND_SERVICE); {fix}",
                crate::state_dir::this_user(),
                unprivileged_start()
            )
        });
    }
    let files = unit_files(root);
    if files.is_empty() {
        // Not installed as a service: root runs it, and root may.
        return None;
    }
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .collect();
    if grants(&texts, "CapabilityBoundingSet") && grants(&texts, "AmbientCapabilities") {
        return None;
    }
    Some(format!(
        "the syslane service ({}) runs as its own user without CAP_NET_BIND_SERVICE and may not bind port {port}, although root (running this check) may; {fix}",
        files[0].display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_and_its_drop_ins_decide_as_systemd_would() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(
            refused(514, root.path(), true),
            None,
            "no unit: root runs it"
        );
        let lib = root.path().join("usr/lib/systemd/system");
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::write(
            lib.join("syslane.service"),
            include_str!("../../../../systemd/syslane.service"),
        )
        .unwrap();
        let said = refused(514, root.path(), true).unwrap();
        assert!(
            said.contains("CAP_NET_BIND_SERVICE") && said.contains("port 514"),
            "{said}"
        );
        assert_eq!(refused(25224, root.path(), true), None);
        let d = root.path().join("etc/systemd/system/syslane.service.d");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("50-port-514.conf"),
            "[Service]\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n",
        )
        .unwrap();
        assert!(
            refused(514, root.path(), true).is_some(),
            "both lines are needed"
        );
        std::fs::write(
            d.join("50-port-514.conf"),
            "[Service]\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n",
        )
        .unwrap();
        assert_eq!(refused(514, root.path(), true), None);
    }
}
