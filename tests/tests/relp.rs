//! RELP against rsyslog's real omrelp: rsyslogd (started here, with its own
//! config) receives plain TCP and forwards over RELP to the agent.

use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use syslane_tests::*;

fn message(i: usize) -> String {
    format!(
        "<{}>1 2026-03-07T10:00:00Z host-relp app-relp {} - - relp-{i:06}",
        8 * 3 + 4,
        100 + i % 900
    )
}

fn numbers(records: &[Value]) -> HashMap<usize, usize> {
    let mut seen = HashMap::new();
    for r in records {
        if let Some(n) = r["SyslogMessage"]
            .as_str()
            .and_then(|m| m.strip_prefix("relp-"))
        {
            let n = n.split(' ').next().unwrap_or(n);
            *seen.entry(n.parse::<usize>().unwrap()).or_insert(0) += 1;
        }
    }
    seen
}

/// Sends `messages` into rsyslog's TCP input on `in_port`, waits until `out` holds
/// `expect` records, stops both and returns the agent's logs.
fn through_rsyslog(
    agent: Agent,
    rsyslog: Daemon,
    in_port: u16,
    messages: impl IntoIterator<Item = String>,
    out: &std::path::Path,
    expect: usize,
    secs: u64,
) -> String {
    assert!(wait_until(Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", in_port)).is_ok()
    }));
    send_tcp_octet(in_port, messages);
    assert!(
        wait_until(Duration::from_secs(secs), || count_lines(out) >= expect),
        "{} arrived\nrsyslog: {}\nagent: {}",
        count_lines(out),
        rsyslog.logs(),
        agent.logs()
    );
    drop(rsyslog);
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    logs
}

#[test]
fn rsyslog_omrelp_delivers_every_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let (relp_port, in_port) = (free_port(), free_port());
    let out = dir.path().join("records.jsonl");
    let agent = Agent::start(dir.path(), &relp_config_text(&build_dir(), relp_port, &out));
    let rsyslog = Rsyslog::start(dir.path(), &rsyslog_relp_forwarder(in_port, relp_port));
    let n = 20_000;
    through_rsyslog(agent, rsyslog, in_port, (0..n).map(message), &out, n, 60);
    let records = read_records(&out);
    let seen = numbers(&records);
    assert_eq!(seen.len(), n, "every message arrived");
    assert!(seen.values().all(|c| *c == 1), "none twice without a crash");
    let r = records
        .iter()
        .find(|r| r["SyslogMessage"] == "relp-000007")
        .unwrap();
    assert_eq!(
        (
            r["HostName"].as_str(),
            r["ProcessName"].as_str(),
            r["ProcessID"].as_u64()
        ),
        (Some("host-relp"), Some("app-relp"), Some(107))
    );
    assert_eq!(
        (r["Facility"].as_str(), r["SeverityLevel"].as_str()),
        (Some("daemon"), Some("warning"))
    );
}

