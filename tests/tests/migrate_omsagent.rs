//! `syslane migrate omsagent` with real daemons: a copy of a host the old agent
//! set up (`tests/data/omsagent/`, its ports moved to free test ports), a real
//! rsyslogd or syslog-ng running first with the old agent's rules (forwarding to
//! loopback listeners standing in for omsagent) and then, after `migrate
//! --apply`, with the migrated ones (forwarding to a real agent). The same grid of
//! facility x severity messages, and CEF lines, reaches the old agent's listeners
//! and then syslane with exactly the same set, once each; the old listeners get
//! nothing after the swap.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use syslane_tests::*;

/// A stand-in for the old agent's listeners: what arrived, by id.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<String>>>);

impl Received {
    fn push_ids(&self, text: &str) {
        let mut got = self.0.lock().unwrap();
        for word in text.split(|c: char| c.is_whitespace() || c == '|') {
            if word.starts_with("grid-") || word.starts_with("cef-") {
                got.push(word.to_string());
            }
        }
    }
    fn ids(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// A UDP and a TCP (LF-framed) listener on `port`, as omsagent's in_syslog.
fn stand_in(port: u16) -> Received {
    let received = Received::default();
    let udp = std::net::UdpSocket::bind(("127.0.0.1", port)).unwrap();
    let r = received.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = udp.recv(&mut buf) {
            r.push_ids(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let tcp = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let r = received.clone();
    std::thread::spawn(move || {
        for stream in tcp.incoming().flatten() {
            let r = r.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    r.push_ids(&line);
                }
            });
        }
    });
    received
}

/// Copies a sample host and moves its ports (`from` -> `to`) in every text file.
fn host_copy(sample: &str, dir: &Path, ports: &[(u16, u16)]) -> PathBuf {
    let src = workspace_root().join("tests/data/omsagent").join(sample);
    let root = dir.join("root");
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(&src)
        .arg(&root)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    fn walk(dir: &Path, ports: &[(u16, u16)]) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_symlink() {
                continue;
            }
            if p.is_dir() {
                walk(&p, ports);
            } else if let Ok(mut text) = std::fs::read_to_string(&p) {
                for (from, to) in ports {
                    text = text.replace(&from.to_string(), &to.to_string());
                }
                std::fs::write(&p, text).unwrap();
            }
        }
    }
    walk(&root, ports);
    root
}

/// Every facility x severity, and CEF lines on `cef_facility`.
fn grid(cef_facility: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (f, fac) in FACILITIES.iter().enumerate() {
        for (s, sev) in SEVERITIES.iter().enumerate() {
            out.push(format!(
                "<{}>Nov 25 10:00:00 h app: grid-{fac}-{sev} x",
                f * 8 + s
            ));
        }
    }
    for i in 0..5 {
        out.push(format!(
            "<{}>Nov 25 10:00:00 fw01 CEF:0|Acme|Fw|1|cef-{i}|blocked|5|src=10.0.0.{i}",
            cef_facility * 8 + 6
        ));
    }
    out
}

/// Sends over TCP once the daemon listens.
fn send_when_listening(port: u16, messages: Vec<String>) {
    assert!(
        wait_until(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        }),
        "the daemon never listened on {port}"
    );
    send_tcp_lf(port, messages);
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The ids in syslane's records: (syslog ones, CEF ones).
fn syslane_ids(out: &Path) -> (Vec<String>, Vec<String>) {
    let (mut plain, mut cef) = (Vec::new(), Vec::new());
    for r in read_records(out) {
        if let Some(id) = r["DeviceEventClassID"].as_str() {
            cef.push(id.to_string());
        } else if let Some(m) = r["SyslogMessage"].as_str() {
            plain.extend(
                m.split_whitespace()
                    .filter(|w| w.starts_with("grid-") || w.starts_with("cef-"))
                    .map(String::from),
            );
        }
    }
    (sorted(plain), sorted(cef))
}

fn migrate(root: &Path, spool: &Path) -> String {
    let (ok, out, err) = syslane(&[
        "migrate",
        "omsagent",
        "--root",
        root.to_str().unwrap(),
        "--spool-dir",
        spool.to_str().unwrap(),
        "--apply",
    ]);
    assert!(ok, "{out}{err}");
    out
}

