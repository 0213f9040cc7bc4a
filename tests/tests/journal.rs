//! The journal through the real agent: what was journaled survives a crash.

use std::collections::HashSet;
use std::process::Command;
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
    Command::new(tool("kill"))
        .args(["-KILL", &agent.pid().to_string()])
        .status()
        .unwrap();
    drop(agent);

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
