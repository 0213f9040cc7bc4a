//! Helpers of the package tests (tests/tests/packages.rs): running commands,
//! the throwaway Debian root (a copy of the one debootstrap made, so that a test
//! may change it), and running commands chrooted there.

use crate::*;
use std::process::Output;

/// Runs `cmd`, failing the test with its output unless it succeeds.
pub fn run(cmd: &mut Command) -> Output {
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

/// Standard output and standard error, as text.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The one file of `ext` that `dir` holds.
pub fn only_file(dir: &Path, ext: &str) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// The throwaway Debian root made with debootstrap (never changed by a test).
pub fn debian_root() -> PathBuf {
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

/// A copy of [`debian_root`] in `dir` (as `dir/root`), for a test to change.
pub fn copy_of_debian_root(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    run(Command::new("cp").arg("-a").arg(debian_root()).arg(&root));
    root
}

/// Runs `args` inside the root.
pub fn in_root(root: &Path, args: &[&str]) -> Output {
    Command::new("chroot")
        .arg(root)
        .args(args)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap()
}

/// Runs `args` inside the root, failing the test unless it succeeds; its output.
pub fn ok_in_root(root: &Path, args: &[&str]) -> String {
    let out = in_root(root, args);
    assert!(out.status.success(), "{args:?} in the root: {}", text(&out));
    text(&out)
}

/// The command that runs `args` inside the root as the service user `syslane`.
pub fn as_service_in_root(root: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("chroot");
    c.arg(root)
        .args([
            "setpriv",
            "--reuid=syslane",
            "--regid=syslane",
            "--clear-groups",
        ])
        .args(args)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    c
}

/// A service manager that is not there: `/run/systemd/system` exists (so the
/// maintainer scripts believe systemd runs), `systemctl` only writes down what it
/// was asked, and a `policy-rc.d` forbids every service action, as in an image
/// build or a chroot, writing down what it was asked too. The stand-in
/// `systemctl` is in /usr/sbin, first on PATH, where deb-systemd-helper does not
/// look for it (so it enables the unit with its own links, as without systemd).
pub fn forbid_service_actions(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(root.join("run/systemd/system")).unwrap();
    for (path, log) in [
        ("usr/sbin/policy-rc.d", "policy-rc.d.log\"\nexit 101"),
        ("usr/sbin/systemctl", "systemctl.log\"\nexit 0"),
    ] {
        let file = root.join(path);
        std::fs::write(
            &file,
            format!("#!/bin/sh\necho \"$*\" >> \"/var/log/{log}\n"),
        )
        .unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

pub fn log_of(root: &Path, name: &str) -> String {
    std::fs::read_to_string(root.join("var/log").join(name)).unwrap_or_default()
}

/// What `systemctl` was asked that starts, stops or restarts a service: with
/// policy-rc.d saying no, nothing may be.
pub fn service_actions(root: &Path) -> Vec<String> {
    log_of(root, "systemctl.log")
        .lines()
        .filter(|l| {
            ["start", "stop", "restart", "reload"]
                .iter()
                .any(|a| l.split_whitespace().any(|w| w.ends_with(a)))
                && !l.contains("daemon-reload")
        })
        .map(String::from)
        .collect()
}

/// Files under `dir` with their bytes.
pub fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut all = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                todo.push(e.path());
            } else {
                all.push((e.path(), std::fs::read(e.path()).unwrap_or_default()));
            }
        }
    }
    all.sort();
    all
}

/// Whether the journal in `root` holds `text` (entries are JSON lines).
pub fn journal_holds(root: &Path, text: &str) -> bool {
    files_under(&root.join("var/lib/syslane/journal"))
        .iter()
        .any(|(_, b)| String::from_utf8_lossy(b).contains(text))
}

/// The installed agent, run in the root as its service user.
pub fn agent_in_root(root: &Path) -> Agent {
    let agent = Agent::from_command(as_service_in_root(
        root,
        &[
            "/usr/bin/syslane",
            "run",
            "--config",
            "/etc/syslane/syslane.toml",
        ],
    ));
    agent.expect_log("syslane ready", 20);
    agent
}

/// The same package with another version, as dpkg-deb repacks it.
pub fn repacked_as(deb: &Path, version: &str, dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    run(Command::new(tool("dpkg-deb")).arg("-R").arg(deb).arg(&tree));
    let control = tree.join("DEBIAN/control");
    let text = std::fs::read_to_string(&control).unwrap();
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("Version:") {
                format!("Version: {version}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&control, text).unwrap();
    let out = dir.join(format!("syslane_{version}.deb"));
    run(Command::new(tool("dpkg-deb"))
        .arg("-b")
        .arg(&tree)
        .arg(&out));
    out
}

/// rsyslogd (the host's, in the foreground) with the drop-in installed in
/// `root`, its spool in the root's /var/spool/rsyslog and nothing listening on
/// its ports: `n` messages are queued for syslane and saved when it stops, as
/// a host's rsyslog does when syslane is removed.
pub fn rsyslog_saves_a_queue_in(root: &Path, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let spool = root.join("var/spool/rsyslog");
    std::fs::create_dir_all(&spool).unwrap();
    let drop_in = std::fs::read_to_string(root.join("etc/rsyslog.d/95-syslane.conf"))
        .unwrap()
        .replace("25224", &free_port().to_string())
        .replace("25226", &free_port().to_string())
        .replace("/var/spool/rsyslog", &spool.display().to_string());
    let port = free_port();
    let daemon = Rsyslog::start(
        dir.path(),
        &format!(
            "module(load=\"imtcp\")\ninput(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\")\n\
             *.* action(type=\"omfile\" file=\"{}\")\n{drop_in}",
            dir.path().join("local.log").display()
        ),
    );
    assert!(
        wait_until(Duration::from_secs(20), || std::net::TcpStream::connect((
            "127.0.0.1",
            port
        ))
        .is_ok()),
        "rsyslogd never listened:\n{}",
        daemon.logs()
    );
    send_tcp_lf(
        port,
        (0..n).map(|i| format!("<14>Dec  6 10:00:00 host app: queued {i}")),
    );
    let local = dir.path().join("local.log");
    assert!(
        wait_until(Duration::from_secs(20), || count_lines(&local) >= n),
        "{}",
        daemon.logs()
    );
    drop(daemon);
    assert!(
        spool.join("syslane.qi").is_file(),
        "rsyslog saved its queue"
    );
}
