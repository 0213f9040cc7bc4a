//! The state directory's format marker across versions: an agent refuses a
//! state directory a newer syslane wrote (the downgrade case: it names both
//! versions and changes no file, from `run` and from `check-config`), and takes
//! over one without a marker holding a journal as 0.1.0 wrote it (the upgrade
//! case: every old record is delivered and the marker written). Also a journal
//! file the agent's user cannot write, named by `check-config` and by `run`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use syslane_tests::*;

/// Every file under `dir` with its bytes and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime)> {
    let mut all = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                todo.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap_or_default();
                all.insert(p, (bytes, m.modified().unwrap()));
            }
        }
    }
    all
}

/// A journal entry as 0.1.0 wrote it (segment.rs): magic, payload length, the
/// crc32c of table, records and payload (without the segment's number), table,
/// records, payload.
fn entry_v1(table: u32, records: u32, payload: &[u8]) -> Vec<u8> {
    let mut fields = Vec::new();
    fields.extend_from_slice(&table.to_le_bytes());
    fields.extend_from_slice(&records.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&fields), payload);
    let mut e = b"SLJ1".to_vec();
    e.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    e.extend_from_slice(&crc.to_le_bytes());
    e.extend_from_slice(&fields);
    e.extend_from_slice(payload);
    e
}

/// A configuration in `dir` (syslog on TCP `port`, records to out.jsonl, state in `state`).
fn setup(dir: &Path) -> (String, PathBuf, u16) {
    let plugins = plugin_dir_with_builtins(dir);
    let out = dir.join("out.jsonl");
    let port = free_port();
    let config = config_text(&plugins, port, "", &out);
    std::fs::write(dir.join("syslane.toml"), &config).unwrap();
    (config, out, port)
}

#[test]
fn a_state_dir_of_a_newer_format_is_refused_naming_both_versions_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (config, out, port) = setup(dir.path());
    // A state directory this build wrote.
    let agent = Agent::start(dir.path(), &config);
    send_tcp_lf(
        port,
        (0..20).map(|i| format!("<13>Dec  6 10:00:00 host app: record {i}")),
    );
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) >= 20));
    agent.stop();
    let state = dir.path().join("state");
    let marker = std::fs::read_to_string(state.join("format")).unwrap();
    assert!(
        marker.contains("format = 2") && marker.contains(env!("CARGO_PKG_VERSION")),
        "{marker}"
    );
    // As a later syslane would leave it: a format this build does not know.
    std::fs::write(
        state.join("format"),
        "format = 99\nwritten_by = \"9.9.0\"\n",
    )
    .unwrap();
    std::fs::write(
        state.join("journal").join("00000000000000000077.seg"),
        b"SLJ9 newer",
    )
    .unwrap();
    let before = snapshot(&state);
    std::thread::sleep(Duration::from_millis(20));

    let config_path = dir.path().join("syslane.toml");
    let (ok, _, err) = syslane(&["run", "--config", config_path.to_str().unwrap()]);
    assert!(!ok, "run must refuse: {err}");
    for said in [
        "format 99",
        "9.9.0",
        env!("CARGO_PKG_VERSION"),
        "format 2",
        "Nothing was changed",
    ] {
        assert!(err.contains(said), "run's refusal lacks {said:?}: {err}");
    }
    let (ok, _, err) = syslane(&[
        "check-config",
        "--offline",
        "--config",
        config_path.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("9.9.0") && err.contains("format 99"),
        "{err}"
    );
    assert_eq!(
        snapshot(&state),
        before,
        "a refused state_dir is left as it was"
    );
}

#[test]
fn a_journal_left_by_0_1_0_without_a_marker_is_delivered_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let (config, out, _) = setup(dir.path());
    let journal = dir.path().join("state/journal");
    std::fs::create_dir_all(&journal).unwrap();
    let mut old = Vec::new();
    for i in 0..50 {
        let payload = format!(
            "{{\"TimeGenerated\":\"2026-11-25T12:00:00Z\",\"SyslogMessage\":\"left by 0.1.0 #{i}\"}}\n"
        );
        old.extend(entry_v1(0, 1, payload.as_bytes()));
    }
    std::fs::write(journal.join("00000000000000000001.seg"), &old).unwrap();
    assert!(!dir.path().join("state/format").exists());

    let agent = Agent::start(dir.path(), &config);
    assert!(
        wait_until(Duration::from_secs(20), || {
            std::fs::read_to_string(&out).is_ok_and(|t| t.matches("left by 0.1.0 #").count() >= 50)
        }),
        "the old journal's records were not delivered: {} lines\n{}",
        count_lines(&out),
        agent.logs()
    );
    let (_, logs) = agent.stop();
    let text = std::fs::read_to_string(&out).unwrap();
    for i in 0..50 {
        assert!(
            text.contains(&format!("left by 0.1.0 #{i}\"")),
            "record {i} missing"
        );
    }
    let marker = std::fs::read_to_string(dir.path().join("state/format")).unwrap();
    assert!(marker.contains("format = 2"), "{marker}");
    assert!(
        logs.contains("journal_corrupt_bytes=0") && !logs.contains("corrupt region"),
        "0.1.0's entries are not damage:\n{logs}"
    );
}
