//! The real agent binary end to end: UDP, TCP LF and TCP octet-counted senders,
//! plus util-linux `logger`, into the file output; every record checked.

use serde_json::Value;
use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;
use syslane_tests::*;

const N: usize = 10_000;

fn pri(i: usize) -> usize {
    (i % 24) * 8 + (i % 8)
}

/// RFC 3164 over TCP with LF framing.
fn lf_message(i: usize) -> String {
    format!("<{}>Mar  7 10:{:02}:{:02} host-lf app-lf[{}]: lf-{i:05} payload with \"quotes\" and \\ backslash", pri(i), (i / 60) % 60, i % 60, 1000 + i)
}

/// RFC 5424 over TCP with octet counting; the message holds an LF to prove the framing.
fn octet_message(i: usize) -> String {
    format!("<{}>1 2026-03-07T10:00:{:02}.{:06}Z host-oc app-oc {} ID{i} [meta seq=\"{i}\"] oc-{i:05} line one\nline two", pri(i), i % 60, i, 2000 + i)
}

fn udp_message(i: usize) -> String {
    format!(
        "<{}>1 2026-03-07T11:00:00Z host-udp app-udp - - - udp-{i:05}",
        pri(i)
    )
}

/// Indexes records by their `<prefix>-NNNNN` marker; duplicates are counted.
fn index<'a>(records: &'a [Value], prefix: &str) -> (HashMap<usize, &'a Value>, usize) {
    let mut map = HashMap::new();
    let mut duplicates = 0;
    let tag = format!("{prefix}-");
    for r in records {
        let msg = r["SyslogMessage"].as_str().unwrap_or("");
        if let Some(rest) = msg.strip_prefix(&tag) {
            let n: usize = rest[..5].parse().unwrap();
            if map.insert(n, r).is_some() {
                duplicates += 1;
            }
        }
    }
    (map, duplicates)
}

fn check_common(r: &Value, i: usize) {
    assert_eq!(r["Facility"], FACILITIES[i % 24], "{r}");
    assert_eq!(r["SeverityLevel"], SEVERITIES[i % 8], "{r}");
    assert_eq!(
        r["HostIP"].as_str().map(|s| !s.is_empty()),
        Some(true),
        "{r}"
    );
    assert_eq!(r["SourceSystem"], "Linux");
}

#[test]
fn thirty_thousand_messages_over_udp_and_tcp_arrive_with_their_fields() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("records.jsonl");
    let agent = Agent::start(
        dir.path(),
        &config_text(
            &build_dir(),
            port,
            "[[filter]]\nplugin = \"select\"\nmin_severity = \"debug\"\n",
            &out,
        ),
    );

    let lf = std::thread::spawn(move || send_tcp_lf(port, (0..N).map(lf_message)));
    let oc = std::thread::spawn(move || send_tcp_octet(port, (0..N).map(octet_message)));
    send_udp(port, (0..N).map(udp_message), 50);
    lf.join().unwrap();
    oc.join().unwrap();

    // util-linux logger, over each transport.
    let logger = |args: &[&str]| {
        let status = Command::new(tool("logger"))
            .args(["-n", "127.0.0.1", "-P", &port.to_string()])
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "logger {args:?}");
    };
    logger(&[
        "--rfc5424",
        "-t",
        "lg-app",
        "-p",
        "daemon.warning",
        "logger-udp-5424",
    ]);
    logger(&[
        "--rfc3164",
        "-t",
        "lg-bsd",
        "-p",
        "mail.info",
        "logger-udp-3164",
    ]);
    logger(&[
        "-T",
        "--octet-count",
        "--rfc5424",
        "-t",
        "lg-tcp",
        "--id=4321",
        "-p",
        "local4.err",
        "logger-tcp-octet",
    ]);
    logger(&[
        "-T",
        "--rfc5424",
        "-t",
        "lg-tcp-lf",
        "-p",
        "auth.crit",
        "logger-tcp-lf",
    ]);

    let want = 2 * N + 2;
    let arrived = wait_until(Duration::from_secs(60), || {
        count_lines(&out) >= want + (N * 99 / 100) + 2
    });
    // UDP may still be in flight; give it a moment to settle either way.
    std::thread::sleep(Duration::from_millis(500));
    let (status, logs) = agent.stop();
    assert!(status.success(), "agent exit {status:?}\n{logs}");
    let records = read_records(&out);
    assert!(arrived, "only {} records arrived\n{logs}", records.len());

    let (lf, dup_lf) = index(&records, "lf");
    let (oc, dup_oc) = index(&records, "oc");
    let (udp, dup_udp) = index(&records, "udp");
    assert_eq!((lf.len(), dup_lf), (N, 0), "every LF message exactly once");
    assert_eq!(
        (oc.len(), dup_oc),
        (N, 0),
        "every octet-counted message exactly once"
    );
    assert_eq!(dup_udp, 0);
    assert!(
        udp.len() >= N * 99 / 100,
        "UDP: {} of {N} arrived",
        udp.len()
    );

    for i in 0..N {
        let r = lf[&i];
        check_common(r, i);
        assert_eq!(r["HostName"], "host-lf");
        assert_eq!(r["Computer"], "host-lf");
        assert_eq!(r["ProcessName"], "app-lf");
        assert_eq!(r["ProcessID"], 1000 + i);
        assert_eq!(
            r["SyslogMessage"],
            format!("lf-{i:05} payload with \"quotes\" and \\ backslash")
        );
        let t = r["EventTime"].as_str().unwrap();
        assert_eq!(
            &t[4..19],
            format!("-03-07T10:{:02}:{:02}", (i / 60) % 60, i % 60),
            "{r}"
        );

        let r = oc[&i];
        check_common(r, i);
        assert_eq!(r["HostName"], "host-oc");
        assert_eq!(r["ProcessName"], "app-oc");
        assert_eq!(r["ProcessID"], 2000 + i);
        assert_eq!(r["MsgId"], format!("ID{i}"));
        assert_eq!(r["StructuredData"], format!("[meta seq=\"{i}\"]"));
        assert_eq!(r["SyslogMessage"], format!("oc-{i:05} line one\nline two"));
        let got: jiff::Timestamp = r["EventTime"].as_str().unwrap().parse().unwrap();
        let want: jiff::Timestamp = format!("2026-03-07T10:00:{:02}.{:06}Z", i % 60, i)
            .parse()
            .unwrap();
        assert_eq!(got, want);
    }
    for (i, r) in &udp {
        check_common(r, *i);
        assert_eq!(r["HostName"], "host-udp");
        assert_eq!(r["EventTime"], "2026-03-07T11:00:00Z");
    }

    let by_message = |m: &str| {
        records
            .iter()
            .find(|r| r["SyslogMessage"] == m)
            .unwrap_or_else(|| panic!("{m} missing"))
    };
    let r = by_message("logger-udp-5424");
    assert_eq!(
        (
            r["ProcessName"].as_str(),
            r["Facility"].as_str(),
            r["SeverityLevel"].as_str()
        ),
        (Some("lg-app"), Some("daemon"), Some("warning"))
    );
    let r = by_message("logger-udp-3164");
    assert_eq!(
        (
            r["ProcessName"].as_str(),
            r["Facility"].as_str(),
            r["SeverityLevel"].as_str()
        ),
        (Some("lg-bsd"), Some("mail"), Some("info"))
    );
    let r = by_message("logger-tcp-octet");
    assert_eq!(
        (r["ProcessName"].as_str(), r["ProcessID"].as_u64()),
        (Some("lg-tcp"), Some(4321))
    );
    assert_eq!(
        (r["Facility"].as_str(), r["SeverityLevel"].as_str()),
        (Some("local4"), Some("err"))
    );
    let r = by_message("logger-tcp-lf");
    assert_eq!(
        (r["Facility"].as_str(), r["SeverityLevel"].as_str()),
        (Some("auth"), Some("crit"))
    );
    // logger sends from this host: its records name this host.
    assert_eq!(r["HostName"], r["CollectorHostName"]);

    assert!(
        logs.contains("records_sent="),
        "shutdown summary logged:\n{logs}"
    );
}

