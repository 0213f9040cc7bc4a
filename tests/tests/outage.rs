//! Output outages: the output (the C example) cannot write until its directory
//! appears, then recovers by itself. Numbered messages show what arrived.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use syslane_tests::*;

struct Setup {
    dir: tempfile::TempDir,
    port: u16,
    /// Missing until the test "repairs" the output.
    out_dir: PathBuf,
    out: PathBuf,
}

fn setup(settings: &str) -> (Setup, Agent) {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_reject_output(dir.path());
    let port = free_port();
    let out_dir = dir.path().join("later");
    let out = out_dir.join("out.jsonl");
    let config = format!(
        "{settings}{}",
        reject_output_config(&plugins, port, &out, "never-matches")
    );
    let agent = Agent::start(dir.path(), &config);
    (
        Setup {
            dir,
            port,
            out_dir,
            out,
        },
        agent,
    )
}

fn stat(s: &Setup, name: &str) -> u64 {
    let (_, text, _) = syslane(&[
        "stats",
        "--prometheus",
        "--config",
        s.dir.path().join("syslane.toml").to_str().unwrap(),
    ]);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn message(conn: usize, seq: usize) -> String {
    format!("<13>1 - h a - - - c{conn}-{seq:06} {}", "p".repeat(150))
}

/// (connection, sequence) of every record, in file order.
fn sequence(out: &Path) -> Vec<(usize, usize)> {
    read_records(out)
        .iter()
        .map(|r| {
            let m = r["SyslogMessage"].as_str().unwrap();
            let (c, s) = m[1..].split_once('-').unwrap();
            (c.parse().unwrap(), s[..6].parse().unwrap())
        })
        .collect()
}

#[test]
fn a_long_outage_with_100k_messages_arriving_loses_nothing_and_keeps_order() {
    let (s, agent) = setup("");
    let senders: Vec<_> = (0..2)
        .map(|c| {
            let port = s.port;
            std::thread::spawn(move || send_tcp_octet(port, (0..50_000).map(|i| message(c, i))))
        })
        .collect();
    for t in senders {
        t.join().unwrap();
    }
    assert!(wait_until(Duration::from_secs(30), || stat(
        &s,
        "syslane_records_journaled_total"
    ) >= 100_000));
    // The outage goes on while retries back off; then the output comes back by itself.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        stat(&s, "syslane_batches_retried_total") >= 3,
        "{}",
        agent.logs()
    );
    assert_eq!(count_lines(&s.out), 0);
    std::fs::create_dir_all(&s.out_dir).unwrap();
    assert!(
        wait_until(Duration::from_secs(90), || count_lines(&s.out) >= 100_000),
        "{} arrived",
        count_lines(&s.out)
    );
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let seq = sequence(&s.out);
    assert_eq!(seq.len(), 100_000, "all arrive, none twice");
    for c in 0..2 {
        let mine: Vec<usize> = seq
            .iter()
            .filter(|(conn, _)| *conn == c)
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(
            mine,
            (0..50_000).collect::<Vec<_>>(),
            "connection {c}: complete and in order"
        );
    }
}

#[test]
fn a_full_journal_pauses_the_sender_until_the_output_recovers() {
    let (s, agent) = setup("journal_max_bytes = 1048576\n");
    // Far more than the journal, the queues and the loopback socket buffers hold.
    let n = 100_000;
    let sent = Arc::new(AtomicU64::new(0));
    let progress = Arc::clone(&sent);
    let port = s.port;
    let sender = std::thread::spawn(move || {
        let mut t = TcpStream::connect(("127.0.0.1", port)).unwrap();
        for i in 0..n {
            t.write_all(&octet_stream([message(0, i)])).unwrap();
            progress.store(i as u64 + 1, Ordering::Relaxed);
        }
    });
    let mut last = 0;
    assert!(wait_until(Duration::from_secs(30), || {
        std::thread::sleep(Duration::from_millis(700));
        let now = sent.load(Ordering::Relaxed);
        let stalled = now == last && now > 0;
        last = now;
        stalled
    }));
    assert!(
        last < n as u64,
        "the sender is paused ({last} of {n} written)"
    );
    std::fs::create_dir_all(&s.out_dir).unwrap();
    sender.join().unwrap();
    assert!(
        wait_until(Duration::from_secs(60), || count_lines(&s.out) >= n),
        "{} arrived",
        count_lines(&s.out)
    );
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let seq: Vec<usize> = sequence(&s.out).into_iter().map(|(_, n)| n).collect();
    assert_eq!(
        seq,
        (0..n).collect::<Vec<_>>(),
        "resumed, nothing lost, in order"
    );
    assert!(logs.contains("records_dropped_journal_full=0"), "{logs}");
}

