//! Device headers by category, with the record columns each must give: shared by
//! the end-to-end test (`tests/device_headers.rs`) and the parser comparison of
//! `syslane-bench --parse`. Written from rsyslog's and syslog-ng's documented
//! parsing rules.

use serde_json::{json, Value};

/// A message and the columns its record must have (absent keys are not checked;
/// `null` means the column is null; HostName null means none in the message, so
/// this host's name for a local sender).
pub struct Case {
    pub marker: &'static str,
    pub raw: String,
    pub want: Value,
}

fn case(marker: &'static str, raw: &str, want: Value) -> Case {
    Case {
        marker,
        raw: raw.replace("MARKER", marker),
        want: serde_json::from_str(&want.to_string().replace("MARKER", marker)).unwrap(),
    }
}

/// Every case; `MARKER` in the text is replaced by the case's marker.
pub fn device_cases() -> Vec<Case> {
    let long_app = "a".repeat(60);
    let long_procid = "p".repeat(140);
    let long_msgid = "m".repeat(40);
    vec![
        // 1. Tags without a colon; a single word; MARK lines.
        case("zq-t1", "<13>Mar  7 19:06:53 edge-1 dnsmasq MARKER lease renewed",
             json!({"HostName": "edge-1", "ProcessName": "dnsmasq", "ProcessID": null, "SyslogMessage": "MARKER lease renewed"})),
        case("zq-t2", "<13>Mar  7 19:06:53 edge-1 ntpd[812] MARKER time reset",
             json!({"HostName": "edge-1", "ProcessName": "ntpd", "ProcessID": 812, "SyslogMessage": "MARKER time reset"})),
        case("zq-t3", "<46>Mar  7 19:06:53 edge-1 -- MARK -- MARKER",
             json!({"HostName": "edge-1", "ProcessName": null, "SyslogMessage": "-- MARK -- MARKER"})),
        case("zq-t4", "<13>Mar  7 19:06:53 edge-1 MARKER",
             json!({"HostName": "edge-1", "ProcessName": "MARKER", "SyslogMessage": ""})),
        // 2. Spaces between > and the date, doubled between fields; after the tag
        //    one space is the separator and the rest are the text's own.
        case("zq-s1", "<13>  Mar  7  19:06:53  edge-2  app[7]:  MARKER spaced",
             json!({"HostName": "edge-2", "ProcessName": "app", "ProcessID": 7, "SyslogMessage": " MARKER spaced"})),
        // 3. Device timestamps.
        case("zq-d1", "<14>2026-10-29 02:00:00.156+01:00 nas01 backup[311]: MARKER done",
             json!({"HostName": "nas01", "ProcessName": "backup", "EventTime": "2026-10-29T01:00:00.156Z", "SyslogMessage": "MARKER done"})),
        case("zq-d2", "<13>Mar  7 2026 19:06:53.250 edge-3 app: MARKER with year",
             json!({"HostName": "edge-3", "EventTime": "2026-03-07T19:06:53.25Z", "SyslogMessage": "MARKER with year"})),
        case("zq-d3", "<189>91: *Oct 07 2026 03:10:04.123: %LINEPROTO-5-UPDOWN: MARKER Line protocol up",
             json!({"HostName": null, "ProcessName": "%LINEPROTO-5-UPDOWN", "EventTime": "2026-10-07T03:10:04.123Z", "SyslogMessage": "MARKER Line protocol up"})),
        // 4. No hostname; Cisco mnemonics; AIX relays.
        case("zq-h1", "<29>Mar  7 19:06:53 dhcpd[404]: MARKER DHCPACK",
             json!({"HostName": null, "ProcessName": "dhcpd", "ProcessID": 404, "SyslogMessage": "MARKER DHCPACK"})),
        case("zq-h2", "<187>Mar  7 19:06:53 %ASA-3-710003: MARKER access denied",
             json!({"HostName": null, "ProcessName": "%ASA-3-710003", "SyslogMessage": "MARKER access denied"})),
        case("zq-h3", "<38>Mar  7 19:06:53 Message forwarded from aixhost: sshd[4242]: MARKER Accepted",
             json!({"HostName": "aixhost", "ProcessName": "sshd", "ProcessID": 4242, "SyslogMessage": "MARKER Accepted"})),
        // 5. IPv6 hostnames.
        case("zq-v1", "<13>Mar  7 19:06:53 fe80:: app: MARKER v6",
             json!({"HostName": "fe80::", "ProcessName": "app", "SyslogMessage": "MARKER v6"})),
        case("zq-v2", "<13>Mar  7 19:06:53 2001:db8::17 app[3]: MARKER v6",
             json!({"HostName": "2001:db8::17", "ProcessName": "app", "ProcessID": 3, "SyslogMessage": "MARKER v6"})),
        // 6. RFC 5424 fields longer than the RFC allows are kept whole.
        case("zq-l1", &format!("<13>1 2026-03-07T19:06:53Z edge-4 {long_app} {long_procid} {long_msgid} - MARKER long"),
             json!({"HostName": "edge-4", "ProcessName": long_app, "ProcId": long_procid, "MsgId": long_msgid, "SyslogMessage": "MARKER long"})),
        // Nothing recognisable: kept whole.
        case("zq-n1", "MARKER looks like nothing at all",
             json!({"ProcessName": null, "SyslogMessage": "MARKER looks like nothing at all", "ParseFailed": true})),
    ]
}
