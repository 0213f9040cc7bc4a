#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use std::collections::HashMap;
use syslane_plugin_sdk::abi::SL_RECORD_PARSE_FAILED;

struct Got {
    table: Table,
    flags: u32,
    facility: u8,
    severity: u8,
    host: Option<String>,
    event_time_ns: Option<i64>,
    process: Option<String>,
    message: String,
    fields: HashMap<String, (String, ValueKind)>,
}

fn decode_with(config: &str, frame: &[u8]) -> Got {
    let d = CefDecoder::from_config(config).unwrap();
    let mut got = None;
    d.decode_frame(
        FrameData {
            data: frame,
            peer: Some(b"192.0.2.1"),
            // 2026-12-06T12:00:00Z
            receive_time_ns: 1_796_558_400_000_000_000,
            truncated: false,
        },
        |r| {
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            got = Some(Got {
                table: r.table,
                flags: r.flags,
                facility: r.facility,
                severity: r.severity,
                host: r.host_name.map(text),
                event_time_ns: r.event_time_ns,
                process: r.process_name.map(text),
                message: text(r.message),
                fields: r
                    .fields
                    .iter()
                    .map(|f| (f.name.to_string(), (text(f.value), f.kind)))
                    .collect(),
            });
        },
    );
    got.expect("every frame gives a record")
}

fn decode(frame: &[u8]) -> Got {
    decode_with(r#"{"timezone":"UTC"}"#, frame)
}

#[test]
fn an_asa_connection_becomes_a_commonsecuritylog_record() {
    let g = decode(b"<166>Dec  6 13:00:01 fw1 %ASA-6-302013: Built inbound TCP connection 123 for outside:10.1.1.1/5555 (10.1.1.1/5555) to inside:10.2.2.2/443 (10.2.2.2/443)");
    assert_eq!(g.table, Table::Security);
    assert_eq!(g.flags, 0);
    assert_eq!((g.facility, g.severity), (20, 6));
    assert_eq!(g.host.as_deref(), Some("fw1"));
    // 2026-12-06T13:00:01Z
    assert_eq!(g.event_time_ns, Some(1_796_562_001_000_000_000));
    assert!(g.message.starts_with("Built inbound TCP connection 123"));
    let f = |k: &str| g.fields.get(k).map(|(v, _)| v.as_str());
    for (k, v) in [
        ("DeviceVendor", "Cisco"),
        ("DeviceProduct", "ASA"),
        ("DeviceEventClassID", "302013"),
        ("LogSeverity", "6"),
        ("Activity", "Built TCP connection"),
        ("SourceIP", "10.1.1.1"),
        ("SourcePort", "5555"),
        ("DestinationIP", "10.2.2.2"),
        ("DestinationPort", "443"),
        ("Protocol", "TCP"),
        ("DeviceAction", "built"),
        ("DeviceInboundInterface", "outside"),
        ("DeviceOutboundInterface", "inside"),
        ("DestinationTranslatedAddress", "10.2.2.2"),
        ("DestinationTranslatedPort", "443"),
    ] {
        assert_eq!(f(k), Some(v), "{k}");
    }
    assert_eq!(f("Message"), Some(g.message.as_str()));
    assert_eq!(g.fields["SourcePort"].1, ValueKind::Int);
    assert_eq!(g.fields["Protocol"].1, ValueKind::String);
    assert!(!g.fields.contains_key("DeviceCustomString1Label"));
}

#[test]
fn ftd_and_the_acl_label() {
    let g = decode(b"<164>Dec  6 13:00:01 ftd1 %FTD-4-106023: Deny udp src outside:10.1.1.1/53 dst inside:10.2.2.2/53 by access-group \"out_in\" [0x0, 0x0]");
    let f = |k: &str| g.fields.get(k).map(|(v, _)| v.as_str());
    assert_eq!(f("DeviceProduct"), Some("FTD"));
    assert_eq!(f("DeviceCustomString1"), Some("out_in"));
    assert_eq!(f("DeviceCustomString1Label"), Some("AccessList"));
    assert_eq!(f("DeviceAction"), Some("denied"));
    let g = decode(b"%FTD-6-430003: SrcIP: 10.0.0.1, DstIP: 10.0.0.2, InitiatorBytes: 12, ResponderBytes: 99999999999");
    assert_eq!(
        g.fields["ReceivedBytes"],
        ("99999999999".into(), ValueKind::Int)
    );
    assert_eq!(g.host, None);
    assert_eq!(g.event_time_ns, None);
}

#[test]
fn a_changed_text_of_a_covered_id_is_kept_and_marked() {
    let g = decode(b"<166>Dec  6 13:00:01 fw1 %ASA-6-302013: Built a new kind of connection from outside:10.1.1.1/5555 to inside:10.2.2.2/443");
    assert_eq!(g.table, Table::Security);
    assert_eq!(g.flags, SL_RECORD_UNRECOGNISED);
    assert_eq!(g.fields["SourceIP"].0, "10.1.1.1");
}

#[test]
fn an_uncovered_id_is_a_record_without_the_mark() {
    let g = decode(b"<165>Dec  6 13:00:01 fw1 %ASA-5-111008: User 'enable_15' executed the 'write memory' command.");
    assert_eq!(g.table, Table::Security);
    assert_eq!(g.flags, 0);
    assert_eq!(g.fields["DeviceEventClassID"].0, "111008");
}

#[test]
fn lines_neither_cef_nor_asa_are_syslog_and_marked() {
    let g = decode(b"<13>Dec  6 13:00:01 host app: hello");
    assert_eq!(g.table, Table::Syslog);
    assert_eq!(g.flags, SL_RECORD_UNRECOGNISED);
    assert_eq!(g.message, "hello");
    let g = decode(b"<134>Nov 25 10:00:00 fw01 CEF:0|Vendor|Product|1.0");
    assert_eq!(g.table, Table::Syslog);
    assert_eq!(g.flags, SL_RECORD_UNRECOGNISED);
    assert!(g.fields.contains_key("RawMessage"));
    let g = decode(b"\x01\x02 not syslog at all");
    assert_eq!(g.flags, SL_RECORD_UNRECOGNISED | SL_RECORD_PARSE_FAILED);
}

#[test]
fn cef_is_unchanged_and_not_marked() {
    let g = decode(b"<134>Nov 25 10:00:00 fw01 CEF:0|Cisco|ASA|9|302013|Built|5|src=10.0.0.1 msg=%ASA-6-302013: x");
    assert_eq!(g.table, Table::Security);
    assert_eq!(g.flags, 0);
    assert_eq!(g.fields["DeviceEventClassID"].0, "302013");
    assert_eq!(g.fields["Activity"].0, "Built");
    assert_eq!(g.fields["Message"].0, "%ASA-6-302013: x");
}

#[test]
fn the_switch_turns_the_asa_mapping_off() {
    let line = b"<166>Dec  6 13:00:01 fw1 %ASA-6-302013: Built inbound TCP connection 1 for outside:10.1.1.1/5555 (10.1.1.1/5555) to inside:10.2.2.2/443 (10.2.2.2/443)";
    let g = decode_with(r#"{"timezone":"UTC","asa":false}"#, line);
    assert_eq!(g.table, Table::Syslog);
    assert_eq!(g.process.as_deref(), Some("%ASA-6-302013"));
    assert_eq!(g.flags, SL_RECORD_UNRECOGNISED, "counted as not recognised");
    assert!(CefDecoder::from_config(r#"{"asa":"no"}"#).is_err());
}
