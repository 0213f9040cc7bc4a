//! The journal through the real agent: what was journaled survives a crash.

use std::collections::HashSet;
use std::time::Duration;
use syslane_tests::*;

#[test]
fn records_journaled_while_the_output_is_down_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // The output cannot write (a full disk): everything accepted stays in the journal.
    let agent = Agent::start(
        dir.path(),
        &config_text(&build_dir(), port, "", std::path::Path::new("/dev/full")),
    );
    let n = 20_000;
    send_tcp_octet(
        port,
        (0..n).map(|i| format!("<13>1 - h a - - - crash-{i:05}")),
    );
    agent.expect_log("No space left on device", 10);
    // Let the pipeline journal the whole stream (it takes milliseconds), then crash.
    std::thread::sleep(Duration::from_secs(2));
    agent.kill9();

    let out = dir.path().join("records.jsonl");
    let agent = Agent::start(dir.path(), &config_text(&build_dir(), port, "", &out));
    assert!(
        wait_until(Duration::from_secs(30), || count_lines(&out) >= n),
        "{}",
        agent.logs()
    );
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let records = read_records(&out);
    let got: HashSet<String> = records
        .iter()
        .map(|r| r["SyslogMessage"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        records.len(),
        n,
        "nothing was acknowledged before the crash, so nothing comes twice"
    );
    assert_eq!(
        got,
        (0..n)
            .map(|i| format!("crash-{i:05}"))
            .collect::<HashSet<_>>()
    );
    assert!(
        logs.contains(&format!("records={n}")) && logs.contains("records from before the restart"),
        "{logs}"
    );
}

/// Small segments (64 KiB) that are acknowledged become the files of the next
/// ones; a crash while the agent writes into such a file must give back only what
/// it wrote there, never the records the file held before.
#[test]
fn recycled_segments_give_back_only_their_own_records_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("records.jsonl");
    let config = format!(
        "journal_max_bytes = 1048576\n{}",
        config_text(&build_dir(), port, "", &out)
    );
    let agent = Agent::start(dir.path(), &config);
    let n = 4000;
    // Several entries a segment, and many segments.
    for part in 0..40 {
        send_tcp_octet(
            port,
            (part * 100..(part + 1) * 100)
                .map(|i| format!("<13>1 - h a - - - before-{i:05} {}", "x".repeat(200))),
        );
    }
    assert!(
        wait_until(Duration::from_secs(30), || count_lines(&out) >= n),
        "{}",
        agent.logs()
    );
    let journal = dir.path().join("state").join("journal");
    assert!(
        journal.join("spare").exists(),
        "an acknowledged segment is kept to be written into"
    );
    // The shipper, idle, saves its acknowledgement; then the crash.
    std::thread::sleep(Duration::from_secs(1));
    agent.kill9();

    let agent = Agent::start(dir.path(), &config);
    send_tcp_octet(
        port,
        (0..100).map(|i| format!("<13>1 - h a - - - after-{i:05}")),
    );
    assert!(
        wait_until(Duration::from_secs(30), || count_lines(&out) >= n + 100),
        "{}",
        agent.logs()
    );
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let records = read_records(&out);
    let messages: Vec<&str> = records
        .iter()
        .map(|r| r["SyslogMessage"].as_str().unwrap())
        .collect();
    let distinct: HashSet<&str> = messages.iter().copied().collect();
    assert_eq!(distinct.len(), n + 100, "every record arrived");
    assert_eq!(
        messages.len(),
        n + 100,
        "none came twice: a recycled file's old records are not read back"
    );
    assert!(
        !logs.contains("corrupt region") && !logs.contains("torn tail"),
        "{logs}"
    );
}
