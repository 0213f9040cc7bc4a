//! Bounded resources and failing destinations: the agent says what is wrong and
//! keeps its promises instead of panicking, hanging or growing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use syslane_tests::*;

#[test]
fn a_full_disk_is_retried_with_the_reason_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // Every write to /dev/full fails with ENOSPC, as on a full disk.
    let config = format!(
        "shutdown_timeout_secs = 2\n{}",
        config_text(&build_dir(), port, "", std::path::Path::new("/dev/full"))
    );
    let agent = Agent::start(dir.path(), &config);
    send_tcp_lf(port, (0..20).map(|i| format!("<13>1 - h a - - - full-{i}")));
    assert!(
        wait_until(Duration::from_secs(20), || agent
            .logs()
            .contains("No space left on device")),
        "the failure and its cause are logged:\n{}",
        agent.logs()
    );
    assert!(agent.logs().contains("the batch is kept and retried"));
    let started = Instant::now();
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "shutdown respected its deadline"
    );
    assert!(logs.contains("stay in the journal"), "{logs}");
    assert!(!logs.contains("panicked"), "{logs}");

    // The disk has room again: the next run delivers everything that was journaled.
    let out = dir.path().join("records.jsonl");
    let agent = Agent::start(dir.path(), &config_text(&build_dir(), port, "", &out));
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) >= 20));
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let mut got: Vec<String> = read_records(&out)
        .iter()
        .map(|r| r["SyslogMessage"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    let mut want: Vec<String> = (0..20).map(|i| format!("full-{i}")).collect();
    want.sort();
    assert_eq!(got, want);
    assert!(
        logs.contains("records from before the restart will be sent first"),
        "{logs}"
    );
}

#[test]
fn idle_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = format!(
        "idle_timeout_secs = 1\n{}",
        config_text(&build_dir(), port, "", &dir.path().join("o.jsonl"))
    );
    let agent = Agent::start(dir.path(), &config);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1];
    assert_eq!(
        s.read(&mut buf).unwrap_or(0),
        0,
        "the agent closed the idle connection"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let (status, logs) = agent.stop();
    assert!(
        status.success() && logs.contains("closing idle TCP connection"),
        "{logs}"
    );
}

#[test]
fn at_the_limit_the_connection_longest_without_a_message_makes_room() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("o.jsonl");
    let config = format!(
        "max_connections = 2\n{}",
        config_text(&build_dir(), port, "", &out)
    );
    let agent = Agent::start(dir.path(), &config);
    let mut first = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut second = TcpStream::connect(("127.0.0.1", port)).unwrap();
    first.write_all(b"<13>1 - h a - - - one\n").unwrap();
    second.write_all(b"<13>1 - h a - - - two\n").unwrap();
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) >= 2));
    first.write_all(b"<13>1 - h a - - - one again\n").unwrap();
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) >= 3));
    // A third sender gets in at once: the second, longest without a complete
    // message, is closed to make room.
    let mut third = TcpStream::connect(("127.0.0.1", port)).unwrap();
    third.write_all(b"<13>1 - h a - - - three\n").unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || count_lines(&out) >= 4),
        "served at once"
    );
    second
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(
        second.read(&mut buf).unwrap_or(0),
        0,
        "the second was closed"
    );
    first.write_all(b"<13>1 - h a - - - one still\n").unwrap();
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) >= 5));
    drop((first, second, third));
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    assert!(logs.contains("connection limit reached"), "{logs}");
    let mut got: Vec<String> = read_records(&out)
        .iter()
        .map(|r| r["SyslogMessage"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(got, ["one", "one again", "one still", "three", "two"]);
}

#[test]
fn oversized_udp_datagrams_are_truncated_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("o.jsonl");
    let config = format!(
        "max_message_size = 600\n{}",
        config_text(&build_dir(), port, "", &out)
    );
    let agent = Agent::start(dir.path(), &config);
    send_udp(
        port,
        [
            format!("<13>1 - h a - - - big {}", "y".repeat(2000)),
            "<13>1 - h a - - - small\n".to_string(),
        ],
        0,
    );
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) >= 2));
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let records = read_records(&out);
    let big = records
        .iter()
        .find(|r| r["SyslogMessage"].as_str().unwrap().starts_with("big"))
        .unwrap();
    assert_eq!(big["Truncated"], true);
    assert!(big["SyslogMessage"].as_str().unwrap().len() < 600);
    let small = records
        .iter()
        .find(|r| r["SyslogMessage"] == "small")
        .expect("trailing LF removed from the datagram");
    assert!(small.get("Truncated").is_none());
}

