//! Fault injection: connections that hold their slot without earning it. Idle and
//! unfinished connections at `max_connections` cannot lock real senders out (a
//! real rsyslog included), a sender trickling one message byte by byte is closed
//! after `idle_timeout_secs`, a RELP peer that never reads its answers is closed,
//! and a burst of large unfinished messages gives its memory back.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};
use syslane_tests::*;

fn numbered(out: &Path, prefix: &str) -> Vec<usize> {
    let mut n: Vec<usize> = read_complete_records(out)
        .iter()
        .filter_map(|r| {
            r["SyslogMessage"]
                .as_str()?
                .strip_prefix(&format!("{prefix}-"))?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    n.sort_unstable();
    n
}

/// Whether the agent closed `s` (a read sees the end, or the connection reset).
fn closed_by_agent(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
}

#[test]
fn idle_and_unfinished_connections_at_the_limit_cannot_lock_senders_out() {
    let dir = tempfile::tempdir().unwrap();
    let (port, relp, in_port) = (free_port(), free_port(), free_port());
    let out = dir.path().join("out.jsonl");
    let config = format!(
        "max_connections = 8\nidle_timeout_secs = 120\n{}",
        config_with(
            &build_dir(),
            &format!(
                "[[listen]]\naddress = \"tcp://127.0.0.1:{port}\"\ninput = \"syslog\"\n\
                 [[listen]]\naddress = \"relp://127.0.0.1:{relp}\"\ninput = \"syslog\"\n"
            ),
            &out,
        )
    );
    let agent = Agent::start(dir.path(), &config);
    // Eight hostile connections on each listener: idle, or holding an unfinished message.
    let mut hostile: Vec<TcpStream> = Vec::new();
    for (p, unfinished) in [
        (port, &b"<13>1 - h a - - - never finished"[..]),
        (relp, &b"7 syslog 100 <13>1 - h a - - - never finished"[..]),
    ] {
        for i in 0..8 {
            let mut s = TcpStream::connect(("127.0.0.1", p)).unwrap();
            if i % 2 == 0 {
                s.write_all(unfinished).unwrap();
            }
            hostile.push(s);
        }
    }
    assert!(wait_until(Duration::from_secs(20), || counter(
        &stats_of(dir.path()),
        "syslane_connections_open"
    ) == 16));

    // A plain TCP sender gets in at once, and so does a real rsyslog over RELP.
    send_tcp_lf(port, (0..20).map(|i| format!("<13>1 - h a - - - tcp-{i}")));
    let rsyslog = Rsyslog::start(dir.path(), &rsyslog_relp_forwarder(in_port, relp));
    assert!(wait_until(Duration::from_secs(20), || TcpStream::connect(
        ("127.0.0.1", in_port)
    )
    .is_ok()));
    send_tcp_octet(
        in_port,
        (0..50).map(|i| format!("<13>1 - h a - - - relp-{i}")),
    );
    assert!(
        wait_until(Duration::from_secs(15), || numbered(&out, "tcp").len()
            == 20
            && numbered(&out, "relp").len() >= 50),
        "tcp {:?} relp {:?}\nrsyslog: {}\nagent: {}",
        numbered(&out, "tcp"),
        numbered(&out, "relp"),
        rsyslog.logs(),
        agent.logs()
    );
    // The oldest hostile connections were closed to make room.
    let closed = hostile
        .iter_mut()
        .map(|s| closed_by_agent(s, Duration::from_millis(200)))
        .filter(|c| *c)
        .count();
    assert!(closed >= 2, "{closed} hostile connections closed");

    // A flood of new connections: every one gets in, the warning stays one line.
    let flood: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    assert!(wait_until(Duration::from_secs(20), || counter(
        &stats_of(dir.path()),
        "syslane_connections_evicted_total"
    ) >= 100));
    drop((flood, hostile));
    drop(rsyslog);
    let stats = stats_of(dir.path());
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("connection limit reached"))
        .collect();
    assert!(
        (1..=4).contains(&lines.len()),
        "rate-limited, not one line per connection:\n{}",
        lines.join("\n")
    );
    let logged: u64 = lines
        .iter()
        .filter_map(|l| {
            l.split("closed=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert_eq!(
        logged,
        counter(&stats, "syslane_connections_evicted_total"),
        "the lines count every connection closed:\n{}",
        lines.join("\n")
    );
    // The ledger: every message of the real senders arrived, once.
    assert_eq!(numbered(&out, "tcp"), (0..20).collect::<Vec<_>>());
    let mut relp_got = numbered(&out, "relp");
    relp_got.dedup();
    assert_eq!(relp_got, (0..50).collect::<Vec<_>>());
}

#[test]
fn a_sender_trickling_one_message_is_closed_after_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("out.jsonl");
    let config = format!(
        "idle_timeout_secs = 2\n{}",
        config_text(&build_dir(), port, "", &out)
    );
    let agent = Agent::start(dir.path(), &config);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"<13>1 - h a - - - complete\n").unwrap();
    let started = Instant::now();
    // One byte every 200 ms of a message that never ends: bytes arrive, no message.
    let mut closed_after = None;
    for b in b"<13>1 - h a - - - trickle ".iter().cycle().take(100) {
        if s.write_all(&[*b]).is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let closed_after = closed_after.expect("the agent closed the trickling connection");
    assert!(
        closed_after < Duration::from_secs(6),
        "closed after {closed_after:?}"
    );
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) == 2));
    let stats = stats_of(dir.path());
    assert_eq!(counter(&stats, "syslane_connections_timed_out_total"), 1);
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    assert!(
        logs.contains("no complete message within idle_timeout_secs"),
        "{logs}"
    );
    // The ledger: the complete message, and what trickled in of the other, kept.
    let records = read_records(&out);
    assert_eq!(records[0]["SyslogMessage"], "complete");
    let partial = records[1]["RawMessage"].as_str().unwrap_or_default();
    assert!(
        !partial.is_empty() && "<13>1 - h a - - - trickle ".starts_with(partial),
        "{}",
        records[1]
    );
}

