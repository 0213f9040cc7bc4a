//! Permanent rejections: dead-lettered with the reason, listed, and replayed once
//! the cause is fixed. The rejecting output is the C example, loaded like any plugin.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;
use syslane_tests::*;

fn run(args: &[&str]) -> (bool, String) {
    let (ok, out, err) = syslane(args);
    (ok, out + &err)
}

#[test]
fn rejected_batches_are_dead_lettered_listed_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_reject_output(dir.path());
    let port = free_port();
    let out = dir.path().join("out.jsonl");
    let letters = dir.path().join("state/dead-letter/dead-letter.jsonl");
    let agent = Agent::start(
        dir.path(),
        &reject_output_config(&plugins, port, &out, "poison"),
    );

    send_tcp_lf(port, ["<13>1 - h a - - - poison-1".to_string()]);
    assert!(
        wait_until(Duration::from_secs(10), || count_lines(&letters) == 1),
        "{}",
        agent.logs()
    );
    send_tcp_lf(port, (0..10).map(|i| format!("<13>1 - h a - - - good-{i}")));
    assert!(wait_until(Duration::from_secs(10), || count_lines(&out) == 10));
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    assert!(logs.contains("records_dead_lettered=1"), "{logs}");
    assert!(logs.contains("output rejected a batch"), "{logs}");

    let path = dir.path().join("syslane.toml");
    let cfg = path.to_str().unwrap();
    let (ok, text) = run(&["dead-letter", "list", "--config", cfg]);
    assert!(
        ok && text.contains("1 records") && text.contains("holds the configured reject text"),
        "{text}"
    );

    // Still rejected: it stays, with the new reason.
    let (ok, text) = run(&["dead-letter", "replay", "--config", cfg]);
    assert!(
        ok && text.contains("0 delivered, 1 rejected again"),
        "{text}"
    );
    assert_eq!(count_lines(&letters), 1);

    // The cause is fixed: replay delivers it and the dead letter is gone.
    std::fs::write(
        &path,
        reject_output_config(&plugins, port, &out, "nothing-matches-this"),
    )
    .unwrap();
    let (ok, text) = run(&["dead-letter", "replay", "--config", cfg]);
    assert!(
        ok && text.contains("1 delivered, 0 rejected again"),
        "{text}"
    );
    let records = read_records(&out);
    assert_eq!(records.len(), 11);
    assert_eq!(records[10]["SyslogMessage"], "poison-1");
    let (ok, text) = run(&["dead-letter", "list", "--config", cfg]);
    assert!(
        ok && (text.contains("no dead letters") || text.contains("0 records")),
        "{text}"
    );
}
