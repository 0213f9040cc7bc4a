//! Unix socket listeners: `unix://` datagrams (rsyslog's omuxsock, syslog-ng's
//! unix-dgram(), util-linux logger -u) and `unixstream://`, with the socket's
//! mode and group from the configuration, the same counters as the network
//! listeners, and the UDP rule when the pipeline is stuck: a datagram is
//! delivered or counted as dropped, and the sender is never held for ever.
//! The daemons are real, started by the tests with their own configuration
//! written by `syslane syslog-config --unix-socket`.

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use syslane_tests::*;

fn unix_listen(path: &Path, scheme: &str, extra: &str) -> String {
    format!(
        "[[listen]]\naddress = \"{scheme}://{}\"\ninput = \"syslog\"\ntimezone = \"UTC\"\n{extra}",
        path.display()
    )
}

/// A group other than this process's own, which the agent (run by the same
/// user) may give its socket to: for root any group, else a supplementary one.
/// The socket would be in the process's own group without socket_group.
fn other_group() -> (String, u32) {
    let id = |arg: &str| {
        let out = Command::new("id").arg(arg).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let own: u32 = id("-g").parse().unwrap();
    let candidates: Vec<(String, u32)> = if id("-u") == "0" {
        std::fs::read_to_string("/etc/group")
            .unwrap()
            .lines()
            .filter_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?.to_string();
                Some((name, f.nth(1)?.parse().ok()?))
            })
            .collect()
    } else {
        id("-Gn")
            .split_whitespace()
            .map(String::from)
            .zip(id("-G").split_whitespace().map(|g| g.parse().unwrap()))
            .collect()
    };
    candidates
        .into_iter()
        .find(|(_, gid)| *gid != own)
        .expect("socket_group needs a group other than this user's own: run the tests as root (as CI does) or as a user in a supplementary group")
}

fn messages(out: &Path) -> Vec<String> {
    read_records(out)
        .iter()
        .filter_map(|r| r["SyslogMessage"].as_str().map(String::from))
        .collect()
}

