//! SIGHUP: a bad configuration is refused and the running one stays; a good one
//! takes over, and the journal carries every accepted record across.

use std::time::Duration;
use syslane_tests::*;

#[test]
fn sighup_refuses_a_bad_config_and_applies_a_good_one_without_losing_records() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("records.jsonl");
    let config_path = dir.path().join("syslane.toml");
    // The output is broken at first (a full disk): records wait in the journal.
    let broken = config_text(&build_dir(), port, "", std::path::Path::new("/dev/full"));
    let agent = Agent::start(dir.path(), &broken);
    send_tcp_lf(
        port,
        (0..20).map(|i| format!("<14>1 - h a - - - early-{i}")),
    );
    agent.expect_log("No space left on device", 10);

    // A bad configuration: refused with the reason; the agent keeps running.
    std::fs::write(&config_path, format!("bogus_key = 1\n{broken}")).unwrap();
    agent.hup();
    agent.expect_log("the new configuration is refused", 10);
    assert!(
        agent.logs().contains("bogus_key"),
        "the reason names the key:\n{}",
        agent.logs()
    );

    // A good one: the output is fixed and a filter keeps only err and worse.
    let filter = "[[filter]]\nplugin = \"select\"\nmin_severity = \"err\"\n";
    std::fs::write(&config_path, config_text(&build_dir(), port, filter, &out)).unwrap();
    agent.hup();
    agent.expect_log("configuration reloaded", 15);
    assert!(
        agent.logs().contains("changed=filter, output"),
        "{}",
        agent.logs()
    );
    // The backlog journaled under the old configuration is delivered by the new one.
    assert!(
        wait_until(Duration::from_secs(15), || count_lines(&out) >= 20),
        "{}",
        agent.logs()
    );

    send_tcp_lf(
        port,
        (0..10).map(|i| {
            format!(
                "<{}>1 - h a - - - late-{i}",
                if i % 2 == 0 { 11 } else { 14 }
            )
        }),
    );
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) >= 25));
    std::thread::sleep(Duration::from_millis(300));
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let messages: Vec<String> = read_records(&out)
        .iter()
        .map(|r| r["SyslogMessage"].as_str().unwrap().to_string())
        .collect();
    let early = messages.iter().filter(|m| m.starts_with("early-")).count();
    let late: Vec<&String> = messages.iter().filter(|m| m.starts_with("late-")).collect();
    assert_eq!(early, 20, "{messages:?}");
    // The reload stopped a pipeline whose output was retrying: said as a reload.
    assert!(
        !logs.contains("shutdown deadline passed") && !logs.contains("stopping while"),
        "a reload is not logged as a shutdown:\n{logs}"
    );
    assert!(
        logs.contains("reload: the output was still retrying a batch"),
        "{logs}"
    );
    assert_eq!(
        late,
        ["late-0", "late-2", "late-4", "late-6", "late-8"],
        "the new filter applies"
    );
}

/// Reloads that change only the pipeline (here the filter) keep the sockets: one
/// TCP connection streams through three SIGHUPs without being closed, and UDP
/// datagrams sent meanwhile wait in the socket buffer instead of being lost.
#[test]
fn reloads_that_keep_the_listeners_keep_connections_open_and_lose_no_datagram() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("records.jsonl");
    let config_path = dir.path().join("syslane.toml");
    let plain = config_text(&build_dir(), port, "", &out);
    let agent = Agent::start(dir.path(), &plain);
    let filtered = config_text(
        &build_dir(),
        port,
        "[[filter]]\nplugin = \"select\"\nmin_severity = \"debug\"\n",
        &out,
    );
    let n = 3000;
    let sender = std::thread::spawn(move || {
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..n {
            writeln!(tcp, "<14>1 - h a - - - tcp-{i}").expect("the connection stays open");
            udp.send_to(
                format!("<14>1 - h a - - - udp-{i}").as_bytes(),
                ("127.0.0.1", port),
            )
            .unwrap();
            // About a thousand of each a second: three seconds of traffic.
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    for round in 0..3 {
        std::thread::sleep(Duration::from_millis(600));
        let next = if round % 2 == 0 { &filtered } else { &plain };
        std::fs::write(&config_path, next).unwrap();
        agent.hup();
        assert!(
            wait_until(Duration::from_secs(20), || agent
                .logs()
                .matches("configuration reloaded")
                .count()
                == round + 1),
            "{}",
            agent.logs()
        );
    }
    sender.join().unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || count_lines(&out) >= 2 * n),
        "{} of {} arrived\n{}",
        count_lines(&out),
        2 * n,
        agent.logs()
    );
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    assert_eq!(logs.matches("kept open").count(), 3, "{logs}");
    let mut seen = std::collections::HashMap::new();
    for r in read_records(&out) {
        *seen
            .entry(r["SyslogMessage"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    for kind in ["tcp", "udp"] {
        let missing: Vec<usize> = (0..n)
            .filter(|i| seen.get(&format!("{kind}-{i}")) != Some(&1))
            .collect();
        assert!(
            missing.is_empty(),
            "{kind}: {} missing or twice: {missing:?}",
            missing.len()
        );
    }
}
