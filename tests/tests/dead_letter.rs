//! Permanent rejections: dead-lettered with the reason, listed, and replayed once
//! the cause is fixed. The rejecting output is the C example, loaded like any plugin.

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
        wait_until(Duration::from_secs(20), || count_lines(&letters) == 1),
        "{}",
        agent.logs()
    );
    send_tcp_lf(port, (0..10).map(|i| format!("<13>1 - h a - - - good-{i}")));
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) == 10));
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

fn letter(batch: u64, n: usize) -> String {
    format!(
        "{{\"time\":\"2026-01-01T00:00:00Z\",\"table\":\"Syslog\",\"batch_id\":{batch},\"reason\":\"400 bad\",\"record\":{{\"SyslogMessage\":\"dl-{n}\"}}}}\n"
    )
}

#[test]
fn unreadable_lines_are_reported_by_number_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_reject_output(dir.path());
    let out = dir.path().join("out.jsonl");
    let config = dir.path().join("syslane.toml");
    std::fs::write(
        &config,
        reject_output_config(&plugins, free_port(), &out, "nothing-matches"),
    )
    .unwrap();
    let letters_dir = dir.path().join("state/dead-letter");
    std::fs::create_dir_all(&letters_dir).unwrap();
    let file = letters_dir.join("dead-letter.jsonl");
    let mut bytes = letter(1, 0).into_bytes();
    bytes.extend_from_slice(b"{\"time\":\"\xff\xfe broken\n");
    bytes.extend_from_slice(b"not json at all\n");
    bytes.extend_from_slice(letter(1, 1).as_bytes());
    std::fs::write(&file, &bytes).unwrap();
    let cfg = config.to_str().unwrap();

    let (ok, text) = run(&["dead-letter", "list", "--config", cfg]);
    assert!(ok, "{text}");
    assert!(
        text.contains("line 2: not UTF-8")
            && text.contains("line 3: not a dead letter")
            && text.contains("2 records in")
            && text.contains("2 unreadable lines"),
        "{text}"
    );

    let (ok, text) = run(&["dead-letter", "replay", "--config", cfg]);
    assert!(ok && text.contains("2 delivered"), "{text}");
    assert!(text.contains("lines 2, 3"), "{text}");
    let got: Vec<String> = read_records(&out)
        .iter()
        .map(|r| r["SyslogMessage"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, vec!["dl-0", "dl-1"]);
    // Kept for the operator, as they were.
    let kept = std::fs::read(&file).unwrap();
    assert_eq!(
        kept,
        b"{\"time\":\"\xff\xfe broken\nnot json at all\n".to_vec()
    );
    let (ok, text) = run(&["dead-letter", "list", "--config", cfg]);
    assert!(
        ok && text.contains("0 records in") && text.contains("line 1: not UTF-8"),
        "{text}"
    );
}

#[test]
fn an_interrupted_replay_is_listed_and_resumed_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_reject_output(dir.path());
    let out = dir.path().join("out.jsonl");
    let config = dir.path().join("syslane.toml");
    std::fs::write(
        &config,
        reject_output_config(&plugins, free_port(), &out, "nothing-matches"),
    )
    .unwrap();
    // What a replay killed after its first batch leaves behind: the file taken
    // aside and the count of lines it had settled.
    let letters_dir = dir.path().join("state/dead-letter");
    std::fs::create_dir_all(&letters_dir).unwrap();
    let taken = letters_dir.join("dead-letter.replaying");
    std::fs::write(&taken, letter(1, 0) + &letter(2, 1) + &letter(2, 2)).unwrap();
    std::fs::write(letters_dir.join("dead-letter.replaying.done"), "1\n").unwrap();
    let cfg = config.to_str().unwrap();

    let (ok, text) = run(&["dead-letter", "list", "--config", cfg]);
    assert!(ok, "{text}");
    assert!(
        text.contains("an interrupted replay waits in")
            && text.contains("1 of its 3 lines settled")
            && text.contains("2 records in"),
        "the waiting records are listed, not hidden: {text}"
    );
    let (ok, text) = run(&["dead-letter", "replay", "--config", cfg]);
    assert!(
        ok && text.contains("resumed an interrupted replay at line 2")
            && text.contains("2 delivered"),
        "{text}"
    );
    let got: Vec<String> = read_records(&out)
        .iter()
        .map(|r| r["SyslogMessage"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        got,
        vec!["dl-1", "dl-2"],
        "the settled one is not sent again"
    );
    assert!(!taken.exists());
    let (ok, text) = run(&["dead-letter", "list", "--config", cfg]);
    assert!(ok && text.contains("no dead letters"), "{text}");
}