#[test]
fn datagram_and_stream_sockets_with_mode_group_and_counters() {
    let dir = tempfile::tempdir().unwrap();
    let dgram = dir.path().join("run/syslog.sock");
    let stream = dir.path().join("run/stream.sock");
    let out = dir.path().join("out.jsonl");
    let (group, gid) = other_group();
    let config = config_with(
        &build_dir(),
        &format!(
            "{}{}",
            unix_listen(
                &dgram,
                "unix",
                &format!("socket_mode = \"0660\"\nsocket_group = \"{group}\"\n")
            ),
            unix_listen(&stream, "unixstream", "")
        ),
        &out,
    );
    let agent = Agent::start(dir.path(), &config);
    let meta = std::fs::metadata(&dgram).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), gid, "socket_group = {group}");
    assert_eq!(
        std::fs::metadata(&stream).unwrap().permissions().mode() & 0o777,
        0o666,
        "the default mode"
    );

    let sender = UnixDatagram::unbound().unwrap();
    for i in 0..3 {
        sender
            .send_to(
                format!("<38>1 - web1 sshd 77 - - dgram {i}\n").as_bytes(),
                &dgram,
            )
            .unwrap();
    }
    let status = Command::new(tool("logger"))
        .args([
            "-u",
            dgram.to_str().unwrap(),
            "-d",
            "--rfc5424",
            "-p",
            "auth.warning",
        ])
        .args(["-t", "probe", "from logger"])
        .status()
        .unwrap();
    assert!(status.success());
    let mut s = UnixStream::connect(&stream).unwrap();
    s.write_all(&octet_stream(
        (0..2).map(|i| format!("<13>1 - h app - - - stream {i}")),
    ))
    .unwrap();
    drop(s);
    assert!(
        wait_until(Duration::from_secs(20), || count_lines(&out) == 6),
        "{:?}\n{}",
        messages(&out),
        agent.logs()
    );
    let records = read_records(&out);
    let by_logger = records
        .iter()
        .find(|r| r["SyslogMessage"] == "from logger")
        .unwrap();
    assert_eq!(by_logger["Facility"], "auth");
    assert_eq!(by_logger["SeverityLevel"], "warning");
    assert_eq!(by_logger["ProcessName"], "probe");
    let first = records
        .iter()
        .find(|r| r["SyslogMessage"] == "dgram 0")
        .unwrap();
    assert_eq!(first["HostName"], "web1");
    assert!(
        first["HostIP"].as_str().is_some_and(|ip| !ip.is_empty()),
        "{first}"
    );
    for text in ["dgram 1", "dgram 2", "stream 0", "stream 1"] {
        assert!(records.iter().any(|r| r["SyslogMessage"] == text), "{text}");
    }
    let stats = stats_of(dir.path());
    assert_eq!(
        counter(&stats, "syslane_frames_received_total"),
        6,
        "{stats}"
    );
    assert_eq!(
        counter(&stats, "syslane_connections_accepted_total"),
        1,
        "{stats}"
    );
    assert_eq!(counter(&stats, "syslane_unix_dropped_total"), 0, "{stats}");

    // A crash leaves the socket file behind: the next start replaces it.
    Command::new(tool("kill"))
        .args(["-KILL", &agent.pid().to_string()])
        .status()
        .unwrap();
    drop(agent);
    assert!(dgram.exists());
    let agent = Agent::start(dir.path(), &config);
    sender
        .send_to(b"<14>1 - h app - - - after restart", &dgram)
        .unwrap();
    assert!(wait_until(Duration::from_secs(20), || messages(&out)
        .contains(&"after restart".to_string())));
    // A second agent on the same sockets is refused, and the first keeps them.
    let other = tempfile::tempdir().unwrap();
    let path = other.path().join("syslane.toml");
    std::fs::write(
        &path,
        config_with(
            &build_dir(),
            &unix_listen(&dgram, "unix", ""),
            &other.path().join("o.jsonl"),
        ),
    )
    .unwrap();
    let (ok, _, err) = syslane(&["run", "--config", path.to_str().unwrap()]);
    assert!(
        !ok && err.contains("another process listens on this socket"),
        "{err}"
    );
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    assert!(!dgram.exists() && !stream.exists(), "removed at stop");

    // A path that is not a socket is never removed.
    std::fs::write(&dgram, "precious").unwrap();
    let (ok, _, err) = syslane(&[
        "run",
        "--config",
        dir.path().join("syslane.toml").to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("exists and is not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&dgram).unwrap(), "precious");
}

#[test]
fn datagrams_are_delivered_or_counted_when_the_pipeline_is_stuck() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("syslog.sock");
    let plugins = plugin_dir_with_reject_output(dir.path());
    let out_dir = dir.path().join("later");
    let out = out_dir.join("records.jsonl");
    let config = format!(
        "state_dir = \"state\"\nplugin_dir = \"{}\"\njournal_max_bytes = 1048576\n{}\
         [output]\nplugin = \"example-reject\"\npath = \"{}\"\nreject = \"never-in-a-message\"\n",
        plugins.display(),
        unix_listen(&socket, "unix", ""),
        out.display()
    );
    let agent = Agent::start(dir.path(), &config);
    // The kernel queues only net.unix.max_dgram_qlen datagrams (10 by default) while
    // the agent waits for room, and an empty journal takes a chunk of any size, so
    // how many fit before the first drop depends on timing: send rounds of 2.2 KB
    // records until the agent has dropped some (or far more than the 1 MiB journal
    // and the queues can hold have gone in), then check that each is accounted for.
    let sender = UnixDatagram::unbound().unwrap();
    sender
        .set_write_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut n = 0u64;
    while n < 20_000 {
        for _ in 0..500 {
            let m = format!("<14>1 - h a - - - unix-{n:06} {}", "p".repeat(2000));
            sender
                .send_to(m.as_bytes(), &socket)
                .unwrap_or_else(|e| panic!("datagram {n}: the sender was held: {e}"));
            n += 1;
        }
        if counter(&stats_of(dir.path()), "syslane_unix_dropped_total") > 0 {
            break;
        }
    }
    std::fs::create_dir_all(&out_dir).unwrap();
    let accounted = || {
        let stats = stats_of(dir.path());
        (
            count_lines(&out) as u64,
            counter(&stats, "syslane_unix_dropped_total"),
        )
    };
    let settled = wait_until(Duration::from_secs(40), || {
        let (arrived, dropped) = accounted();
        arrived + dropped >= n
    });
    let (arrived, dropped) = accounted();
    assert!(
        settled,
        "{arrived} arrived + {dropped} dropped of {n}\n{}",
        agent.logs()
    );
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    eprintln!("{n} sent: {arrived} arrived, {dropped} dropped by the agent (pipeline full)");
    assert_eq!(
        arrived + dropped,
        n,
        "every datagram is delivered or counted"
    );
    assert!(dropped > 0, "the pipeline was full");
    assert!(logs.contains("unix socket datagrams dropped"), "{logs}");
}

/// syslane with a unix datagram listener (syslog) and a TCP CEF listener.
fn agent_for_daemon(dir: &Path) -> (Agent, std::path::PathBuf, u16) {
    let socket = dir.join("syslog.sock");
    let cef = free_port();
    let listen = format!(
        "{}[[listen]]\naddress = \"tcp://127.0.0.1:{cef}\"\ninput = \"cef\"\n",
        unix_listen(&socket, "unix", "")
    );
    let agent = Agent::start(
        dir,
        &config_with(&build_dir(), &listen, &dir.join("out.jsonl")),
    );
    (agent, socket, cef)
}

/// `syslane syslog-config --unix-socket` for `daemon`, checked by the daemon.
fn drop_in(dir: &Path, daemon: &str, socket: &Path, cef: u16) -> std::path::PathBuf {
    let file = dir.join(format!("{daemon}-syslane.conf"));
    let spool = dir.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let (ok, out, err) = syslane(&[
        "syslog-config",
        "--daemon",
        daemon,
        "--all=info",
        "--unix-socket",
        socket.to_str().unwrap(),
        "--cef-port",
        &cef.to_string(),
        "--spool-dir",
        spool.to_str().unwrap(),
        "--output",
        file.to_str().unwrap(),
    ]);
    assert!(ok && out.contains("checked with"), "{out}{err}");
    file
}

fn send_with_logger(port: u16) {
    for (i, prio) in ["auth.warning", "daemon.info", "local3.debug"]
        .iter()
        .enumerate()
    {
        let status = Command::new(tool("logger"))
            .args([
                "-T",
                "-n",
                "127.0.0.1",
                "-P",
                &port.to_string(),
                "--rfc3164",
            ])
            .args(["-p", prio, "-t", "probe-app", "--id=4242"])
            .arg(format!("via socket {i} {prio}"))
            .status()
            .unwrap();
        assert!(status.success());
    }
}

fn check_forwarded(out: &Path, logs: impl Fn() -> String) {
    let arrived = wait_until(Duration::from_secs(30), || {
        messages(out)
            .iter()
            .filter(|m| m.starts_with("via socket"))
            .count()
            >= 2
    });
    assert!(arrived, "{:?}\n{}", messages(out), logs());
    std::thread::sleep(Duration::from_millis(500));
    let records = read_records(out);
    let auth = records
        .iter()
        .find(|r| r["SyslogMessage"] == "via socket 0 auth.warning")
        .unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(auth["Facility"], "auth");
    assert_eq!(auth["SeverityLevel"], "warning");
    assert_eq!(auth["ProcessName"], "probe-app");
    assert_eq!(auth["ProcessID"], 4242);
    assert!(records
        .iter()
        .any(|r| r["SyslogMessage"] == "via socket 1 daemon.info"));
    assert!(
        !records
            .iter()
            .any(|r| r["SyslogMessage"] == "via socket 2 local3.debug"),
        "below the selection"
    );
    assert!(
        !records.iter().any(|r| r.get("ParseFailed").is_some()),
        "{records:?}"
    );
}

#[test]
fn rsyslog_forwards_with_omuxsock_to_the_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, socket, cef) = agent_for_daemon(dir.path());
    let file = drop_in(dir.path(), "rsyslog", &socket, cef);
    let input = free_port();
    let rsyslog = Rsyslog::start(
        dir.path(),
        &format!(
            "module(load=\"imtcp\")\ninput(type=\"imtcp\" port=\"{input}\" address=\"127.0.0.1\")\ninclude(file=\"{}\")\n",
            file.display()
        ),
    );
    std::thread::sleep(Duration::from_millis(300));
    send_with_logger(input);
    check_forwarded(&dir.path().join("out.jsonl"), || {
        format!("rsyslog:\n{}\nsyslane:\n{}", rsyslog.logs(), agent.logs())
    });
    drop(rsyslog);
    agent.stop();
}

#[test]
fn syslog_ng_forwards_with_unix_dgram_to_the_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, socket, cef) = agent_for_daemon(dir.path());
    let file = drop_in(dir.path(), "syslog-ng", &socket, cef);
    let input = free_port();
    let sng = SyslogNg::start(
        dir.path(),
        &format!(
            "@version: {}\noptions {{ keep-hostname(yes); chain-hostnames(no); use-dns(no); stats-freq(0); }};\n\
             source s_src {{ network(ip(\"127.0.0.1\") port({input}) transport(\"tcp\")); }};\n@include \"{}\"\n",
            SyslogNg::version(),
            file.display()
        ),
    );
    std::thread::sleep(Duration::from_millis(500));
    send_with_logger(input);
    check_forwarded(&dir.path().join("out.jsonl"), || {
        format!("syslog-ng:\n{}\nsyslane:\n{}", sng.logs(), agent.logs())
    });
    drop(sng);
    agent.stop();
}
