//! The packages, built by packaging/build.sh as an operator would: the .deb
//! (cargo-deb) passes lintian with no errors and installs, runs, upgrades, removes
//! and purges in a throwaway Debian root made with debootstrap (scripts/test makes it; SYSLANE_TEST_ROOT names another);
//! the .rpm (rpmbuild) holds the expected files and directories. Sizes are printed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;
use syslane_tests::packaging::*;
use syslane_tests::*;

mod rpm;

const BUILT_IN: [&str; 7] = [
    "syslog", "cef", "select", "redact", "enrich", "file", "azure",
];

/// The folder with both packages, built once for every test of this file.
fn packages() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        run(Command::new("sh")
            .arg(workspace_root().join("packaging/build.sh"))
            .arg(&dir));
        dir
    })
}

/// What either package leaves in `root`: a binary that runs and accepts the
/// packaged configuration, every built-in plugin, the service user owning the
/// state directory, and the shipped rsyslog drop-in (returned).
fn assert_installed(root: &Path) -> PathBuf {
    let version = ok_in_root(root, &["/usr/bin/syslane", "--version"]);
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
    let check = ok_in_root(root, &["/usr/bin/syslane", "check-config"]);
    assert!(
        check.to_lowercase().contains("ok") || check.contains("valid"),
        "{check}"
    );
    for p in BUILT_IN {
        let plugin = format!("usr/lib/syslane/plugins/libsyslane_plugin_{p}.so");
        assert!(root.join(plugin).is_file(), "{p}");
    }
    ok_in_root(root, &["getent", "passwd", "syslane"]);
    let state = ok_in_root(root, &["stat", "-c", "%U %a", "/var/lib/syslane"]);
    assert_eq!(state.trim(), "syslane 750");
    let drop_in = root.join("etc/rsyslog.d/95-syslane.conf");
    assert_eq!(
        std::fs::read_to_string(&drop_in).unwrap(),
        std::fs::read_to_string(workspace_root().join("rsyslog.d/95-syslane.conf")).unwrap(),
        "the package installs the shipped drop-in"
    );
    drop_in
}

fn held(i: usize) -> String {
    format!("<14>Dec  6 10:00:00 host app: held {i} end")
}

#[test]
fn the_deb_passes_lintian() {
    let deb = only_file(packages(), "deb");
    let lint = Command::new(tool("lintian"))
        .args(["--fail-on", "error", "--tag-display-limit", "0"])
        .arg(&deb)
        .output()
        .unwrap();
    let said = text(&lint);
    assert!(lint.status.success(), "lintian errors:\n{said}");
    let warnings = said.lines().filter(|l| l.starts_with("W:")).count();
    let installed_kib = text(&run(Command::new(tool("dpkg-deb"))
        .args(["-f"])
        .arg(&deb)
        .arg("Installed-Size")));
    eprintln!(
        "deb: {} bytes, Installed-Size {} KiB, lintian: 0 errors, {warnings} warnings\n{said}",
        std::fs::metadata(&deb).unwrap().len(),
        installed_kib.trim()
    );
}

