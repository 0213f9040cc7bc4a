//! Fault injection: `state_dir` on a 5 MB tmpfs that fills up and is freed again.
//! A journal write error is a state: TCP stops reading (its messages wait and
//! arrive), RELP answers 500, UDP is dropped and counted, STATUS says it, the
//! watchdog is still petted, and the agent resumes by itself once there is room.
//! Every test checks the ledger per transport: sent = delivered + counted drops +
//! refused, and nothing answered 200 OK is lost.

use std::path::Path;
use std::time::Duration;
use syslane_tests::*;

/// Every transport's refusals, and each one's.
const REFUSED: &str = "syslane_records_refused_total";
const REFUSED_RELP: &str =
    "syslane_records_refused_total{reason=\"journal_write\",transport=\"relp\"}";
const REFUSED_UDP: &str =
    "syslane_records_refused_total{reason=\"journal_write\",transport=\"udp\"}";

fn config(plugins: &Path, port: u16, relp: u16, out: &Path, extra: &str) -> String {
    format!(
        "{extra}\n{}",
        config_with(
            plugins,
            &format!(
                "[[listen]]\naddress = \"tcp://127.0.0.1:{port}\"\ninput = \"syslog\"\n\
                 [[listen]]\naddress = \"udp://127.0.0.1:{port}\"\ninput = \"syslog\"\n\
                 [[listen]]\naddress = \"relp://127.0.0.1:{relp}\"\ninput = \"syslog\"\n"
            ),
            out,
        )
    )
}

fn messages(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range
        .map(|i| format!("<13>1 - h a - - - {prefix}-{i:05}"))
        .collect()
}

/// Delivered records whose message starts with `prefix-`, by number (each once).
fn delivered(out: &Path, prefix: &str) -> Vec<usize> {
    let mut n: Vec<usize> = read_complete_records(out)
        .iter()
        .filter_map(|r| {
            r["SyslogMessage"]
                .as_str()?
                .strip_prefix(&format!("{prefix}-"))?
                .parse()
                .ok()
        })
        .collect();
    n.sort_unstable();
    n
}

/// Sends RELP messages into a full disk until one is refused.
fn relp_until_refused(relp: u16, from: usize) -> (Vec<usize>, RelpOutcome) {
    let sent: Vec<String> = messages("relp", from..from + 400);
    let outcome = relp_send(relp, &sent);
    assert!(
        !outcome.refused.is_empty(),
        "a full disk makes RELP answer 500: {outcome:?}"
    );
    ((from..from + 400).collect(), outcome)
}

