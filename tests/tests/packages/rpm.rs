//! The .rpm, built by rpmbuild from packaging/rpm/syslane.spec.in: what it
//! holds and owns, and its scriptlets run by `rpm --root` in a copy of the
//! Debian root (dnf's dependency resolution and a real RPM distribution's
//! presets are not here; a stand-in `systemctl` answers as presets would).

use super::*;

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
        "/usr/share/man/man1/syslane.1.gz".into(),
        "/usr/share/doc/syslane/azure/azuredeploy.json".into(),
    ];
    expected.extend(BUILT_IN.map(|p| format!("/usr/lib/syslane/plugins/libsyslane_plugin_{p}.so")));
    for f in &expected {
        assert!(list.lines().any(|l| l == f), "{f} missing from:\n{list}");
    }
    // It owns its directories (so rpm removes them once empty, and `rpm -qf`
    // names it), the journal's as the service user's and private.
    let long = text(&run(Command::new(tool("rpm")).arg("-qlvp").arg(&rpm)));
    let dirs: Vec<(String, String, String)> = long
        .lines()
        .filter(|l| l.starts_with('d'))
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            Some((
                w.get(8)?.to_string(),
                w[0].to_string(),
                w.get(2)?.to_string(),
            ))
        })
        .collect();
    for d in [
        "/etc/syslane",
        "/etc/syslane/conf.d",
        "/usr/lib/syslane",
        "/usr/lib/syslane/plugins",
        "/usr/share/syslane",
        "/usr/share/syslane/rsyslog.d",
        "/usr/share/syslane/syslog-ng.d",
        "/usr/include/syslane",
        "/usr/share/doc/syslane",
        "/var/lib/syslane",
    ] {
        assert!(
            dirs.iter().any(|(path, _, _)| path == d),
            "the .rpm does not own {d}:\n{long}"
        );
    }
    assert!(
        dirs.iter()
            .any(|(path, mode, owner)| path == "/var/lib/syslane"
                && mode == "drwxr-x---"
                && owner == "syslane"),
        "{long}"
    );
    // The same files as the .deb, but Debian's own changelog and copyright.
    let deb = only_file(packages(), "deb");
    let deb_list = text(&run(Command::new(tool("dpkg-deb")).arg("-c").arg(&deb)));
    let files = |text: &str, column: usize| -> std::collections::BTreeSet<String> {
        text.lines()
            .filter(|l| !l.starts_with('d'))
            .filter_map(|l| l.split_whitespace().nth(column))
            .map(|p| p.trim_start_matches('.').to_string())
            .filter(|p| !p.ends_with("changelog.Debian.gz") && !p.ends_with("/copyright"))
            .collect()
    };
    assert_eq!(
        files(&long, 8),
        files(&deb_list, 5),
        "the two packages differ"
    );
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
    let root = copy_of_debian_root(copy.path());
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
    // Erasing takes the drop-in out; the journal stays (RPM has no purge). rpm
    // saves the edited configuration as .rpmsave, and the package says so.
    let said = rpm_in(&root, &["-e", "syslane"]);
    assert!(
        said.contains("removed /etc/rsyslog.d/95-syslane.conf"),
        "{said}"
    );
    assert!(
        said.contains("syslane.toml.rpmsave") && said.contains("move it back"),
        "{said}"
    );
    assert!(!drop_in.exists());
    assert!(!root.join("usr/bin/syslane").exists());
    assert!(
        !root.join("usr/lib/syslane").exists(),
        "its emptied directories go too"
    );
    assert!(root.join("var/lib/syslane/journal-marker").is_file());
    let saved = root.join("etc/syslane/syslane.toml.rpmsave");
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), edited);
    // A reinstall writes the drop-in again; the operator moves the edit back.
    let said = rpm_in(&root, &["-i", "--nodeps", rpm]);
    assert!(
        said.contains("installed /etc/rsyslog.d/95-syslane.conf"),
        "{said}"
    );
    assert!(drop_in.is_file());
    assert!(root.join("var/lib/syslane/journal-marker").is_file());
    assert!(
        saved.is_file(),
        "the saved configuration stays for the operator"
    );
}