/// The .deb's whole life in a copy of the debootstrap root, with policy-rc.d
/// forbidding service actions: install, run with records held back, a refused
/// downgrade across the journal's format change (by dpkg, and by the agent
/// meeting a newer format), an upgrade that delivers what was held, a drop-in
/// the operator removed on purpose, removal (what rsyslog still holds is
/// counted), a reinstall that brings the drop-in back, and purge (saying what it
/// deletes).
#[test]
fn the_deb_lives_install_upgrade_downgrade_remove_reinstall_purge_with_service_actions_forbidden() {
    let deb = only_file(packages(), "deb");
    let work = tempfile::tempdir().unwrap();
    let root = copy_of_debian_root(work.path());
    forbid_service_actions(&root);
    std::fs::create_dir_all(root.join("etc/rsyslog.d")).unwrap();
    std::fs::copy(&deb, root.join("tmp/syslane.deb")).unwrap();
    let shipped =
        std::fs::read_to_string(workspace_root().join("rsyslog.d/95-syslane.conf")).unwrap();

    // Install: the drop-in is written, rsyslog and syslane are asked for through
    // policy-rc.d, which says no, and systemctl is never asked to act.
    let said = ok_in_root(&root, &["dpkg", "-i", "/tmp/syslane.deb"]);
    assert!(
        said.contains("installed /etc/rsyslog.d/95-syslane.conf"),
        "{said}"
    );
    let drop_in = assert_installed(&root);
    assert!(root
        .join("usr/lib/systemd/system/syslane.service")
        .is_file());
    assert!(root.join("usr/include/syslane/syslane_plugin.h").is_file());
    assert!(root.join("usr/share/man/man1/syslane.1.gz").is_file());
    let wants = root.join("etc/systemd/system/multi-user.target.wants/syslane.service");
    assert!(wants.symlink_metadata().is_ok(), "the service is enabled");
    let asked = log_of(&root, "policy-rc.d.log");
    assert!(
        asked.contains("rsyslog.service try-restart") && asked.contains("syslane.service start"),
        "policy-rc.d was asked: {asked}"
    );
    assert_eq!(
        service_actions(&root),
        Vec::<String>::new(),
        "systemctl acted past policy-rc.d"
    );
    // The unit verifies on this minimal root (no procps: no /bin/kill).
    assert!(!root.join("usr/bin/kill").exists() && !root.join("bin/kill").exists());
    let verify = Command::new(tool("systemd-analyze"))
        .arg("verify")
        .arg(format!("--root={}", root.display()))
        .arg("/usr/lib/systemd/system/syslane.service")
        .output()
        .unwrap();
    // systemd itself is not in the root, so its targets are missing; anything
    // else (such as "Command /bin/kill is not executable") is the unit's fault.
    let said = text(&verify);
    let complaints: Vec<&str> = said
        .lines()
        .filter(|l| !l.contains(".target not found"))
        .collect();
    assert!(
        complaints.is_empty(),
        "systemd-analyze verify --root: {said}"
    );

    // The operator's configuration: other ports (the root shares the host's
    // network), a quick stop, and the output in a conf.d file, which check-config
    // reports as overriding the main file's [output].
    let (syslog, cef) = (free_port(), free_port());
    let config = root.join("etc/syslane/syslane.toml");
    let edited = std::fs::read_to_string(&config)
        .unwrap()
        .replace("25224", &syslog.to_string())
        .replace("25226", &cef.to_string())
        .replace("plugin_dir = ", "shutdown_timeout_secs = 2\nplugin_dir = ");
    std::fs::write(&config, &edited).unwrap();
    std::fs::write(
        root.join("etc/syslane/conf.d/50-site.toml"),
        "[output]\npath = \"/var/lib/syslane/held/records.jsonl\"\n",
    )
    .unwrap();
    ok_in_root(
        &root,
        &[
            "install",
            "-d",
            "-o",
            "syslane",
            "-g",
            "syslane",
            "/var/lib/syslane/held",
        ],
    );
    let out = in_root(
        &root,
        &[
            "setpriv",
            "--reuid=syslane",
            "--regid=syslane",
            "--clear-groups",
            "syslane",
            "check-config",
            "--offline",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("[output] is set in more than one file")
            && text(&out).contains("path from /etc/syslane/conf.d/50-site.toml"),
        "{}",
        text(&out)
    );

    // Run with records held back: the output's directory is closed after the
    // start, so what arrives stays in the journal.
    let agent = agent_in_root(&root);
    let held_dir = root.join("var/lib/syslane/held");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&held_dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    send_tcp_lf(syslog, (0..30).map(held));
    assert!(
        wait_until(Duration::from_secs(20), || journal_holds(
            &root,
            "held 29 end"
        )),
        "{}",
        agent.logs()
    );
    agent.stop();
    let marker = std::fs::read_to_string(root.join("var/lib/syslane/format")).unwrap();
    assert!(marker.contains("format = 2"), "{marker}");

    // Downgrade across the format change, by dpkg: 0.1.0 knows no format marker
    // and would cut this journal to nothing, so the prerm moves it aside whole.
    let old = repacked_as(&deb, "0.1.0-1", work.path());
    std::fs::copy(&old, root.join("tmp/syslane-old.deb")).unwrap();
    let journal = root.join("var/lib/syslane/journal");
    let aside = root.join("var/lib/syslane/journal.format-2");
    let names = |dir: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        files_under(dir)
            .into_iter()
            .map(|(p, b)| (p.strip_prefix(dir).unwrap().to_path_buf(), b))
            .collect()
    };
    let journal_before = names(&journal);
    let said = ok_in_root(&root, &["dpkg", "-i", "/tmp/syslane-old.deb"]);
    assert!(
        said.contains("0.1.0-1 cannot read the journal this version wrote")
            && said.contains("/var/lib/syslane/journal.format-2"),
        "{said}"
    );
    assert_eq!(names(&aside), journal_before, "moved aside untouched");
    let status = ok_in_root(&root, &["dpkg-query", "-W", "-f", "${Version}", "syslane"]);
    assert_eq!(status.trim(), "0.1.0-1");
    // Back up to this version, and the journal back where it was, as the message says.
    ok_in_root(&root, &["dpkg", "-i", "/tmp/syslane.deb"]);
    let status = ok_in_root(&root, &["dpkg-query", "-W", "-f", "${Version}", "syslane"]);
    assert_eq!(status.trim(), format!("{}-1", env!("CARGO_PKG_VERSION")));
    let _ = std::fs::remove_dir_all(&journal);
    std::fs::rename(&aside, &journal).unwrap();

    // ... and by the agent: a state directory a newer syslane wrote is refused,
    // naming both versions, with nothing changed.
    let state = root.join("var/lib/syslane");
    std::fs::write(state.join("format"), "format = 3\nwritten_by = \"0.3.0\"\n").unwrap();
    let before = files_under(&state);
    for args in [
        &["syslane", "run"][..],
        &["syslane", "check-config", "--offline"][..],
    ] {
        let out = as_service_in_root(&root, args).output().unwrap();
        assert!(!out.status.success(), "{args:?}: {}", text(&out));
        let said = text(&out);
        assert!(
            said.contains("format 3")
                && said.contains("0.3.0")
                && said.contains(env!("CARGO_PKG_VERSION")),
            "{args:?}: {said}"
        );
    }
    assert_eq!(
        files_under(&state),
        before,
        "a refused state directory is left as it was"
    );
    std::fs::write(state.join("format"), &marker).unwrap();

    // Upgrade (the same package again): configuration, drop-in and journal
    // stay, and the agent delivers every held record once its output is back
    // (and the journal's files are the service user's again after the moves).
    let mut chosen = std::fs::read_to_string(&drop_in).unwrap();
    chosen.push_str("# operator's choice\n");
    std::fs::write(&drop_in, &chosen).unwrap();
    ok_in_root(&root, &["dpkg", "-i", "/tmp/syslane.deb"]);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), edited);
    assert!(root.join("etc/syslane/conf.d/50-site.toml").is_file());
    assert_eq!(std::fs::read_to_string(&drop_in).unwrap(), chosen);
    assert!(journal_holds(&root, "held 29 end"));
    std::fs::set_permissions(&held_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let agent = agent_in_root(&root);
    let delivered = held_dir.join("records.jsonl");
    let all = || {
        let t = std::fs::read_to_string(&delivered).unwrap_or_default();
        (0..30).all(|i| t.contains(&format!("held {i} end")))
    };
    assert!(wait_until(Duration::from_secs(20), all), "{}", agent.logs());
    agent.stop();
    // More held back for the purge to count: an output directory closed after the start.
    std::fs::write(
        root.join("etc/syslane/conf.d/50-site.toml"),
        "[output]\npath = \"/var/lib/syslane/held2/records.jsonl\"\n",
    )
    .unwrap();
    ok_in_root(
        &root,
        &[
            "install",
            "-d",
            "-o",
            "syslane",
            "-g",
            "syslane",
            "/var/lib/syslane/held2",
        ],
    );
    let agent = agent_in_root(&root);
    let held2 = root.join("var/lib/syslane/held2");
    std::fs::set_permissions(&held2, std::fs::Permissions::from_mode(0o555)).unwrap();
    send_tcp_lf(
        syslog,
        (0..10).map(|i| format!("<14>Dec  6 10:00:00 host app: late {i} end")),
    );
    assert!(
        wait_until(Duration::from_secs(20), || journal_holds(
            &root,
            "late 9 end"
        )),
        "{}",
        agent.logs()
    );
    agent.stop();

    // A drop-in the operator removed on purpose stays removed across an upgrade.
    ok_in_root(
        &root,
        &[
            "syslane",
            "syslog-config",
            "--remove",
            "--no-reload",
            "--daemon",
            "rsyslog",
        ],
    );
    let said = ok_in_root(&root, &["dpkg", "-i", "/tmp/syslane.deb"]);
    assert!(!drop_in.exists(), "{said}");
    assert!(said.contains("removed by the operator"), "{said}");
    ok_in_root(
        &root,
        &[
            "syslane",
            "syslog-config",
            "--all=info",
            "--install",
            "--no-reload",
        ],
    );

    // Remove: rsyslog saved what it held for syslane; the removal counts it.
    rsyslog_saves_a_queue_in(&root, 40);
    let restarts = log_of(&root, "policy-rc.d.log")
        .matches("rsyslog.service try-restart")
        .count();
    let said = ok_in_root(&root, &["dpkg", "-r", "syslane"]);
    assert!(!drop_in.exists());
    assert!(!root.join("usr/bin/syslane").exists());
    assert!(
        said.contains("rsyslog saved 40 messages in /var/spool/rsyslog/syslane"),
        "{said}"
    );
    assert_eq!(
        log_of(&root, "policy-rc.d.log")
            .matches("rsyslog.service try-restart")
            .count(),
        restarts + 1,
        "removal asks to restart rsyslog through policy-rc.d"
    );
    assert_eq!(
        service_actions(&root),
        Vec::<String>::new(),
        "systemctl acted past policy-rc.d"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), edited);
    assert!(journal_holds(&root, "late 9 end"));
    assert!(
        said.contains("the journal keeps 10 records not yet delivered"),
        "the removal counts the journal: {said}"
    );

    // Reinstall: the drop-in is back.
    let said = ok_in_root(&root, &["dpkg", "-i", "/tmp/syslane.deb"]);
    assert!(
        said.contains("installed /etc/rsyslog.d/95-syslane.conf"),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(&drop_in).unwrap(), shipped);

    // Purge: says what it deletes, and deletes it.
    let said = ok_in_root(&root, &["dpkg", "-P", "syslane"]);
    assert!(
        said.contains("purge deletes the journal: 10 records not yet delivered, in "),
        "{said}"
    );
    assert!(
        said.contains("purge deletes what rsyslog saved for syslane: 40 messages"),
        "{said}"
    );
    assert!(
        wants.symlink_metadata().is_err(),
        "purge disables the service"
    );
    assert!(!root.join("etc/syslane").exists());
    assert!(!root.join("var/lib/syslane").exists());
    assert!(!root.join("var/spool/rsyslog/syslane.qi").exists());
    assert!(!in_root(&root, &["getent", "passwd", "syslane"])
        .status
        .success());
    let status = in_root(&root, &["dpkg", "-s", "syslane"]);
    assert!(!status.status.success(), "{}", text(&status));
    assert_eq!(
        service_actions(&root),
        Vec::<String>::new(),
        "systemctl acted past policy-rc.d"
    );
}

