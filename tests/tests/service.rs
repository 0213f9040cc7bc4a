//! The systemd side: the agent speaks sd_notify (READY once listening, WATCHDOG at
//! half of WATCHDOG_USEC, RELOADING then READY around SIGHUP, STOPPING on SIGTERM)
//! on a real datagram socket, and the shipped unit passes `systemd-analyze verify`
//! with a security exposure the test prints and bounds.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use syslane_tests::*;

/// Every datagram received until `until` says yes or the time is up.
fn receive_until(sock: &UnixDatagram, secs: u64, until: impl Fn(&[String]) -> bool) -> Vec<String> {
    let mut got = Vec::new();
    let end = Instant::now() + Duration::from_secs(secs);
    let mut buf = [0u8; 4096];
    while Instant::now() < end && !until(&got) {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).to_string());
        }
    }
    got
}

#[test]
fn the_agent_notifies_ready_watchdog_reloading_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_builtins(dir.path());
    let port = free_port();
    let config = dir.path().join("syslane.toml");
    std::fs::write(
        &config,
        config_text(&plugins, port, "", &dir.path().join("out.jsonl")),
    )
    .unwrap();
    let socket_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&socket_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    // systemd sets WATCHDOG_PID to the service's pid: exec keeps the shell's.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("WATCHDOG_PID=$$ exec \"$0\" run --config \"$1\"")
        .arg(build_dir().join("syslane"))
        .arg(&config)
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "200000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();

    let got = receive_until(&sock, 20, |g| {
        g.iter().filter(|m| m.contains("WATCHDOG=1")).count() >= 3
    });
    let ready = got.iter().position(|m| m.contains("READY=1"));
    assert!(ready.is_some(), "{got:?}");
    assert!(
        got[ready.unwrap()].contains("STATUS=listening on 2 addresses"),
        "{got:?}"
    );
    // Listening before READY: a connection succeeds right away.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    assert!(
        got.iter().filter(|m| m.contains("WATCHDOG=1")).count() >= 3,
        "pets every 100 ms: {got:?}"
    );

    Command::new(tool("kill"))
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    let got = receive_until(&sock, 20, |g| g.iter().any(|m| m.contains("READY=1")));
    let reloading = got.iter().position(|m| m.contains("RELOADING=1"));
    let ready = got.iter().position(|m| m.contains("READY=1"));
    assert!(
        matches!((reloading, ready), (Some(a), Some(b)) if a < b),
        "RELOADING then READY: {got:?}"
    );
    assert!(
        got[reloading.unwrap()].contains("MONOTONIC_USEC="),
        "{got:?}"
    );

    Command::new(tool("kill"))
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let got = receive_until(&sock, 20, |g| g.iter().any(|m| m.contains("STOPPING=1")));
    assert!(got.iter().any(|m| m.contains("STOPPING=1")), "{got:?}");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn the_unit_passes_systemd_analyze_verify_and_its_exposure_is_low() {
    let analyze = tool("systemd-analyze");
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(workspace_root().join("systemd/syslane.service")).unwrap();
    // verify checks that ExecStart's program exists: point it at the build.
    let unit = unit.replace(
        "/usr/bin/syslane",
        build_dir().join("syslane").to_str().unwrap(),
    );
    let path = dir.path().join("syslane.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new(&analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&analyze)
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| {
            panic!(
                "no exposure level in: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    eprintln!("{line}");
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(score <= 2.0, "the sandbox weakened: {line}\n{text}");
}
