#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Header shapes, the tag, the generic path and hostile input. The ids' own
//! readings are in `tests_ids.rs`.

use super::*;

/// `tag: text` behind every header a device or a relay puts in front of it:
/// (name of the shape, line, hostname the header gives).
pub(super) fn shapes(
    product: &str,
    level: u8,
    id: &str,
    text: &str,
) -> Vec<(&'static str, String, Option<&'static str>)> {
    let tag = format!("%{product}-{level}-{id}");
    let emblem = format!("%{product}-session-{level}-{id}");
    vec![
        ("bare", format!("{tag}: {text}"), None),
        (
            "bsd",
            format!("<166>Dec  6 13:00:01 fw1 {tag}: {text}"),
            Some("fw1"),
        ),
        (
            "bsd without host",
            format!("<166>Dec  6 13:00:01 {tag}: {text}"),
            None,
        ),
        (
            "device stamp",
            format!("<166>Dec 06 2026 13:00:01: {tag}: {text}"),
            None,
        ),
        (
            "device stamp and device-id",
            format!("<166>Dec 06 2026 13:00:01 fw1 : {tag}: {text}"),
            Some("fw1"),
        ),
        (
            "emblem",
            format!("<166>:Dec 06 13:00:01 UTC: {emblem}: {text}"),
            None,
        ),
        (
            "hostname prefix",
            format!("<166>fw1 : {tag}: {text}"),
            Some("fw1"),
        ),
        (
            "hostname prefix without pri",
            format!("fw1 {tag}: {text}"),
            Some("fw1"),
        ),
        (
            "rsyslog rfc5424",
            format!("<166>1 2026-12-06T13:00:01.000000+00:00 fw1 {tag} - - -  {text}"),
            Some("fw1"),
        ),
        (
            "rsyslog rfc3164",
            format!("<166>Dec  6 13:00:01 fw1 {tag}: {text}"),
            Some("fw1"),
        ),
        // rsyslog's RFC 5424 with the tag kept in the text (the template the drop-in uses for CEF).
        (
            "rsyslog rfc5424 tag in text",
            format!("<166>1 2026-12-06T13:00:01+00:00 fw1 - - - - {tag}: {text}"),
            Some("fw1"),
        ),
    ]
}

fn s(b: Option<&[u8]>) -> Option<&str> {
    b.map(|b| std::str::from_utf8(b).unwrap())
}

#[test]
fn every_header_shape_gives_tag_text_and_host() {
    let text = "Built inbound TCP connection 123 for outside:10.1.1.1/5555 (10.1.1.1/5555) to inside:10.2.2.2/443 (10.2.2.2/443)";
    for product in ["ASA", "FTD"] {
        for (shape, line, host) in shapes(product, 6, "302013", text) {
            let a = parse_asa(line.as_bytes()).unwrap_or_else(|e| panic!("{shape}: {e}: {line}"));
            assert_eq!(a.product.name(), product, "{shape}");
            assert_eq!(a.level, b"6", "{shape}");
            assert_eq!(a.id, b"302013", "{shape}");
            assert_eq!(std::str::from_utf8(a.text).unwrap(), text, "{shape}");
            assert_eq!(a.matched, AsaMatch::Id, "{shape}");
            assert_eq!(s(a.header.hostname), host, "{shape}: {line}");
            let pri = line.starts_with('<');
            assert_eq!(a.header.facility, pri.then_some(20), "{shape}");
            assert_eq!(a.header.severity, pri.then_some(6), "{shape}");
            let stamped = !shape.starts_with("bare") && !shape.starts_with("hostname");
            assert_eq!(a.header.timestamp.is_some(), stamped, "{shape}: {line}");
        }
    }
}

#[test]
fn the_device_timestamp_is_the_event_time() {
    let a = parse_asa(b"<166>Dec 06 2026 13:00:01 fw1 : %ASA-6-106015: x").unwrap();
    let ts = a.header.timestamp.unwrap();
    assert_eq!(
        (ts.year, ts.month, ts.day, ts.hour, ts.second),
        (Some(2026), 12, 6, 13, 1)
    );
}

#[test]
fn the_emblem_stamp_keeps_its_utc_zone() {
    let a = parse_asa(b"<166>:Dec 06 13:00:01 UTC: %ASA-config-7-111009: User 'enable_15' executed cmd: show running-config").unwrap();
    let ts = a.header.timestamp.unwrap();
    assert_eq!(
        (ts.month, ts.day, ts.hour, ts.offset_secs),
        (12, 6, 13, Some(0))
    );
    assert_eq!(a.level, b"7");
    assert_eq!(a.id, b"111009");
    let a = parse_asa(b"<166>12: *Dec 06 13:00:01.123: %ASA-6-302013: x").unwrap();
    let ts = a.header.timestamp.unwrap();
    assert_eq!(
        (ts.second, ts.nanosecond, ts.offset_secs),
        (1, 123_000_000, None)
    );
}