#[test]
fn a_stuck_output_pushes_back_on_tcp_senders_with_bounded_memory() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // A small journal, so that it fills: with when_full = "block" (the default) the
    // sender must then be paused rather than the agent buffering without end.
    let config = format!(
        "shutdown_timeout_secs = 1\njournal_max_bytes = 4194304\n{}",
        config_text(&build_dir(), port, "", std::path::Path::new("/dev/full"))
    );
    let agent = Agent::start(dir.path(), &config);
    let chunk = octet_stream(
        (0..10_000).map(|i| format!("<13>1 - h a - - - pressure {i:08} {}", "z".repeat(100))),
    );
    let total = 200u64 * chunk.len() as u64;
    let sent = Arc::new(AtomicU64::new(0));
    let progress = Arc::clone(&sent);
    let sender = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        for _ in 0..200 {
            if s.write_all(&chunk).is_err() {
                return;
            }
            progress.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
    });
    // Wait until the sender stalls: no progress for a second.
    let mut last = u64::MAX;
    assert!(wait_until(Duration::from_secs(30), || {
        std::thread::sleep(Duration::from_millis(1000));
        let now = sent.load(Ordering::Relaxed);
        let stalled = now == last;
        last = now;
        stalled
    }));
    let stalled_at = sent.load(Ordering::Relaxed);
    assert!(
        stalled_at < total,
        "the sender was paused, not allowed to write everything ({stalled_at} of {total} bytes)"
    );
    let rss_mib = peak_rss_kib(agent.pid()).unwrap() / 1024;
    assert!(
        rss_mib < 200,
        "agent memory stays bounded while the output is stuck: {rss_mib} MiB"
    );
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let _ = sender.join();
    eprintln!(
        "sender paused after {} MiB of {} MiB; agent peak RSS {rss_mib} MiB",
        stalled_at >> 20,
        total >> 20
    );
}

#[test]
fn a_thousand_concurrent_connections_and_churn_within_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("o.jsonl");
    let agent = Agent::start(dir.path(), &config_text(&build_dir(), port, "", &out));
    // 1,000 connections open at once, each sending five messages.
    let mut open: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    for (c, s) in open.iter_mut().enumerate() {
        let batch: String = (0..5)
            .map(|i| format!("<13>1 - h a - - - conc-{c:04}-{i}\n"))
            .collect();
        s.write_all(batch.as_bytes()).unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(30), || count_lines(&out) >= 5000),
        "{} of 5000",
        count_lines(&out)
    );
    let rss_open = peak_rss_kib(agent.pid()).unwrap() / 1024;
    drop(open);
    // Churn: 2,000 short connections, one message each.
    for c in 0..2000 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(format!("<13>1 - h a - - - churn-{c:04}\n").as_bytes())
            .unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(30), || count_lines(&out) >= 7000),
        "{} of 7000",
        count_lines(&out)
    );
    let rss_end = peak_rss_kib(agent.pid()).unwrap() / 1024;
    let config = dir.path().join("syslane.toml");
    assert!(
        wait_until(Duration::from_secs(20), || {
            let out = std::process::Command::new(agent_binary())
                .args([
                    "stats",
                    "--prometheus",
                    "--config",
                    config.to_str().unwrap(),
                ])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).contains("syslane_connections_open 0\n")
        }),
        "every connection was closed and counted"
    );
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let records = read_records(&out);
    let distinct: std::collections::HashSet<&str> = records
        .iter()
        .map(|r| r["SyslogMessage"].as_str().unwrap())
        .collect();
    assert_eq!((records.len(), distinct.len()), (7000, 7000));
    assert!(rss_end < 256, "peak RSS {rss_end} MiB");
    eprintln!(
        "1,000 open connections: peak RSS {rss_open} MiB; after 2,000 more (churn): {rss_end} MiB"
    );
}