/// syslane's configuration under the copied root (migrate reads its ports), and
/// the agent running it with a file output.
fn start_syslane(dir: &Path, root: &Path) -> (Agent, PathBuf, u16, u16) {
    let (syslog, cef) = (free_port(), free_port());
    let out = dir.join("records.jsonl");
    let config = config_with(
        &build_dir(),
        &format!(
            "[[listen]]\naddress = \"tcp://127.0.0.1:{syslog}\"\ninput = \"syslog\"\ntimezone = \"UTC\"\n\
             [[listen]]\naddress = \"tcp://127.0.0.1:{cef}\"\ninput = \"cef\"\ntimezone = \"UTC\"\n"
        ),
        &out,
    );
    std::fs::create_dir_all(root.join("etc/syslane")).unwrap();
    std::fs::write(root.join("etc/syslane/syslane.toml"), &config).unwrap();
    let run = dir.join("agent");
    std::fs::create_dir_all(&run).unwrap();
    (Agent::start(&run, &config), out, syslog, cef)
}

/// Waits until `ids()` has `n` entries and then a little more, so a duplicate
/// would show.
fn settle(n: usize, ids: impl Fn() -> usize, what: &str, logs: impl Fn() -> String) {
    assert!(
        wait_until(Duration::from_secs(20), || ids() >= n),
        "{what}: {} of {n} arrived\n{}",
        ids(),
        logs()
    );
    std::thread::sleep(Duration::from_millis(700));
}

#[test]
fn rsyslog_forwards_the_same_set_before_and_after_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    let (old_syslog, old_security) = (free_port(), free_port());
    let root = host_copy(
        "rsyslog-single",
        dir.path(),
        &[(25224, old_syslog), (25226, old_security)],
    );
    let spool = dir.path().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let old = (stand_in(old_syslog), stand_in(old_security));
    let input = free_port();
    let main = format!(
        "module(load=\"imtcp\")\ninput(type=\"imtcp\" port=\"{input}\" address=\"127.0.0.1\")\n$IncludeConfig {}/etc/rsyslog.d/*.conf\n",
        root.display()
    );
    let messages = grid(20);

    // Before: the old agent's rules.
    let phase1 = dir.path().join("before");
    std::fs::create_dir_all(&phase1).unwrap();
    let rsyslog = Rsyslog::start(&phase1, &main);
    send_when_listening(input, messages.clone());
    // auth 8, authpriv 7, daemon 5, kern 4, local0 7 by syslog; 5 CEF on local4.
    settle(
        31,
        || old.0.ids().len(),
        "old syslog listener",
        || rsyslog.logs(),
    );
    settle(
        5,
        || old.1.ids().iter().filter(|i| i.starts_with("cef-")).count(),
        "old security listener",
        || rsyslog.logs(),
    );
    drop(rsyslog);
    let before_syslog = sorted(old.0.ids());
    let before_cef: Vec<String> = sorted(
        old.1
            .ids()
            .into_iter()
            .filter(|i| i.starts_with("cef-"))
            .collect(),
    );
    assert_eq!(before_syslog.len(), 31, "{before_syslog:?}");
    let mut unique = before_syslog.clone();
    unique.dedup();
    assert_eq!(unique, before_syslog, "the old rules forwarded each once");

    // The swap. A dry run changes nothing and says what it would do.
    let (agent, out, _, _) = start_syslane(dir.path(), &root);
    let files_before = std::process::Command::new("ls")
        .args(["-lR", "--time-style=full-iso"])
        .arg(&root)
        .output()
        .unwrap()
        .stdout;
    let (ok, plan, err) = syslane(&["migrate", "omsagent", "--root", root.to_str().unwrap()]);
    assert!(ok, "{plan}{err}");
    for part in [
        "Would write:",
        "/etc/rsyslog.d/95-syslane.conf",
        "Would disable",
        "/etc/rsyslog.d/95-omsagent.conf:2: auth.=alert",
        "Not carried over",
        "Nothing was changed",
    ] {
        assert!(plan.contains(part), "{part}: {plan}");
    }
    assert!(
        !plan.contains("password"),
        "the proxy line is not printed: {plan}"
    );
    let files_after = std::process::Command::new("ls")
        .args(["-lR", "--time-style=full-iso"])
        .arg(&root)
        .output()
        .unwrap()
        .stdout;
    assert_eq!(files_before, files_after, "the dry run changed files");
    let report = migrate(&root, &spool);
    assert!(
        report.contains("disabled 6 line(s) of /etc/rsyslog.d/95-omsagent.conf"),
        "{report}"
    );
    let again = migrate(&root, &spool);
    assert!(again.contains("Nothing to change"), "{again}");
    let copy = root.join("etc/syslane/proxy.conf");
    assert_eq!(
        std::fs::read_to_string(&copy).unwrap(),
        "https://user01:password@proxy01.contoso.com:30443"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // After: the migrated rules, to syslane.
    let phase2 = dir.path().join("after");
    std::fs::create_dir_all(&phase2).unwrap();
    let rsyslog = Rsyslog::start(&phase2, &main);
    send_when_listening(input, messages);
    settle(
        36,
        || count_lines(&out),
        "syslane",
        || format!("{}\n{}", rsyslog.logs(), agent.logs()),
    );
    let (syslog, cef) = syslane_ids(&out);
    assert_eq!(
        syslog, before_syslog,
        "the same syslog selection, once each"
    );
    assert_eq!(
        cef, before_cef,
        "the same CEF lines, once each, as CommonSecurityLog"
    );
    assert_eq!(count_lines(&out), 36);
    assert_eq!(
        old.0.ids().len(),
        31,
        "the old syslog listener got nothing more"
    );
    assert_eq!(
        old.1.ids().iter().filter(|i| i.starts_with("cef-")).count(),
        5
    );
    drop(rsyslog);
    agent.stop();
}