#[test]
fn a_full_state_dir_is_a_state_the_agent_leaves_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(&dir.path().join("state"), "5m");
    let (port, relp) = (free_port(), free_port());
    let out = dir.path().join("out.jsonl");
    let notify = Notifications::bind(dir.path());
    let agent = notify.start_agent(dir.path(), &config(&build_dir(), port, relp, &out, ""), 400);
    let stats = || stats_of(dir.path());

    // Healthy: every transport delivers.
    send_tcp_lf(port, messages("tcp", 0..50));
    send_udp(port, messages("udp", 0..50), 0);
    let before = relp_send(relp, &messages("relp", 0..50));
    assert_eq!(before.acked.len(), 50, "{before:?}");
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) >= 150));

    // The disk fills: the first append that needs room fails and RELP gets 500.
    let filler = disk.fill();
    let (relp_full_sent, relp_full) = relp_until_refused(relp, 1000);
    let failing = wait_until(Duration::from_secs(20), || {
        counter(&stats(), "syslane_journal_write_failing") == 1
    });
    assert!(failing, "{}", agent.logs());
    agent.expect_log("No space left on device", 5);
    agent.expect_log("free=", 5);
    assert!(
        wait_until(Duration::from_secs(20), || notify
            .status()
            .is_some_and(|s| s.contains("journal writes failing"))),
        "STATUS says it: {:?}",
        notify.status()
    );
    let s = stats();
    let refused_relp = counter(&s, REFUSED_RELP);
    assert_eq!(counter(&s, REFUSED), refused_relp, "{s}");
    assert_eq!(
        refused_relp,
        relp_full.refused.len() as u64,
        "each RELP message answered 500 is counted"
    );

    // UDP cannot be paused: dropped and counted, every datagram.
    let received = counter(&stats(), "syslane_frames_received_total");
    send_udp(port, messages("udp", 1000..1100), 20);
    assert!(wait_until(Duration::from_secs(20), || counter(
        &stats(),
        "syslane_frames_received_total"
    ) + counter(
        &stats(),
        "syslane_udp_receive_buffer_drops_total"
    ) >= received + 100));
    let s = stats();
    let udp_refused = counter(&s, REFUSED_UDP);
    assert_eq!(counter(&s, REFUSED), refused_relp + udp_refused, "{s}");
    let udp_kernel = counter(&s, "syslane_udp_receive_buffer_drops_total");
    assert_eq!(udp_refused + udp_kernel, 100, "{s}");

    // TCP is paused, not read and thrown away: its messages wait.
    let pets = notify.seen("WATCHDOG=1");
    let tcp = std::thread::spawn(move || send_tcp_lf(port, messages("tcp", 1000..1100)));
    assert!(
        wait_until(Duration::from_secs(20), || counter(
            &stats(),
            "syslane_listeners_paused"
        ) >= 1),
        "{}",
        stats()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(delivered(&out, "tcp").iter().all(|n| *n < 1000));
    assert!(
        notify.seen("WATCHDOG=1") > pets,
        "a known, self-healing state keeps the watchdog petted"
    );

    // Room again: the agent resumes by itself, without a restart.
    std::fs::remove_file(filler).unwrap();
    agent.expect_log("journal: writes work again", 15);
    assert!(wait_until(Duration::from_secs(20), || counter(
        &stats(),
        "syslane_journal_write_failing"
    ) == 0));
    tcp.join().unwrap();
    let after = relp_send(relp, &messages("relp", 2000..2050));
    assert_eq!(after.acked.len(), 50, "{after:?}");
    send_udp(port, messages("udp", 2000..2050), 0);
    assert!(wait_until(Duration::from_secs(15), || {
        delivered(&out, "tcp").len() == 150 && delivered(&out, "relp").len() >= 100
    }));
    assert!(
        wait_until(Duration::from_secs(20), || notify
            .status()
            .is_some_and(|s| s == "listening on 3 addresses")),
        "{:?}",
        notify.status()
    );
    std::thread::sleep(Duration::from_millis(500));
    let s = stats();
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    assert_eq!(
        logs.matches("journal: writing an entry failed").count(),
        1,
        "entering the state is logged once:\n{logs}"
    );

    eprintln!(
        "RELP on a full disk: {} acked, {} answered 500, {} unanswered; UDP: {udp_refused} refused, {udp_kernel} dropped by the kernel",
        relp_full.acked.len(),
        relp_full.refused.len(),
        relp_full.unanswered.len()
    );
    // The ledger, per transport.
    let tcp = delivered(&out, "tcp");
    assert_eq!(
        tcp,
        (0..50).chain(1000..1100).collect::<Vec<_>>(),
        "TCP: all 150 arrive once"
    );
    let udp = delivered(&out, "udp").len() as u64;
    let udp_dropped = counter(&s, "syslane_udp_dropped_total")
        + counter(&s, "syslane_udp_receive_buffer_drops_total");
    assert_eq!(
        udp + udp_dropped + udp_refused,
        200,
        "UDP: delivered {udp} + dropped {udp_dropped} + refused {udp_refused}"
    );
    let relp_got = delivered(&out, "relp");
    for i in before
        .acked
        .iter()
        .chain(&after.acked.iter().map(|i| i + 2000).collect::<Vec<_>>())
    {
        assert!(
            relp_got.contains(i),
            "RELP {i} was answered 200 OK and is lost"
        );
    }
    for i in &relp_full.acked {
        let n = relp_full_sent[*i];
        assert!(
            relp_got.contains(&n),
            "RELP {n} was answered 200 OK and is lost"
        );
    }
    assert_eq!(
        relp_full.acked.len() + relp_full.refused.len() + relp_full.unanswered.len(),
        relp_full_sent.len()
    );
    assert_eq!(
        counter(&s, REFUSED),
        relp_full.refused.len() as u64 + udp_refused,
        "refused = RELP 500s + UDP dropped at the listener"
    );
}

#[test]
fn tcp_messages_read_while_the_disk_stays_full_until_shutdown_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(&dir.path().join("state"), "5m");
    let (port, relp) = (free_port(), free_port());
    let out = dir.path().join("out.jsonl");
    let agent = Agent::start(
        dir.path(),
        &config(&build_dir(), port, relp, &out, "shutdown_timeout_secs = 2"),
    );
    disk.fill();
    let (_, relp_full) = relp_until_refused(relp, 0);
    assert!(wait_until(Duration::from_secs(20), || counter(
        &stats_of(dir.path()),
        "syslane_journal_write_failing"
    ) == 1));
    // Written into the paused connection; read only when the agent stops.
    send_tcp_lf(port, messages("tcp", 0..100));
    std::thread::sleep(Duration::from_millis(300));
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let delivered_tcp = delivered(&out, "tcp").len() as u64;
    let final_count = |field: &str| -> u64 {
        logs.split(&format!("{field}="))
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in the final counters:\n{logs}"))
    };
    let refused_tcp = final_count("records_refused_journal_write_tcp");
    assert_eq!(
        final_count("records_refused_journal_write_relp"),
        relp_full.refused.len() as u64,
        "RELP's 500s are counted as RELP's:\n{logs}"
    );
    assert_eq!(
        delivered_tcp + refused_tcp,
        100,
        "TCP: delivered {delivered_tcp} + refused {refused_tcp} = sent:\n{logs}"
    );
    assert!(
        refused_tcp == 0 || logs.contains("could not be journaled"),
        "{logs}"
    );
    eprintln!("TCP at shutdown on a full disk: {delivered_tcp} delivered, {refused_tcp} refused (counted)");
}