#[test]
fn the_rpm_creates_its_user_before_its_files_and_never_fails_its_scriptlets() {
    let rpm = only_file(packages(), "rpm");
    let scripts = text(&run(Command::new(tool("rpm"))
        .arg("-qp")
        .arg("--scripts")
        .arg(&rpm)));
    let pre = scripts.find("preinstall scriptlet").expect(&scripts);
    let post = scripts.find("postinstall scriptlet").expect(&scripts);
    let useradd = scripts.find("useradd --system").expect(&scripts);
    assert!(
        pre < useradd && useradd < post,
        "the user is made in %pre:\n{scripts}"
    );
    assert!(
        scripts.contains("systemctl --no-reload preset syslane.service")
            && !scripts.contains("systemctl enable syslane"),
        "enabling follows the presets:\n{scripts}"
    );
    let requires = text(&run(Command::new(tool("rpm")).arg("-qpR").arg(&rpm)));
    assert!(
        requires.contains("/usr/sbin/useradd") && requires.contains("/bin/sh"),
        "{requires}"
    );
    // A root where the scriptlets find neither useradd nor the syslog daemon's
    // directories: the install completes, and says what is missing.
    let copy = tempfile::tempdir().unwrap();
    let root = copy_of_debian_root(copy.path());
    for tool in ["usr/sbin/useradd", "usr/sbin/userdel"] {
        std::fs::remove_file(root.join(tool)).unwrap();
    }
    rpm_in(&root, &["--initdb"]);
    let said = rpm_in(&root, &["-i", "--nodeps", rpm.to_str().unwrap()]);
    assert!(said.contains("useradd is missing here"), "{said}");
    assert!(root.join("usr/bin/syslane").is_file());
}

/// With systemd running (a stand-in `systemctl` that writes down what it is
/// asked and answers `is-enabled` as the presets decided), the .rpm enables the
/// unit only through `systemctl preset`, starts it only when the presets enabled
/// it, restarts it on upgrade and stops and disables it on erase.
#[test]
fn the_rpm_follows_the_distributions_presets_and_manages_its_service() {
    use std::os::unix::fs::PermissionsExt;
    let rpm = only_file(packages(), "rpm");
    let rpm = rpm.to_str().unwrap();
    let copy = tempfile::tempdir().unwrap();
    let root = copy_of_debian_root(copy.path());
    std::fs::create_dir_all(root.join("run/systemd/system")).unwrap();
    let stub = root.join("usr/sbin/systemctl");
    std::fs::write(
        &stub,
        "#!/bin/sh\necho \"$*\" >> /var/log/systemctl.log\n\
         case \"$*\" in *is-enabled*) exit \"$(cat /etc/preset-answer)\" ;; esac\nexit 0\n",
    )
    .unwrap();
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let asked = |root: &Path| log_of(root, "systemctl.log");
    rpm_in(&root, &["--initdb"]);

    // Presets that leave it disabled (Fedora's default for most services).
    std::fs::write(root.join("etc/preset-answer"), "1").unwrap();
    let said = rpm_in(&root, &["-i", "--nodeps", rpm]);
    let log = asked(&root);
    assert!(log.contains("--no-reload preset syslane.service"), "{log}");
    assert!(
        !log.lines()
            .any(|l| l.starts_with("start") || l.starts_with("enable")),
        "neither enabled nor started against the presets:\n{log}"
    );
    assert!(
        said.contains("the presets leave syslane.service disabled")
            && said.contains("systemctl enable --now syslane"),
        "{said}"
    );
    rpm_in(&root, &["-e", "syslane"]);
    let log = asked(&root);
    assert!(
        log.lines().any(|l| l == "stop syslane.service") && log.contains("disable syslane.service"),
        "erase stops and disables it:\n{log}"
    );

    // Presets that enable it: started on install, restarted on upgrade.
    std::fs::write(root.join("etc/preset-answer"), "0").unwrap();
    std::fs::remove_file(root.join("var/log/systemctl.log")).unwrap();
    rpm_in(&root, &["-i", "--nodeps", rpm]);
    let log = asked(&root);
    assert!(log.lines().any(|l| l == "start syslane.service"), "{log}");
    rpm_in(&root, &["-U", "--replacepkgs", "--nodeps", rpm]);
    let log = asked(&root);
    assert!(
        log.lines().any(|l| l == "try-restart syslane.service"),
        "an upgrade restarts it on the new binary:\n{log}"
    );
    assert_eq!(
        log.matches("preset syslane.service").count(),
        1,
        "an upgrade keeps the operator's choice (no second preset):\n{log}"
    );
}
