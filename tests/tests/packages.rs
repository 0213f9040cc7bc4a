//! The packages, built by packaging/build.sh as an operator would: the .deb
//! (cargo-deb) passes lintian with no errors and installs, runs, upgrades, removes
//! and purges in a throwaway Debian root made with debootstrap (scripts/test makes it; SYSLANE_TEST_ROOT names another);
//! the .rpm (cargo-generate-rpm) holds the expected files. Sizes are printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use syslane_tests::*;

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("could not run {cmd:?}: {e}; scripts/test installs what the tests need")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The one file of `ext` that `dir` holds.
fn only_file(dir: &Path, ext: &str) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

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

#[test]
fn the_rpm_holds_the_binary_plugins_config_unit_drop_ins_and_header() {
    let rpm = only_file(packages(), "rpm");
    let list = text(&run(Command::new(tool("rpm")).arg("-qlp").arg(&rpm)));
    let mut expected = vec![
        "/usr/bin/syslane".to_string(),
        "/etc/syslane/syslane.toml".into(),
        "/usr/lib/systemd/system/syslane.service".into(),
        "/usr/share/syslane/rsyslog.d/95-syslane.conf".into(),
        "/usr/share/syslane/syslog-ng.d/syslane.conf".into(),
        "/usr/include/syslane/syslane_plugin.h".into(),
        "/usr/share/doc/syslane/README.md".into(),
        "/usr/share/man/man1/syslane.1".into(),
        "/usr/share/doc/syslane/azure/azuredeploy.json".into(),
    ];
    expected.extend(BUILT_IN.map(|p| format!("/usr/lib/syslane/plugins/libsyslane_plugin_{p}.so")));
    for f in &expected {
        assert!(list.lines().any(|l| l == f), "{f} missing from:\n{list}");
    }
    assert!(
        !list.contains("plugin_example"),
        "fixtures are not shipped:\n{list}"
    );
    let config = text(&run(Command::new(tool("rpm")).arg("-qcp").arg(&rpm)));
    assert!(
        config.contains("/etc/syslane/syslane.toml"),
        "a config file: {config}"
    );
    let scripts = text(&run(Command::new(tool("rpm"))
        .arg("-qp")
        .arg("--scripts")
        .arg(&rpm)));
    assert!(
        scripts.contains("useradd") && scripts.contains("syslog-config --all=info --install"),
        "{scripts}"
    );
    // Stripped like the .deb's: a release build keeps line tables, the package not.
    let bytes = std::fs::metadata(&rpm).unwrap().len();
    assert!(
        bytes < 8 << 20,
        "the .rpm is {bytes} bytes: are its binaries stripped?"
    );
    eprintln!(
        "rpm: {bytes} bytes ({})",
        rpm.file_name().unwrap().to_string_lossy()
    );
}

