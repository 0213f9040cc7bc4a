//! Fault injection: a wedged pipeline. The file output writes into a fifo nobody
//! reads, so the shipper's write blocks for good (as on a hung network file
//! system): after `stall_timeout_secs` STATUS names the stuck stage and the
//! watchdog is no longer petted, so systemd would restart the agent. Once a
//! reader appears the pipeline moves again, the pets resume, and every record
//! arrives.

use std::io::Read;
use std::process::Command;
use std::time::Duration;
use syslane_tests::*;

#[test]
fn a_wedged_output_stops_the_watchdog_and_says_so_an_idle_agent_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let fifo = dir.path().join("records.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let config = format!(
        "stall_timeout_secs = 2\n{}",
        config_text(&build_dir(), port, "", &fifo)
    );
    let notify = Notifications::bind(dir.path());
    let agent = notify.start_agent(dir.path(), &config, 300);
    // Idle but healthy: the pets go on.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(notify.seen("WATCHDOG=1") >= 10, "{:?}", notify.all());
    assert_eq!(notify.status().as_deref(), Some("listening on 2 addresses"));

    // More than a pipe holds: the output's write blocks, the shipper is stuck.
    let n = 3000;
    send_tcp_octet(
        port,
        (0..n).map(|i| format!("<13>1 - h a - - - w-{i:05} {}", "x".repeat(200))),
    );
    assert!(
        wait_until(Duration::from_secs(20), || notify.status().is_some_and(
            |s| s.starts_with("wedged: shipper has made no progress")
        )),
        "{:?}\n{}",
        notify.status(),
        agent.logs()
    );
    agent.expect_log("pipeline wedged", 5);
    let pets = notify.seen("WATCHDOG=1");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(notify.seen("WATCHDOG=1"), pets, "no pets while wedged");

    // A reader appears: progress, pets again, and every record comes through.
    let path = fifo.clone();
    let reader = std::thread::spawn(move || {
        let mut f = std::fs::File::open(&path).unwrap();
        let mut all = Vec::new();
        let mut buf = [0u8; 65536];
        while all.iter().filter(|b| **b == b'\n').count() < n {
            let k = f.read(&mut buf).unwrap();
            assert!(k > 0, "the fifo closed early");
            all.extend_from_slice(&buf[..k]);
        }
        all
    });
    let lines = reader.join().unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || notify.seen("WATCHDOG=1") > pets),
        "pets resume"
    );
    assert!(wait_until(Duration::from_secs(20), || notify
        .status()
        .is_some_and(|s| s == "listening on 2 addresses")));
    agent.expect_log("pipeline makes progress again", 5);
    let text = String::from_utf8(lines).unwrap();
    let mut got: Vec<usize> = text
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            v["SyslogMessage"].as_str()?.get(2..7)?.parse().ok()
        })
        .collect();
    got.sort_unstable();
    assert_eq!(
        got,
        (0..n).collect::<Vec<_>>(),
        "the ledger: all arrive, once"
    );
    drop(agent);
}
