//! Cisco ASA and FTD lines end to end: sent to a real rsyslogd and a real
//! syslog-ng, forwarded by the shipped drop-ins to the agent's `cef` listener, and stored by the workspace emulator in the CommonSecurityLog stream
//! with their columns, and nowhere else. Lines on that listener that are neither
//! CEF nor ASA/FTD are counted in `syslane_records_unrecognised_total`.

use serde_json::Value;
use std::time::Duration;
use syslane_tests::emulator::*;
use syslane_tests::*;

/// A BSD stamp an hour ago in the system's zone (the decoders' default), and that
/// time in UTC as TimeGenerated shows it (`THH:MM:SS`).
fn stamp() -> (String, String) {
    let at = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 3600).unwrap();
    let local = jiff::tz::TimeZone::system()
        .to_datetime(at)
        .strftime("%b %e %H:%M:%S")
        .to_string();
    let utc = jiff::tz::TimeZone::UTC
        .to_datetime(at)
        .strftime("T%H:%M:%S")
        .to_string();
    (local, utc)
}

/// (line after the header, the columns its record must have).
fn cases() -> Vec<(&'static str, Vec<(&'static str, Value)>)> {
    use serde_json::json;
    vec![
        (
            "%ASA-6-302013: Built outbound TCP connection 9 for outside:198.51.100.1/443 (198.51.100.1/443) to inside:10.0.0.2/53496 (203.0.113.2/53496)",
            vec![
                ("DeviceProduct", json!("ASA")), ("DeviceEventClassID", json!("302013")), ("LogSeverity", json!("6")),
                ("Activity", json!("Built TCP connection")), ("DeviceAction", json!("built")), ("Protocol", json!("TCP")),
                ("SourceIP", json!("10.0.0.2")), ("SourcePort", json!(53496)), ("DeviceInboundInterface", json!("inside")),
                ("SourceTranslatedAddress", json!("203.0.113.2")), ("SourceTranslatedPort", json!(53496)),
                ("DestinationIP", json!("198.51.100.1")), ("DestinationPort", json!(443)), ("DeviceOutboundInterface", json!("outside")),
            ],
        ),
        (
            "%ASA-6-302014: Teardown TCP connection 9 for outside:198.51.100.1/443 to inside:10.0.0.2/53496 duration 0:00:30 bytes 6000000000 TCP FINs",
            vec![
                ("DeviceEventClassID", json!("302014")), ("DeviceAction", json!("teardown")),
                ("SentBytes", json!(6_000_000_000i64)), ("Reason", json!("TCP FINs")),
            ],
        ),
        (
            "%ASA-4-106023: Deny udp src outside:198.51.100.7/5353 dst inside:10.0.0.9/53 by access-group \"outside_in\" [0x0, 0x0]",
            vec![
                ("DeviceEventClassID", json!("106023")), ("DeviceAction", json!("denied")), ("Protocol", json!("udp")),
                ("SourceIP", json!("198.51.100.7")), ("DestinationPort", json!(53)),
                ("DeviceCustomString1", json!("outside_in")), ("DeviceCustomString1Label", json!("AccessList")),
            ],
        ),
        (
            "%FTD-6-106100: access-list inside_in permitted tcp inside/10.0.0.2(51515) -> outside/198.51.100.1(22) hit-cnt 1 first hit [0x0, 0x0]",
            vec![
                ("DeviceProduct", json!("FTD")), ("DeviceEventClassID", json!("106100")), ("DeviceAction", json!("permitted")),
                ("SourcePort", json!(51515)), ("DestinationIP", json!("198.51.100.1")), ("DeviceCustomString1", json!("inside_in")),
            ],
        ),
        (
            "%ASA-6-113004: AAA user authentication Successful : server = 10.5.5.5 : user = grace",
            vec![
                ("DeviceEventClassID", json!("113004")), ("SourceUserName", json!("grace")), ("DestinationIP", json!("10.5.5.5")),
            ],
        ),
        (
            "%FTD-1-430003: AccessControlRuleAction: Allow, SrcIP: 10.0.0.2, DstIP: 198.51.100.1, SrcPort: 51515, DstPort: 443, Protocol: tcp, InitiatorBytes: 1500, ResponderBytes: 64000",
            vec![
                ("DeviceProduct", json!("FTD")), ("DeviceEventClassID", json!("430003")), ("Activity", json!("Connection end")),
                ("DeviceAction", json!("Allow")), ("SentBytes", json!(1500)), ("ReceivedBytes", json!(64000)),
            ],
        ),
    ]
}

#[test]
fn asa_and_ftd_lines_through_rsyslog_with_the_shipped_drop_in_land_in_common_security_log_only() {
    through(rsyslog_with_shipped_drop_in);
}

