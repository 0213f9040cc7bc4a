//! Fault injection on the journal: full (the output is down), corrupt segments,
//! and an acknowledged position that points past the journal. The full state
//! shows in gauges, the log and STATUS; corruption is counted once; nothing that
//! was not in the corrupt region is lost. Every test checks the ledger.

use std::io::{Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use syslane_tests::*;

fn message(i: usize) -> String {
    format!("<13>1 - h a - - - n-{i:06} {}", "p".repeat(150))
}

fn numbers(out: &Path) -> Vec<usize> {
    let mut n: Vec<usize> = read_complete_records(out)
        .iter()
        .filter_map(|r| {
            r["SyslogMessage"]
                .as_str()?
                .strip_prefix("n-")?
                .get(..6)?
                .parse()
                .ok()
        })
        .collect();
    n.sort_unstable();
    n
}

/// An agent whose output (the C example) cannot write until `out`'s directory exists.
fn stuck_output(dir: &Path, port: u16, settings: &str) -> (String, PathBuf) {
    let plugins = plugin_dir_with_reject_output(dir);
    let out = dir.join("later/out.jsonl");
    let config = format!(
        "{settings}\n{}",
        reject_output_config(&plugins, port, &out, "never-matches")
    )
    .replace(
        "input = \"syslog\"\n",
        &format!(
            "input = \"syslog\"\n[[listen]]\naddress = \"udp://127.0.0.1:{port}\"\ninput = \"syslog\"\n"
        ),
    );
    (config, out)
}

#[test]
fn a_full_journal_pauses_tcp_and_shows_in_gauges_log_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (config, out) = stuck_output(dir.path(), port, "journal_max_bytes = 1048576");
    let notify = Notifications::bind(dir.path());
    let agent = notify.start_agent(dir.path(), &config, 400);
    let n = 100_000;
    let sent = Arc::new(AtomicU64::new(0));
    let progress = Arc::clone(&sent);
    let sender = std::thread::spawn(move || {
        let mut t = TcpStream::connect(("127.0.0.1", port)).unwrap();
        for i in 0..n {
            t.write_all(&octet_stream([message(i)])).unwrap();
            progress.store(i as u64 + 1, Ordering::Relaxed);
        }
    });
    // Far more than the journal, the queues and the socket buffers hold: wait
    // until the sender stalls.
    let mut last = 0;
    assert!(wait_until(Duration::from_secs(60), || {
        std::thread::sleep(Duration::from_millis(700));
        let now = sent.load(Ordering::Relaxed);
        let stalled = now == last && now > 0;
        last = now;
        stalled
    }));
    agent.expect_log("journal full", 30);
    let stats = stats_of(dir.path());
    assert_eq!(
        counter(&stats, "syslane_journal_max_bytes"),
        1 << 20,
        "{stats}"
    );
    let bytes = counter(&stats, "syslane_journal_bytes");
    assert!(bytes > (1 << 20) / 2 && bytes <= 1 << 20, "{stats}");
    assert!(
        wait_until(Duration::from_secs(20), || counter(
            &stats_of(dir.path()),
            "syslane_listeners_paused"
        ) >= 1),
        "{}",
        stats_of(dir.path())
    );
    assert!(
        wait_until(Duration::from_secs(20), || notify
            .status()
            .is_some_and(|s| s.contains("journal full"))),
        "{:?}",
        notify.status()
    );
    let paused_at = sent.load(Ordering::Relaxed);
    assert!(paused_at < n as u64, "the sender is paused");
    // UDP meanwhile: dropped and counted, never silently.
    send_udp(port, (0..100).map(|i| message(100_000 + i)), 20);
    std::thread::sleep(Duration::from_millis(800));
    let pets = notify.seen("WATCHDOG=1");
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        notify.seen("WATCHDOG=1") > pets,
        "a full journal is no wedge"
    );

    // The output comes back: room again, the sender resumes, all arrive.
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    sender.join().unwrap();
    assert!(
        wait_until(Duration::from_secs(60), || numbers(&out)
            .iter()
            .filter(|i| **i < n)
            .count()
            == n),
        "{} of {n}",
        numbers(&out).len()
    );
    agent.expect_log("journal has room again", 10);
    assert!(wait_until(Duration::from_secs(20), || notify
        .status()
        .is_some_and(|s| s == "listening on 2 addresses")));
    let stats = stats_of(dir.path());
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    assert!(
        logs.matches("journal full (").count() <= 2,
        "rate-limited:\n{logs}"
    );
    // The ledger. TCP: each once, none lost; UDP: delivered + dropped + kernel drops.
    let got = numbers(&out);
    let tcp: Vec<usize> = got.iter().copied().filter(|i| *i < n).collect();
    assert_eq!(tcp, (0..n).collect::<Vec<_>>());
    let udp = got.iter().filter(|i| **i >= 100_000).count() as u64;
    let dropped = counter(&stats, "syslane_udp_dropped_total")
        + counter(&stats, "syslane_udp_receive_buffer_drops_total");
    assert_eq!(udp + dropped, 100, "{stats}");
    assert_eq!(counter(&stats, "syslane_journal_bytes"), 0, "{stats}");
}