/// A reload while the disk is full must not lose TCP records already read: the
/// pipeline it replaces hands them to the new one, which journals them once
/// there is room. (The first reload's new journal takes the TCP backlog in and
/// holds it; before the fix the second reload refused what was held.)
#[test]
fn reloads_while_the_disk_is_full_hand_tcp_records_already_read_to_the_new_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(&dir.path().join("state"), "5m");
    let (port, relp) = (free_port(), free_port());
    let out = dir.path().join("out.jsonl");
    let plugins = build_dir();
    let agent = Agent::start(dir.path(), &config(&plugins, port, relp, &out, ""));
    let stats = || stats_of(dir.path());
    let filler = disk.fill();
    let (_, relp_full) = relp_until_refused(relp, 0);
    assert!(wait_until(Duration::from_secs(20), || counter(
        &stats(),
        "syslane_journal_write_failing"
    ) == 1));
    send_tcp_lf(port, messages("tcp", 0..300));
    let received = counter(&stats(), "syslane_frames_received_total");

    // Each reload (with a changed configuration) opens a new journal, whose
    // first append fails again: TCP is read meanwhile and held.
    let config_path = dir.path().join("syslane.toml");
    for (n, timeout) in [(1, 7), (2, 8), (3, 9)] {
        let extra = format!("shutdown_timeout_secs = {timeout}");
        std::fs::write(&config_path, config(&plugins, port, relp, &out, &extra)).unwrap();
        agent.hup();
        assert!(
            wait_until(Duration::from_secs(20), || agent
                .logs()
                .matches("configuration reloaded")
                .count()
                == n),
            "{}",
            agent.logs()
        );
        assert!(
            wait_until(Duration::from_secs(20), || {
                let s = stats();
                counter(&s, "syslane_journal_write_failing") == 1
                    && counter(&s, "syslane_frames_received_total") > received
            }),
            "TCP is read and held after reload {n}: {}\n{}",
            stats(),
            agent.logs()
        );
    }
    assert!(
        agent
            .logs()
            .contains("TCP records already read go to the new configuration's pipeline"),
        "the held records were handed over:\n{}",
        agent.logs()
    );

    std::fs::remove_file(filler).unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || delivered(&out, "tcp").len()
            == 300),
        "TCP: {} of 300 delivered\n{}",
        delivered(&out, "tcp").len(),
        agent.logs()
    );
    let s = stats();
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    assert_eq!(delivered(&out, "tcp"), (0..300).collect::<Vec<_>>());
    assert_eq!(
        counter(&s, REFUSED),
        relp_full.refused.len() as u64,
        "only RELP's 500s are refused:\n{logs}"
    );
    assert!(!logs.contains("could not be journaled"), "{logs}");
}

/// With only a sliver free, the journal does not declare recovery and fail again
/// at once (a probe of a few hundred KiB passed before, then the TCP backlog
/// filled the rest): it waits until what waits will fit, then recovers once.
#[test]
fn writes_do_not_flap_between_failing_and_working_with_a_sliver_free() {
    let dir = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(&dir.path().join("state"), "5m");
    let (port, relp) = (free_port(), free_port());
    let out = dir.path().join("out.jsonl");
    let agent = Agent::start(dir.path(), &config(&build_dir(), port, relp, &out, ""));
    let stats = || stats_of(dir.path());
    let filler = disk.fill();
    let (_, relp_full) = relp_until_refused(relp, 0);
    assert!(wait_until(Duration::from_secs(20), || counter(
        &stats(),
        "syslane_journal_write_failing"
    ) == 1));
    // 2 MB of TCP waits for the disk.
    let pad = "x".repeat(1000);
    let sent: Vec<String> = (0..2000)
        .map(|i| format!("<13>1 - h a - - [x@1 p=\"{pad}\"] tcp-{i:05}"))
        .collect();
    let tcp = std::thread::spawn(move || send_tcp_lf(port, sent));

    // 600 KiB free: not enough for the backlog.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len.saturating_sub(600 << 10)).unwrap();
    // The probe is retried at most every 5 s: give it two tries.
    std::thread::sleep(Duration::from_secs(11));
    let entered = "until writes work again TCP senders are paused";
    let logs = agent.logs();
    assert_eq!(
        (
            logs.matches("journal: writes work again").count(),
            logs.matches(entered).count()
        ),
        (0, 1),
        "no recovery declared with 600 KiB free:\n{logs}"
    );

    // Room: one recovery, and everything arrives.
    f.set_len(0).unwrap();
    agent.expect_log("journal: writes work again", 20);
    tcp.join().unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || delivered(&out, "tcp").len()
            == 2000),
        "{}",
        agent.logs()
    );
    let s = stats();
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    assert_eq!(logs.matches(entered).count(), 1, "{logs}");
    assert_eq!(
        logs.matches("journal: writes work again").count(),
        1,
        "{logs}"
    );
    assert_eq!(counter(&s, REFUSED), relp_full.refused.len() as u64);
}