/// `syslane setup` on a host as an operator has it: the .deb installed in a
/// Debian root, then `syslane setup --workspace … --yes` run there as root with
/// the emulator standing in for Azure (device code sign-in, Resource Manager,
/// the instance metadata service, Logs Ingestion): it writes the drop-in for
/// the service user, passes check-config, waits through the role's 403s and
/// ends with this host's heartbeat accepted by the workspace.
#[test]
fn setup_on_the_installed_deb_ends_with_this_hosts_record_in_the_workspace() {
    use syslane_tests::emulator::{Emulator, HEARTBEAT_STREAM};
    let deb = only_file(packages(), "deb");
    let copy = tempfile::tempdir().unwrap();
    let root = copy_of_debian_root(copy.path());
    forbid_service_actions(&root);
    std::fs::copy(&deb, root.join("tmp/syslane.deb")).unwrap();
    ok_in_root(&root, &["dpkg", "-i", "/tmp/syslane.deb"]);
    // A host has /proc (the agent reads its name there); unmounted at the end,
    // whatever happens.
    struct Proc(PathBuf);
    impl Drop for Proc {
        fn drop(&mut self) {
            let _ = Command::new(tool("umount")).arg("-l").arg(&self.0).status();
        }
    }
    let proc_dir = root.join("proc");
    run(Command::new(tool("mount"))
        .args(["-t", "proc", "proc"])
        .arg(&proc_dir));
    let _proc = Proc(proc_dir);
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(
        dir.path(),
        &[
            "--require-role-assignment",
            "--role-applies-after-secs",
            "2",
        ],
    );
    std::fs::copy(emu.s("ca_file"), root.join("tmp/emulator-ca.pem")).unwrap();
    let out = Command::new("chroot")
        .arg(&root)
        .args(["/usr/bin/syslane", "setup"])
        .args(["--workspace", &emu.s("workspace_id")])
        .args(["--arm-endpoint", &emu.s("arm_endpoint")])
        .args(["--authority-host", &emu.s("authority_host")])
        .args(["--identity-endpoint", &emu.s("identity_endpoint")])
        .args(["--tenant", &emu.s("tenant_id")])
        .args(["--wait-secs", "60", "--yes"])
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("SSL_CERT_FILE", "/tmp/emulator-ca.pem")
        .env_remove("IDENTITY_ENDPOINT")
        .env_remove("IMDS_ENDPOINT")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let said = text(&out);
    assert!(out.status.success(), "setup failed in the root:\n{said}");
    for line in [
        "✓ signed in to Azure Resource Manager (device code sign-in)",
        "✓ data collection rule syslane-dcr created",
        "✓ Monitoring Metrics Publisher assigned on the rule",
        "✓ wrote /etc/syslane/conf.d/90-syslane-setup.toml",
        "✓ check-config",
        "role assignment not applied yet (403)",
        "✓ the workspace accepted a heartbeat from",
    ] {
        assert!(said.contains(line), "no {line:?} in:\n{said}");
    }
    // The drop-in is root's, readable by the service's group only, and the
    // service user's check-config accepts the merged configuration.
    let owner = ok_in_root(
        &root,
        &[
            "stat",
            "-c",
            "%U %G %a",
            "/etc/syslane/conf.d/90-syslane-setup.toml",
        ],
    );
    assert_eq!(owner.trim(), "root syslane 640");
    let check = as_service_in_root(&root, &["/usr/bin/syslane", "check-config", "--offline"])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));
    assert!(text(&check).contains("output azure"), "{}", text(&check));
    // This host's heartbeat, accepted by the workspace.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let records = emu.records(HEARTBEAT_STREAM);
    assert!(
        records.iter().any(|r| r["Computer"] == host.trim()),
        "{records:?}"
    );
}