#[test]
fn not_asa() {
    for line in [
        &b"<13>Dec  6 13:00:01 host app: hello"[..],
        b"%ASA-8-302013: level 8 does not exist",
        b"%ASA-6-30201: five digits",
        b"%ASA-6-3020133: seven digits",
        b"%ASA-6-302013x: no separator",
        b"%ASA6-302013: no dash",
        b"%PIX-6-302013: another product",
        b"CEF:0|Cisco|ASA|1|302013|n|5|",
        b"",
        b"%",
        b"%ASA-",
        b"%ASA-6-",
    ] {
        assert_eq!(
            parse_asa(line),
            Err(AsaError::NotAsa),
            "{}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn a_tag_at_the_end_has_empty_text() {
    let a = parse_asa(b"<166>Dec  6 13:00:01 fw1 %ASA-6-302013").unwrap();
    assert_eq!(a.text, b"");
    assert_eq!(a.matched, AsaMatch::Mismatch);
    assert_eq!(a.network, AsaNetwork::default());
}

#[test]
fn uncovered_ids_take_the_generic_path() {
    let a = parse_asa(b"%ASA-4-106027: Deny tcp src outside:192.0.2.7/4444 dst inside:10.0.0.9/22 by access-group \"ACL-x\" [0x0, 0x0]").unwrap();
    assert_eq!(a.matched, AsaMatch::Generic);
    assert_eq!(a.activity, b"Deny tcp src outside");
    let n = a.network;
    assert_eq!(s(n.source_ip), Some("192.0.2.7"));
    assert_eq!(s(n.source_port), Some("4444"));
    assert_eq!(s(n.inbound_interface), Some("outside"));
    assert_eq!(s(n.destination_ip), Some("10.0.0.9"));
    assert_eq!(s(n.destination_port), Some("22"));
    assert_eq!(s(n.outbound_interface), Some("inside"));
    assert_eq!(s(n.protocol), Some("tcp"));

    let a =
        parse_asa(b"%ASA-2-106017: Deny IP due to Land Attack from 10.1.1.1 to 10.1.1.1").unwrap();
    assert_eq!(a.activity, b"Deny IP due to Land Attack from 10");
    assert_eq!(s(a.network.source_ip), Some("10.1.1.1"));
    assert_eq!(a.network.source_port, None);

    let a = parse_asa(b"%ASA-6-110002: Failed to locate egress interface for TCP from inside:10.0.0.1/80 to 2001:db8::5/443").unwrap();
    assert_eq!(s(a.network.source_ip), Some("10.0.0.1"));
    assert_eq!(s(a.network.destination_ip), Some("2001:db8::5"));
    assert_eq!(s(a.network.destination_port), Some("443"));

    let a =
        parse_asa(b"%ASA-5-111008: User 'enable_15' executed the 'write memory' command.").unwrap();
    assert_eq!(
        a.activity,
        b"User 'enable_15' executed the 'write memory' command"
    );
    assert_eq!(a.network, AsaNetwork::default());
}

#[test]
fn a_covered_id_with_a_changed_text_is_a_mismatch() {
    let a = parse_asa(
        b"%ASA-6-302013: Built a TCP connection from outside:10.1.1.1/5555 to inside:10.2.2.2/443",
    )
    .unwrap();
    assert_eq!(a.matched, AsaMatch::Mismatch);
    assert_eq!(a.activity, b"Built TCP connection");
    assert_eq!(
        s(a.network.source_ip),
        Some("10.1.1.1"),
        "the generic path still reads it"
    );
    assert_eq!(a.network.action, None);
}

#[test]
fn ipv6_endpoints_and_interfaces_with_spaces() {
    let a = parse_asa(b"%ASA-6-302013: Built outbound TCP connection 9 for outside:2001:db8::1/22 (2001:db8::1/22) to NP Identity Ifc:fe80::2/53496 (fe80::2/53496)").unwrap();
    let n = a.network;
    assert_eq!(s(n.source_ip), Some("fe80::2"));
    assert_eq!(s(n.inbound_interface), Some("NP Identity Ifc"));
    assert_eq!(s(n.destination_ip), Some("2001:db8::1"));
    assert_eq!(s(n.destination_port), Some("22"));
}

#[test]
fn hostile_input_never_panics() {
    let line = b"<166>Dec 06 2026 13:00:01 fw1 : %ASA-session-6-302014: Teardown TCP connection 1 for a:1.1.1.1/1 (u) to b:2.2.2.2/2 duration 0:0:1 bytes 9 TCP FINs (user)";
    for cut in 0..=line.len() {
        let _ = parse_asa(&line[..cut]);
    }
    // Long runs of the characters every step scans for.
    for unit in [
        &b"src "[..],
        b"from ",
        b"(",
        b"%ASA-6-",
        b":",
        b"1.1.1.1/",
        b", K: ",
        b"src a:1.1.1.1 (x)",
    ] {
        let mut big = b"%ASA-4-106023: ".to_vec();
        while big.len() < 200_000 {
            big.extend_from_slice(unit);
        }
        let _ = parse_asa(&big);
        let mut generic = b"%ASA-4-999999: ".to_vec();
        generic.extend_from_slice(&big);
        let _ = parse_asa(&generic);
        let mut ftd = b"%FTD-1-430003: A: ".to_vec();
        ftd.extend_from_slice(&big);
        let _ = parse_asa(&ftd);
    }
}