#[test]
fn a_relp_peer_that_never_reads_its_answers_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let relp = free_port();
    let out = dir.path().join("out.jsonl");
    let config = format!(
        "idle_timeout_secs = 2\n{}",
        relp_config_text(&build_dir(), relp, &out)
    );
    let agent = Agent::start(dir.path(), &config);
    // A small receive window, so that unread answers back up quickly.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket
        .connect(&std::net::SocketAddr::from(([127, 0, 0, 1], relp)).into())
        .unwrap();
    let mut s: TcpStream = socket.into();
    let open = "relp_version=0\nrelp_software=t\ncommands=syslog";
    s.write_all(format!("1 open {} {open}\n", open.len()).as_bytes())
        .unwrap();
    let writer = std::thread::spawn(move || {
        let started = Instant::now();
        let mut sent = 0u64;
        let mut chunk = Vec::new();
        while started.elapsed() < Duration::from_secs(60) {
            chunk.clear();
            for _ in 0..1000 {
                let m = format!("<13>1 - h a - - - unread-{sent}");
                chunk
                    .extend_from_slice(format!("{} syslog {} {m}\n", sent + 2, m.len()).as_bytes());
                sent += 1;
            }
            if s.write_all(&chunk).is_err() {
                return Some(sent);
            }
        }
        None
    });
    agent.expect_log("has not read its responses within idle_timeout_secs", 60);
    let sent = writer.join().unwrap();
    assert!(sent.is_some(), "the agent closed the session");
    let stats = stats_of(dir.path());
    assert!(
        counter(&stats, "syslane_connections_timed_out_total") >= 1,
        "{stats}"
    );
    assert!(wait_until(Duration::from_secs(20), || counter(
        &stats_of(dir.path()),
        "syslane_connections_open"
    ) == 0));
    // The ledger: what was read was journaled and delivered (none was answered
    // 200 OK to a peer that read it, so nothing acknowledged can be missing).
    let s = stats_of(dir.path());
    assert_eq!(
        counter(&s, "syslane_frames_received_total"),
        counter(&s, "syslane_records_journaled_total")
    );
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
}

#[test]
fn a_burst_of_large_unfinished_messages_gives_its_memory_back() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("out.jsonl");
    let agent = Agent::start(dir.path(), &config_text(&build_dir(), port, "", &out));
    let n = 200;
    let body = "m".repeat(60_000);
    let mut open: Vec<TcpStream> = (0..n)
        .map(|i| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(format!("<13>1 - h a - - - big-{i:03} {body}").as_bytes())
                .unwrap();
            s
        })
        .collect();
    let held = |dir: &Path| counter(&stats_of(dir), "syslane_connection_buffer_bytes");
    assert!(
        wait_until(Duration::from_secs(20), || held(dir.path())
            >= n as u64 * 60_000),
        "{}",
        stats_of(dir.path())
    );
    let peak = held(dir.path());
    // The documented bound: connections x (max_message_size + 64 KiB).
    assert!(
        peak <= n as u64 * (65_536 + 65_536),
        "{peak} bytes held by {n} connections"
    );
    let rss_peak = peak_rss_kib(agent.pid()).unwrap();
    for s in &mut open {
        s.write_all(b"\n").unwrap();
    }
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) == n));
    assert!(
        wait_until(Duration::from_secs(20), || held(dir.path()) == 0),
        "finished messages give their buffers back: {} bytes still held",
        held(dir.path())
    );
    drop(open);
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    assert_eq!(numbered(&out, "big").len(), n, "every message arrived");
    eprintln!(
        "{n} connections x 60 KB unfinished: {} KiB in read buffers, peak RSS {} MiB",
        peak / 1024,
        rss_peak / 1024
    );
}