/// The loss test: the agent is killed with SIGKILL at random moments while rsyslog
/// streams over RELP. rsyslog resends what was not answered; what was answered was
/// journaled (fsync = "batch") before the answer. After the last restart every
/// message is there; duplicates are allowed and reported.
#[test]
fn kill_9_during_a_relp_stream_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (relp_port, in_port) = (free_port(), free_port());
    let out = dir.path().join("records.jsonl");
    // A plain TCP listener beside RELP: TCP has no acknowledgement, so its loss at a
    // kill is only measured and reported.
    let tcp_port = free_port();
    let config = format!(
        "{}[[listen]]\naddress = \"tcp://127.0.0.1:{tcp_port}\"\ninput = \"syslog\"\n",
        relp_config_text(&build_dir(), relp_port, &out)
    );
    let mut agent = Agent::start(dir.path(), &config);
    let rsyslog = Rsyslog::start(dir.path(), &rsyslog_relp_forwarder(in_port, relp_port));
    assert!(wait_until(Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", in_port)).is_ok()
    }));
    let n = 200_000;
    let feeder = std::thread::spawn(move || {
        for part in 0..20 {
            send_tcp_octet(in_port, (part * n / 20..(part + 1) * n / 20).map(message));
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let tcp_sent = Arc::new(AtomicUsize::new(0));
    let tcp_progress = Arc::clone(&tcp_sent);
    let tcp_feeder = std::thread::spawn(move || {
        // Reconnects after each kill, like a plain TCP forwarder would.
        let mut i = 0;
        while i < 50_000 {
            let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", tcp_port)) else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            while i < 50_000 {
                if s.write_all(&octet_stream([format!("<13>1 - h a - - - tcp-{i:06}")]))
                    .is_err()
                {
                    break;
                }
                i += 1;
                tcp_progress.store(i, Ordering::Relaxed);
                if i % 500 == 0 {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    });
    let mut seed = Instant::now().elapsed().subsec_nanos() as u64 | 1;
    let mut kills = 0;
    while kills < 5 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(150 + (seed >> 33) % 600));
        Command::new(tool("kill"))
            .args(["-KILL", &agent.pid().to_string()])
            .status()
            .unwrap();
        kills += 1;
        let before = count_lines(&out);
        drop(agent);
        agent = Agent::start(dir.path(), &config);
        eprintln!("kill {kills}: {before} records written before it");
    }
    feeder.join().unwrap();
    tcp_feeder.join().unwrap();
    let arrived = wait_until(Duration::from_secs(120), || numbers_in(&out) >= n);
    drop(rsyslog);
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let seen = numbers(&read_records(&out));
    let missing: Vec<usize> = (0..n).filter(|i| !seen.contains_key(i)).take(10).collect();
    let duplicates: usize = seen.values().map(|c| c - 1).sum();
    eprintln!(
        "{kills} kills: {} of {n} distinct RELP messages arrived, {duplicates} duplicates",
        seen.len()
    );
    let tcp: std::collections::HashSet<String> = read_records(&out)
        .iter()
        .filter_map(|r| {
            r["SyslogMessage"]
                .as_str()
                .filter(|m| m.starts_with("tcp-"))
                .map(str::to_string)
        })
        .collect();
    let tcp_sent = tcp_sent.load(Ordering::Relaxed);
    eprintln!(
        "plain TCP beside it: {tcp_sent} written, {} arrived, {} in flight at the kills and lost (TCP has no acknowledgement)",
        tcp.len(),
        tcp_sent - tcp.len().min(tcp_sent)
    );
    assert!(
        arrived && missing.is_empty(),
        "lost messages (first ten): {missing:?}"
    );
}

fn numbers_in(path: &std::path::Path) -> usize {
    numbers(&read_records(path)).len()
}

/// A message larger than the agent's max_message_size: rsyslog (allowed 256 KiB
/// here) sends it over RELP; the agent keeps its start, marks it Truncated and
/// answers 200 OK, so the session goes on and what follows arrives once. (Closing
/// the session instead would make rsyslog resend the same frame for ever.)
#[test]
fn an_oversized_relp_message_is_truncated_and_the_stream_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (relp_port, in_port) = (free_port(), free_port());
    let out = dir.path().join("records.jsonl");
    let config = format!(
        "max_message_size = 4096\n{}",
        relp_config_text(&build_dir(), relp_port, &out)
    );
    let agent = Agent::start(dir.path(), &config);
    let rsyslog = Rsyslog::start(
        dir.path(),
        &format!(
            "global(maxMessageSize=\"256k\")\n{}",
            rsyslog_relp_forwarder(in_port, relp_port)
        ),
    );
    let big = format!("{} big-{}", message(0), "x".repeat(100_000));
    let messages: Vec<String> = (1..=50)
        .map(message)
        .chain([big])
        .chain((51..=100).map(message))
        .collect();
    let logs = through_rsyslog(agent, rsyslog, in_port, messages, &out, 101, 30);
    assert!(
        logs.contains("RELP message larger than max_message_size"),
        "{logs}"
    );
    assert!(!logs.contains("RELP protocol error"), "{logs}");
    let records = read_records(&out);
    assert_eq!(records.len(), 101, "each message once");
    let seen = numbers(&records);
    assert!((1..=100).all(|i| seen.get(&i) == Some(&1)), "{seen:?}");
    let truncated: Vec<&Value> = records.iter().filter(|r| r["Truncated"] == true).collect();
    assert_eq!(truncated.len(), 1);
    let text = truncated[0]["SyslogMessage"].as_str().unwrap();
    assert!(text.starts_with("relp-000000 big-xxx"), "{text}");
    assert!(text.len() < 4096, "{}", text.len());
    assert_eq!(truncated[0]["HostName"], "host-relp");
}