#[test]
fn select_filter_drops_what_it_is_configured_to_drop() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("records.jsonl");
    let filter =
        "[[filter]]\nplugin = \"select\"\nmin_severity = \"warning\"\nexclude = \"noise\"\n";
    let agent = Agent::start(dir.path(), &config_text(&build_dir(), port, filter, &out));
    let messages = (0..800).map(|i| {
        format!(
            "<{}>1 - h a - - - sel-{i:05}{}",
            8 + (i % 8),
            if i % 10 == 0 { " noise" } else { "" }
        )
    });
    send_tcp_lf(port, messages);
    // Kept: severity 0..=4 and not "noise".
    let expected: Vec<usize> = (0..800).filter(|i| i % 8 <= 4 && i % 10 != 0).collect();
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out)
        >= expected.len()));
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let records = read_records(&out);
    let (got, _) = index(&records, "sel");
    let mut got: Vec<usize> = got.keys().copied().collect();
    got.sort();
    assert_eq!(got, expected);
    assert!(
        logs.contains(&format!("records_filtered_out={}", 800 - expected.len())),
        "{logs}"
    );
}

#[test]
fn oversized_and_broken_frames_do_not_desynchronise_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("records.jsonl");
    let config = format!(
        "max_message_size = 1024\n{}",
        config_text(&build_dir(), port, "", &out)
    );
    let agent = Agent::start(dir.path(), &config);
    let big = "x".repeat(5000);
    let mut stream = Vec::new();
    stream.extend_from_slice(b"<13>1 - h a - - - before\n");
    stream.extend_from_slice(format!("<13>1 - h a - - - big-lf {big}\n").as_bytes());
    stream.extend_from_slice(&octet_stream([
        format!("<13>1 - h a - - - big-oc {big}"),
        "<13>1 - h a - - - after-oc".to_string(),
    ]));
    stream.extend_from_slice(b"\xff\xfe not utf8 and no header\n<13>1 - h a - - - last-partial");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(&mut s, &stream).unwrap();
    drop(s);
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) >= 6));
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let records = read_records(&out);
    let messages: Vec<&str> = records
        .iter()
        .map(|r| r["SyslogMessage"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 6, "{messages:?}");
    assert_eq!(messages[0], "before");
    assert!(messages[1].starts_with("big-lf xxx") && records[1]["Truncated"] == true);
    assert!(messages[1].len() < 1024);
    assert!(messages[2].starts_with("big-oc xxx") && records[2]["Truncated"] == true);
    assert_eq!(messages[3], "after-oc");
    assert_eq!(messages[4], "\u{fffd}\u{fffd} not utf8 and no header");
    assert_eq!(records[4]["ParseFailed"], true);
    assert_eq!(messages[5], "last-partial");
    assert!(logs.contains("frames_truncated=2"), "{logs}");
}