/// Segment files of the journal, oldest first.
fn segments(state: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(state.join("journal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    v.sort();
    v
}

/// (offset, length) of each entry of a segment: "SLJ1", payload length, …
fn entries(segment: &Path) -> Vec<(u64, u64)> {
    let bytes = std::fs::read(segment).unwrap();
    let mut at = 0usize;
    let mut found = Vec::new();
    while at + 20 <= bytes.len() {
        assert_eq!(&bytes[at..at + 4], b"SLJ1");
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        found.push((at as u64, (20 + len) as u64));
        at += 20 + len;
    }
    found
}

#[test]
fn a_corrupt_entry_is_skipped_counted_once_and_the_rest_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (config, out) = stuck_output(dir.path(), port, "");
    let agent = Agent::start(dir.path(), &config);
    // One message per connection, one at a time: one journal entry each.
    for i in 0..5 {
        send_tcp_lf(port, [message(i)]);
        assert!(wait_until(Duration::from_secs(20), || counter(
            &stats_of(dir.path()),
            "syslane_records_journaled_total"
        ) == i as u64 + 1));
    }
    agent.kill9();
    let state = dir.path().join("state");
    let seg = segments(&state)
        .into_iter()
        .find(|s| !entries(s).is_empty())
        .unwrap();
    let e = entries(&seg);
    assert_eq!(e.len(), 5, "{e:?}");
    let (offset, len) = e[2];
    let mut f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.seek(SeekFrom::Start(offset + 40)).unwrap();
    f.write_all(b"BIT ROT").unwrap();
    drop(f);

    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let agent = Agent::start(dir.path(), &config);
    assert!(wait_until(Duration::from_secs(20), || numbers(&out).len() == 4));
    std::thread::sleep(Duration::from_millis(500));
    let stats = stats_of(dir.path());
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    assert_eq!(
        counter(&stats, "syslane_journal_corrupt_bytes_total"),
        len,
        "the corrupt entry is counted once, not again when it is skipped at replay:\n{logs}"
    );
    assert_eq!(
        logs.matches("corrupt region").count(),
        1,
        "reported once, with file and offset:\n{logs}"
    );
    assert!(logs.contains(&format!("offset={offset}")), "{logs}");
    // The ledger: 5 sent = 4 delivered + the 1 in the corrupt entry.
    assert_eq!(numbers(&out), vec![0, 1, 3, 4]);
}

#[test]
fn an_acknowledged_position_past_the_journal_is_logged_and_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (config, out) = stuck_output(dir.path(), port, "");
    let agent = Agent::start(dir.path(), &config);
    send_tcp_lf(port, (0..10).map(message));
    assert!(wait_until(Duration::from_secs(20), || counter(
        &stats_of(dir.path()),
        "syslane_records_journaled_total"
    ) == 10));
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    std::fs::write(dir.path().join("state/journal/ack"), "999 0\n").unwrap();
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let agent = Agent::start(dir.path(), &config);
    assert!(wait_until(Duration::from_secs(20), || numbers(&out).len() == 10));
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    assert!(
        logs.contains("the acknowledged position points past the journal"),
        "{logs}"
    );
    // The ledger: nothing deleted on the word of a bad ack.
    assert_eq!(numbers(&out), (0..10).collect::<Vec<_>>());
}