#[test]
fn asa_and_ftd_lines_through_syslog_ng_with_the_shipped_drop_in_land_in_common_security_log_only() {
    through(syslog_ng_with_shipped_drop_in);
}

/// Starts a daemon: (directory, its input port, the syslog port, the CEF port).
type StartDaemon = fn(&std::path::Path, u16, u16, u16) -> Daemon;

fn through(start_daemon: StartDaemon) {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_builtins(dir.path());
    let emu = Emulator::start(dir.path(), &["--parameter", "securityStream=true"]);
    let (plain, security, daemon_in) = (free_port(), free_port(), free_port());
    let output = emu.output_toml(
        "client_secret",
        "security_stream = \"Custom-SyslaneSecurity\"\nflush_interval_secs = 0",
    );
    let config = azure_config(&plugins, plain, &output).replace(
        "[output]",
        &format!("[[listen]]\naddress = \"tcp://127.0.0.1:{security}\"\ninput = \"cef\"\n[output]"),
    );
    let agent = Agent::start(dir.path(), &config);
    let rsyslog = start_daemon(dir.path(), daemon_in, plain, security);
    let logs = || format!("daemon:\n{}\nsyslane:\n{}", rsyslog.logs(), agent.logs());
    // rsyslogd listens a moment after it starts.
    assert!(
        wait_until(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", daemon_in)).is_ok()
        }),
        "{}",
        logs()
    );

    let (local, utc) = stamp();
    let cases = cases();
    let mut lines: Vec<String> = cases
        .iter()
        .map(|(line, _)| format!("<166>{local} fw01 {line}"))
        .collect();
    lines.push(format!(
        "<134>{local} web01 sshd[7]: plain line next to ASA"
    ));
    send_tcp_lf(daemon_in, lines);

    assert!(
        emu.wait_for(SECURITY_STREAM, cases.len(), Duration::from_secs(20)),
        "{}",
        logs()
    );
    assert!(
        emu.wait_for(SYSLOG_STREAM, 1, Duration::from_secs(20)),
        "{}",
        logs()
    );
    let security_records = emu.records(SECURITY_STREAM);
    assert_eq!(security_records.len(), cases.len(), "{security_records:?}");
    for (line, columns) in &cases {
        let text = line.split_once(": ").unwrap().1;
        let r = security_records
            .iter()
            .find(|r| r["Message"] == text)
            .unwrap_or_else(|| panic!("no record of {line}: {security_records:?}"));
        assert_eq!(r["DeviceVendor"], "Cisco", "{r}");
        assert_eq!(r["Computer"], "fw01", "{r}");
        assert!(r["TimeGenerated"].as_str().unwrap().contains(&utc), "{r}");
        for (column, value) in columns {
            assert_eq!(&r[*column], value, "{column} of {line}: {r}");
        }
    }
    // Nothing of them in Syslog: only the plain line is there.
    let syslog = emu.records(SYSLOG_STREAM);
    assert_eq!(syslog.len(), 1, "{syslog:?}");
    assert_eq!(syslog[0]["SyslogMessage"], "plain line next to ASA");
    assert_eq!(
        emu.stats()["dropped_columns"],
        serde_json::json!({}),
        "{}",
        emu.stats()
    );
    assert_eq!(
        counter(&stats_of(dir.path()), "syslane_records_unrecognised_total"),
        0
    );

    // A line on the security listener that is neither CEF nor ASA/FTD is a Syslog
    // record, and counted.
    send_tcp_lf(
        security,
        [format!("<13>{local} host app: not a security event")],
    );
    assert!(
        wait_until(Duration::from_secs(20), || {
            counter(&stats_of(dir.path()), "syslane_records_unrecognised_total") == 1
        }),
        "{}",
        stats_of(dir.path())
    );
    assert!(
        emu.wait_for(SYSLOG_STREAM, 2, Duration::from_secs(20)),
        "{}",
        logs()
    );
    // Still nothing of the ASA/FTD lines in Syslog, after everything sent before.
    let syslog = emu.records(SYSLOG_STREAM);
    assert_eq!(syslog.len(), 2, "{syslog:?}");
    assert_eq!(syslog[1]["SyslogMessage"], "not a security event");
    assert!(
        syslog.iter().all(|r| {
            let m = r["SyslogMessage"].as_str().unwrap_or("");
            !m.contains("%ASA-") && !m.contains("%FTD-") && r["ProcessName"] != "%ASA-6-302013"
        }),
        "{syslog:?}"
    );
    assert_eq!(emu.records(SECURITY_STREAM).len(), cases.len());
    let summary = syslane(&[
        "stats",
        "--interval",
        "0.2",
        "--config",
        dir.path().join("syslane.toml").to_str().unwrap(),
    ])
    .1;
    assert!(summary.contains("unrecognised"), "{summary}");
    drop(rsyslog);
    agent.stop();
}