/// The throwaway Debian root made with debootstrap.
fn debian_root() -> PathBuf {
    let root = PathBuf::from(
        std::env::var("SYSLANE_TEST_ROOT").unwrap_or_else(|_| "/opt/syslane-ci/chroot".into()),
    );
    assert!(
        root.join("usr/bin/dpkg").is_file(),
        "{} is a Debian root made with debootstrap (scripts/test makes it; SYSLANE_TEST_ROOT names another)",
        root.display()
    );
    root
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

/// `rpm` with `args` on the packages of `root` (its scriptlets run chrooted there).
fn rpm_in(root: &Path, args: &[&str]) -> String {
    text(&run(Command::new(tool("rpm"))
        .arg("--root")
        .arg(root)
        .args(args)))
}

#[test]
fn the_rpm_installs_upgrades_and_erases_in_a_throwaway_root() {
    let rpm = only_file(packages(), "rpm");
    // A copy of the Debian root, which the .deb test uses at the same time; rpm
    // keeps its own database there. Dependencies are Debian's, hence --nodeps.
    let copy = tempfile::tempdir().unwrap();
    let root = copy.path().join("root");
    run(Command::new("cp").arg("-a").arg(debian_root()).arg(&root));
    std::fs::create_dir_all(root.join("etc/rsyslog.d")).unwrap();
    let rpm = rpm.to_str().unwrap();
    rpm_in(&root, &["--initdb"]);
    let said = rpm_in(&root, &["-i", "--nodeps", rpm]);
    assert!(
        said.contains("installed /etc/rsyslog.d/95-syslane.conf"),
        "{said}"
    );
    let drop_in = assert_installed(&root);
    // An upgrade (the same package again) keeps the journal, the operator's
    // configuration and drop-in.
    std::fs::write(root.join("var/lib/syslane/journal-marker"), "kept").unwrap();
    let config = root.join("etc/syslane/syslane.toml");
    let mut edited = std::fs::read_to_string(&config).unwrap();
    edited.push_str("# operator's edit\n");
    std::fs::write(&config, &edited).unwrap();
    let mut chosen = std::fs::read_to_string(&drop_in).unwrap();
    chosen.push_str("# operator's choice\n");
    std::fs::write(&drop_in, &chosen).unwrap();
    rpm_in(&root, &["-U", "--replacepkgs", "--nodeps", rpm]);
    assert!(root.join("var/lib/syslane/journal-marker").is_file());
    assert_eq!(std::fs::read_to_string(&config).unwrap(), edited);
    assert_eq!(std::fs::read_to_string(&drop_in).unwrap(), chosen);
    // Erasing takes the drop-in out; the journal stays (RPM has no purge).
    let said = rpm_in(&root, &["-e", "syslane"]);
    assert!(
        said.contains("removed /etc/rsyslog.d/95-syslane.conf"),
        "{said}"
    );
    assert!(!drop_in.exists());
    assert!(!root.join("usr/bin/syslane").exists());
    assert!(root.join("var/lib/syslane/journal-marker").is_file());
}

/// Runs `args` inside the root.
fn in_root(root: &Path, args: &[&str]) -> Output {
    Command::new("chroot")
        .arg(root)
        .args(args)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap()
}

fn ok_in_root(root: &Path, args: &[&str]) -> String {
    let out = in_root(root, args);
    assert!(out.status.success(), "{args:?} in the root: {}", text(&out));
    text(&out)
}

#[test]
fn the_deb_passes_lintian_and_installs_upgrades_removes_and_purges_in_a_debootstrap_root() {
    let deb = only_file(packages(), "deb");

    // lintian: no errors (warnings are printed).
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

    let root = debian_root();
    // A run cut short before its purge leaves the package behind.
    let _ = in_root(&root, &["dpkg", "-P", "syslane"]);
    let staged = root.join("tmp/syslane.deb");
    std::fs::copy(&deb, &staged).unwrap();
    // rsyslog's drop-in directory, as on a host with rsyslog: postinst installs
    // the drop-in (rsyslogd itself is absent, so it is not checked there).
    std::fs::create_dir_all(root.join("etc/rsyslog.d")).unwrap();

    ok_in_root(&root, &["dpkg", "-i", "/tmp/syslane.deb"]);
    let drop_in = assert_installed(&root);
    assert!(root
        .join("usr/lib/systemd/system/syslane.service")
        .is_file());
    assert!(root.join("usr/include/syslane/syslane_plugin.h").is_file());
    assert!(root.join("usr/share/man/man1/syslane.1.gz").is_file());
    // Enabled through deb-systemd-helper (systemd does not run in the root, so
    // nothing is started there).
    let wants = root.join("etc/systemd/system/multi-user.target.wants/syslane.service");
    assert!(wants.symlink_metadata().is_ok(), "the service is enabled");

    // An upgrade (the same package again) keeps the journal, the operator's
    // configuration and the drop-in the operator chose.
    std::fs::write(root.join("var/lib/syslane/journal-marker"), "kept").unwrap();
    std::fs::write(root.join("etc/syslane/conf.d/50-site.toml"), "# site\n").unwrap();
    let mut chosen = std::fs::read_to_string(&drop_in).unwrap();
    chosen.push_str("# operator's choice\n");
    std::fs::write(&drop_in, &chosen).unwrap();
    ok_in_root(&root, &["dpkg", "-i", "/tmp/syslane.deb"]);
    assert!(root.join("var/lib/syslane/journal-marker").is_file());
    assert!(root.join("etc/syslane/conf.d/50-site.toml").is_file());
    assert_eq!(std::fs::read_to_string(&drop_in).unwrap(), chosen);

    // Removal takes the drop-in out and keeps configuration and state.
    ok_in_root(&root, &["dpkg", "-r", "syslane"]);
    assert!(!drop_in.exists());
    assert!(!root.join("usr/bin/syslane").exists());
    assert!(root.join("etc/syslane/syslane.toml").is_file());
    assert!(root.join("var/lib/syslane/journal-marker").is_file());
    // Purge deletes them and the user.
    ok_in_root(&root, &["dpkg", "-P", "syslane"]);
    assert!(
        wants.symlink_metadata().is_err(),
        "purge disables the service"
    );
    assert!(!root.join("etc/syslane").exists());
    assert!(!root.join("var/lib/syslane").exists());
    assert!(!in_root(&root, &["getent", "passwd", "syslane"])
        .status
        .success());
    let status = in_root(&root, &["dpkg", "-s", "syslane"]);
    assert!(!status.status.success(), "{}", text(&status));
    let _ = std::fs::remove_dir(root.join("etc/rsyslog.d"));
    let _ = std::fs::remove_file(&staged);
}