#[test]
fn drop_oldest_drops_exactly_what_it_counts() {
    let (s, agent) = setup("journal_max_bytes = 1048576\nwhen_full = \"drop_oldest\"\n");
    let n = 20_000;
    send_tcp_octet(s.port, (0..n).map(|i| message(0, i)));
    assert!(wait_until(Duration::from_secs(30), || stat(
        &s,
        "syslane_records_journaled_total"
    ) >= n as u64));
    let dropped = stat(&s, "syslane_records_dropped_journal_full_total") as usize;
    assert!(dropped > 0, "1 MiB cannot hold {n} records");
    std::fs::create_dir_all(&s.out_dir).unwrap();
    assert!(wait_until(Duration::from_secs(60), || count_lines(&s.out)
        >= n - dropped));
    std::thread::sleep(Duration::from_millis(500));
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let seq: Vec<usize> = sequence(&s.out).into_iter().map(|(_, n)| n).collect();
    assert_eq!(
        seq.len() + dropped,
        n,
        "delivered + dropped (counted) = sent"
    );
    assert!(seq.windows(2).all(|w| w[0] < w[1]), "in order, none twice");
    assert_eq!(seq.last(), Some(&(n - 1)), "the newest are kept");
    assert!(logs.contains("dropped its oldest segment"), "{logs}");
}

#[test]
fn a_corrupt_journal_is_reported_and_every_intact_record_delivered() {
    let (s, agent) = setup("");
    // Ten separate sends make ten journal entries.
    for part in 0..10 {
        send_tcp_octet(
            s.port,
            (part * 100..(part + 1) * 100).map(|i| message(0, i)),
        );
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(wait_until(Duration::from_secs(20), || stat(
        &s,
        "syslane_records_journaled_total"
    ) >= 1000));
    let (status, _) = agent.stop();
    assert!(status.success());

    // Damage the segment holding the records: one byte inside its fourth entry, and a torn tail.
    let journal = s.dir.path().join("state/journal");
    let seg = std::fs::read_dir(&journal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&seg)
        .unwrap();
    let mut entries = Vec::new(); // (offset, length, records)
    let mut at = 0u64;
    let len = f.metadata().unwrap().len();
    while at < len {
        let mut h = [0u8; 20];
        f.seek(SeekFrom::Start(at)).unwrap();
        f.read_exact(&mut h).unwrap();
        let payload = u32::from_le_bytes(h[4..8].try_into().unwrap()) as u64;
        entries.push((
            at,
            20 + payload,
            u32::from_le_bytes(h[16..20].try_into().unwrap()) as usize,
        ));
        at += 20 + payload;
    }
    assert!(entries.len() >= 5, "{entries:?}");
    let (offset, size, lost) = entries[3];
    f.seek(SeekFrom::Start(offset + size / 2)).unwrap();
    f.write_all(b"\x00DAMAGE\x00").unwrap();
    f.seek(SeekFrom::End(0)).unwrap();
    f.write_all(b"SLJ1\x10\x00\x00\x00torn").unwrap();
    drop(f);

    std::fs::create_dir_all(&s.out_dir).unwrap();
    let agent = Agent::start(
        s.dir.path(),
        &std::fs::read_to_string(s.dir.path().join("syslane.toml")).unwrap(),
    );
    assert!(wait_until(Duration::from_secs(20), || count_lines(&s.out)
        >= 1000 - lost));
    std::thread::sleep(Duration::from_millis(500));
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let seg_name = seg.display().to_string();
    assert!(
        logs.contains("corrupt region found at start-up")
            && logs.contains(&seg_name)
            && logs.contains(&format!("offset={offset}")),
        "{logs}"
    );
    assert!(logs.contains("cutting off a torn tail"), "{logs}");
    let got: HashMap<usize, usize> = sequence(&s.out).into_iter().map(|(_, n)| (n, 1)).collect();
    assert_eq!(
        got.len(),
        1000 - lost,
        "every record of the intact entries arrives"
    );
}
