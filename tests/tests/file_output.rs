//! The file output's size bound and rotation, and a file moved away by logrotate,
//! through the real agent.

use std::path::Path;
use std::time::Duration;
use syslane_tests::*;

fn messages(tag: &str, range: std::ops::Range<usize>) -> impl Iterator<Item = String> + '_ {
    range.map(move |i| format!("<134>1 2026-03-07T10:00:00Z host app - - - {tag}-{i:06}"))
}

/// The numbers of `tag` messages in `path`, in file order.
fn numbers_in(path: &Path, tag: &str) -> Vec<usize> {
    if !path.exists() {
        return Vec::new();
    }
    read_records(path)
        .iter()
        .filter_map(|r| {
            r["SyslogMessage"]
                .as_str()?
                .strip_prefix(tag)?
                .strip_prefix('-')?
                .parse()
                .ok()
        })
        .collect()
}

fn config(dir: &Path, port: u16, output: &str) -> String {
    format!(
        "state_dir = \"state\"\nplugin_dir = \"{}\"\nbatch_max_bytes = 4096\n\
         [[listen]]\naddress = \"tcp://127.0.0.1:{port}\"\ninput = \"syslog\"\n\
         [output]\nplugin = \"file\"\npath = \"{}\"\n{output}\n",
        build_dir().display(),
        dir.join("records.jsonl").display()
    )
}

#[test]
fn max_bytes_rotates_keeps_the_newest_files_and_no_file_outgrows_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("records.jsonl");
    let agent = Agent::start(
        dir.path(),
        &config(dir.path(), port, "max_bytes = 20000\nkeep = 2"),
    );
    send_tcp_lf(port, messages("rot", 0..2000));
    assert!(
        wait_until(Duration::from_secs(30), || numbers_in(&out, "rot").last()
            == Some(&1999)),
        "{}",
        agent.logs()
    );
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let files = [
        dir.path().join("records.jsonl.2"),
        dir.path().join("records.jsonl.1"),
        out.clone(),
    ];
    let mut kept = Vec::new();
    for f in &files {
        let size = std::fs::metadata(f).unwrap().len();
        assert!(size > 0 && size <= 20_000, "{}: {size} bytes", f.display());
        kept.extend(numbers_in(f, "rot"));
    }
    assert!(!dir.path().join("records.jsonl.3").exists(), "keep = 2");
    // The newest records, oldest file first, with no gap and none twice.
    let first = kept[0];
    assert_eq!(kept, (first..2000).collect::<Vec<_>>());
    assert!(first > 0, "older files were deleted");
}

#[test]
fn a_file_moved_away_by_logrotate_is_noticed_and_the_path_written_anew() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("records.jsonl");
    let agent = Agent::start(dir.path(), &config(dir.path(), port, ""));
    send_tcp_lf(port, messages("before", 0..100));
    assert!(wait_until(Duration::from_secs(20), || numbers_in(
        &out, "before"
    )
    .len()
        == 100));
    let moved = dir.path().join("records.jsonl-20261201");
    std::fs::rename(&out, &moved).unwrap();
    send_tcp_lf(port, messages("after", 0..100));
    assert!(
        wait_until(Duration::from_secs(20), || numbers_in(&out, "after").len()
            == 100),
        "{}",
        agent.logs()
    );
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    assert_eq!(numbers_in(&moved, "before"), (0..100).collect::<Vec<_>>());
    assert!(
        numbers_in(&moved, "after").is_empty(),
        "nothing more went to the moved file"
    );
    assert_eq!(numbers_in(&out, "after"), (0..100).collect::<Vec<_>>());
}

#[test]
fn a_line_torn_by_a_crash_is_cut_before_anything_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("records.jsonl");
    // What a kill -9 in the middle of a write leaves: whole lines, then part of one.
    let whole = "{\"SyslogMessage\":\"kept-000001\"}\n";
    std::fs::write(
        &out,
        format!("{whole}{{\"TimeGenerated\":\"2026-03-07T10:00:00Z\",\"Comp"),
    )
    .unwrap();
    let agent = Agent::start(dir.path(), &config(dir.path(), port, ""));
    send_tcp_lf(port, messages("new", 0..3));
    assert!(
        wait_until(Duration::from_secs(20), || count_lines(&out) >= 4),
        "{}",
        agent.logs()
    );
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    assert!(
        logs.contains("cut 45 bytes of a line left unfinished by a crash"),
        "{logs}"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with(whole), "{text}");
    // read_records panics on a line that is not JSON.
    assert_eq!(read_records(&out).len(), 4);
    assert_eq!(numbers_in(&out, "new"), vec![0, 1, 2]);
}