#[test]
fn syslog_ng_forwards_the_same_set_before_and_after_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    let (old_syslog, old_security, other_ws) = (free_port(), free_port(), free_port());
    let root = host_copy(
        "syslog-ng-two-workspaces",
        dir.path(),
        &[
            (25224, old_syslog),
            (25226, old_security),
            (25227, other_ws),
        ],
    );
    let old = (stand_in(old_syslog), stand_in(old_security));
    let _other = stand_in(other_ws);
    let input = free_port();
    // The host's syslog-ng.conf with its own source replaced by the test's input:
    // its active `_oms` statements, and the conf.d drop-ins.
    let main = |root: &Path| {
        let text = std::fs::read_to_string(root.join("etc/syslog-ng/syslog-ng.conf")).unwrap();
        let oms: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains("_oms"))
            .collect();
        format!(
            "@version: {}\nsource s_src {{ network(ip(\"127.0.0.1\") port({input}) transport(\"tcp\")); }};\n{}\n@include \"{}/etc/syslog-ng/conf.d/*.conf\"\n",
            SyslogNg::version(),
            oms.join("\n"),
            root.display()
        )
    };
    let messages = grid(20);

    let phase1 = dir.path().join("before");
    std::fs::create_dir_all(&phase1).unwrap();
    let daemon = SyslogNg::start(&phase1, &main(&root));
    send_when_listening(input, messages.clone());
    // Workspace 1: auth 8, local1 4, user err and info 2; CEF by content.
    settle(
        14,
        || old.0.ids().len(),
        "old syslog listener",
        || daemon.logs(),
    );
    settle(
        5,
        || old.1.ids().len(),
        "old security listener",
        || daemon.logs(),
    );
    drop(daemon);
    let before_syslog = sorted(old.0.ids());
    let before_cef = sorted(old.1.ids());
    assert_eq!(before_syslog.len(), 14, "{before_syslog:?}");
    assert_eq!(before_cef.len(), 5, "{before_cef:?}");

    let (agent, out, _, _) = start_syslane(dir.path(), &root);
    let report = migrate(&root, dir.path());
    assert!(
        report.contains("/etc/syslog-ng/conf.d/syslane.conf"),
        "{report}"
    );

    let phase2 = dir.path().join("after");
    std::fs::create_dir_all(&phase2).unwrap();
    let daemon = SyslogNg::start(&phase2, &main(&root));
    send_when_listening(input, messages);
    settle(
        19,
        || count_lines(&out),
        "syslane",
        || format!("{}\n{}", daemon.logs(), agent.logs()),
    );
    let (syslog, cef) = syslane_ids(&out);
    assert_eq!(syslog, before_syslog);
    assert_eq!(cef, before_cef);
    assert_eq!(count_lines(&out), 19);
    assert_eq!(
        old.0.ids().len(),
        14,
        "the old syslog listener got nothing more"
    );
    assert_eq!(old.1.ids().len(), 5);
    drop(daemon);
    agent.stop();
}
