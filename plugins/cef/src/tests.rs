#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use std::collections::HashMap;

/// Decodes one frame and returns (table, facility, severity, host, fields, message).
fn decode(
    frame: &[u8],
) -> (
    Table,
    u8,
    u8,
    Option<String>,
    HashMap<String, String>,
    String,
) {
    let d = CefDecoder::from_config(r#"{"timezone":"UTC"}"#).unwrap();
    let mut got = None;
    d.decode_frame(
        FrameData {
            data: frame,
            peer: Some(b"192.0.2.1"),
            receive_time_ns: 1_700_000_000_000_000_000,
            truncated: false,
        },
        |r| {
            let fields = r
                .fields
                .iter()
                .map(|f| {
                    (
                        f.name.to_string(),
                        String::from_utf8_lossy(f.value).into_owned(),
                    )
                })
                .collect();
            got = Some((
                r.table,
                r.facility,
                r.severity,
                r.host_name.map(|h| String::from_utf8_lossy(h).into_owned()),
                fields,
                String::from_utf8_lossy(r.message).into_owned(),
            ));
        },
    );
    got.expect("every frame gives a record")
}

#[test]
fn header_columns_mapped_keys_and_the_rest() {
    let (table, facility, severity, host, f, message) = decode(
        br"<134>Nov 25 10:00:00 fw01 CEF:0|Palo Alto Networks|PAN-OS|10.1|TRAFFIC|end|3|src=10.0.0.5 spt=51515 dst=203.0.113.9 dpt=443 proto=TCP act=allow suser=alice in=1200 out=88 cs1Label=Rule cs1=web out flexString1=x\=y custom=a b",
    );
    assert_eq!(table, Table::Security);
    assert_eq!((facility, severity), (16, 6));
    assert_eq!(host.as_deref(), Some("fw01"));
    assert!(message.starts_with("CEF:0|Palo Alto Networks"));
    for (k, v) in [
        ("DeviceVendor", "Palo Alto Networks"),
        ("DeviceProduct", "PAN-OS"),
        ("DeviceVersion", "10.1"),
        ("DeviceEventClassID", "TRAFFIC"),
        ("Activity", "end"),
        ("LogSeverity", "3"),
        ("SourceIP", "10.0.0.5"),
        ("SourcePort", "51515"),
        ("DestinationIP", "203.0.113.9"),
        ("DestinationPort", "443"),
        ("Protocol", "TCP"),
        ("DeviceAction", "allow"),
        ("SourceUserName", "alice"),
        ("ReceivedBytes", "1200"),
        ("SentBytes", "88"),
        ("DeviceCustomString1Label", "Rule"),
        ("DeviceCustomString1", "web out"),
        ("AdditionalExtensions", "flexString1=x=y;custom=a b"),
    ] {
        assert_eq!(f.get(k).map(String::as_str), Some(v), "{k}: {f:?}");
    }
}

#[test]
fn integers_that_do_not_fit_stay_in_additional_extensions() {
    let (_, _, _, _, f, _) =
        decode(b"CEF:0|V|P|1|s|n|5|spt=http dpt=99999999999 cnt=7 in=12345678901");
    assert_eq!(f.get("SourcePort"), None);
    assert_eq!(f.get("DestinationPort"), None);
    assert_eq!(f["EventCount"], "7");
    assert_eq!(f["ReceivedBytes"], "12345678901");
    assert_eq!(f["AdditionalExtensions"], "spt=http;dpt=99999999999");
}

#[test]
fn a_repeated_key_fills_its_column_once() {
    let (_, _, _, _, f, _) = decode(b"CEF:0|V|P|1|s|n|5|src=1.1.1.1 src=2.2.2.2");
    assert_eq!(f["SourceIP"], "1.1.1.1");
    assert_eq!(f["AdditionalExtensions"], "src=2.2.2.2");
}

#[test]
fn bare_cef_without_a_syslog_header() {
    let (table, facility, severity, host, f, _) = decode(b"CEF:0|V|P|1|s|n|Very-High|");
    assert_eq!(table, Table::Security);
    assert_eq!((facility, severity, host), (1, 5, None));
    assert_eq!(f["LogSeverity"], "Very-High");
    assert!(!f.contains_key("AdditionalExtensions"));
}

#[test]
fn broken_cef_is_kept_whole_as_syslog() {
    let raw = b"<134>Nov 25 10:00:00 fw01 CEF:0|Vendor|Product|1.0";
    let (table, _, _, host, f, message) = decode(raw);
    assert_eq!(table, Table::Syslog);
    assert_eq!(host.as_deref(), Some("fw01"));
    assert_eq!(f["RawMessage"], String::from_utf8_lossy(raw));
    assert!(message.contains("Vendor|Product"), "{message}");
}

#[test]
fn plain_syslog_on_the_cef_port_is_a_syslog_record() {
    let (table, _, _, _, f, message) = decode(b"<13>Nov 25 10:00:00 h app: hello");
    assert_eq!(table, Table::Syslog);
    assert_eq!(message, "hello");
    assert!(f.is_empty());
}

#[test]
fn custom_numbers_fill_the_64_bit_columns_and_the_legacy_ones_when_they_fit() {
    let (_, _, _, _, f, _) = decode(
        b"CEF:0|V|P|1|s|n|5|cn1=42 cn1Label=small cn2=5000000000 cn3=-2147483648 cn3=7 cn2=8",
    );
    assert_eq!(f["FieldDeviceCustomNumber1"], "42");
    assert_eq!(f["DeviceCustomNumber1"], "42");
    assert_eq!(f["DeviceCustomNumber1Label"], "small");
    assert_eq!(f["FieldDeviceCustomNumber2"], "5000000000");
    assert_eq!(
        f.get("DeviceCustomNumber2"),
        None,
        "out of the int column's range"
    );
    assert_eq!(f["FieldDeviceCustomNumber3"], "-2147483648");
    assert_eq!(f["DeviceCustomNumber3"], "-2147483648");
    assert_eq!(
        f["AdditionalExtensions"], "cn3=7;cn2=8",
        "a repeated key fills its columns once"
    );
    let (_, _, _, _, f, _) = decode(b"CEF:0|V|P|1|s|n|5|cn1=99999999999999999999 cn2=x");
    assert_eq!(f.get("FieldDeviceCustomNumber1"), None);
    assert_eq!(f["AdditionalExtensions"], "cn1=99999999999999999999;cn2=x");
}

/// Every column type here is the documented one (the template test checks the
/// deploy template against the same table).
#[test]
fn integer_columns_are_the_tables_integer_columns() {
    let ints: Vec<&str> = COLUMNS
        .iter()
        .filter(|(_, _, t)| *t == Column::Int)
        .map(|(_, c, _)| *c)
        .collect();
    let longs: Vec<&str> = COLUMNS
        .iter()
        .filter(|(_, _, t)| *t == Column::Long)
        .map(|(_, c, _)| *c)
        .collect();
    assert_eq!(
        longs,
        [
            "FieldDeviceCustomNumber1",
            "FieldDeviceCustomNumber2",
            "FieldDeviceCustomNumber3",
            "ReceivedBytes",
            "SentBytes"
        ]
    );
    assert!(ints.contains(&"DeviceCustomNumber1") && ints.contains(&"SourcePort"));
}

/// What the drop-ins' CEF-port template (`- - - - %syslogtag%%msg%`) sends for a
/// line that is not CEF: the tag at the start of the text is read.
#[test]
fn a_non_cef_line_behind_the_drop_in_template_gives_its_tag() {
    let d = CefDecoder::from_config(r#"{"timezone":"UTC"}"#).unwrap();
    let mut got = None;
    d.decode_frame(
        FrameData {
            data: b"<134>1 2026-12-06T09:15:08+00:00 fw01 - - - - app[50]: text with CEF: in it",
            peer: Some(b"192.0.2.1"),
            receive_time_ns: 1_700_000_000_000_000_000,
            truncated: false,
        },
        |r| {
            got = Some((
                r.table,
                r.process_name.map(<[u8]>::to_vec),
                r.proc_id.map(<[u8]>::to_vec),
                r.message.to_vec(),
            ))
        },
    );
    let (table, prog, pid, message) = got.unwrap();
    assert_ne!(table, Table::Security);
    assert_eq!(prog.as_deref(), Some(&b"app"[..]));
    assert_eq!(pid.as_deref(), Some(&b"50"[..]));
    assert_eq!(message, b"text with CEF: in it");
}
