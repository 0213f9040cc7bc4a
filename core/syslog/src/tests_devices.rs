//! What appliances, routers and old daemons send straight to the collector, read the
//! way rsyslog (pmrfc3164) and syslog-ng (the legacy syslog parser) read it. One test
//! per category; the expectations follow the daemons' documented rules.

use super::*;

fn s(b: Option<&[u8]>) -> Option<&str> {
    b.map(|b| std::str::from_utf8(b).unwrap())
}

/// (hostname, appname, procid, message) of a parse.
fn fields(input: &str) -> (Option<&str>, Option<&str>, Option<&str>, &str) {
    let m = parse(input.as_bytes());
    (
        s(m.hostname),
        s(m.appname),
        s(m.procid),
        std::str::from_utf8(m.message).unwrap(),
    )
}

fn stamp(input: &str) -> Timestamp {
    parse(input.as_bytes())
        .timestamp
        .unwrap_or_else(|| panic!("no timestamp in {input:?}"))
}

// 1. Tags without a colon, single words, MARK lines.

#[test]
fn a_bare_word_after_the_hostname_is_the_tag() {
    assert_eq!(
        fields("<13>Mar  7 19:06:53 host tag message text"),
        (Some("host"), Some("tag"), None, "message text")
    );
    assert_eq!(
        fields(
            "<30>Nov 20 08:15:00 ap-3 hostapd wlan0: STA 00:11:22:33:44:55 IEEE 802.11: associated"
        ),
        (
            Some("ap-3"),
            Some("hostapd"),
            None,
            "wlan0: STA 00:11:22:33:44:55 IEEE 802.11: associated"
        )
    );
    // A pid without the colon still ends the tag.
    assert_eq!(
        fields("<13>Mar  7 19:06:53 host ntpd[812] time reset +0.12 s"),
        (
            Some("host"),
            Some("ntpd"),
            Some("812"),
            "time reset +0.12 s"
        )
    );
    // A colon glued to the text ends the tag too.
    assert_eq!(
        fields("<13>Mar  7 19:06:53 host app:started"),
        (Some("host"), Some("app"), None, "started")
    );
}

#[test]
fn a_single_word_after_the_header_is_the_tag_with_no_text() {
    assert_eq!(
        fields("<13>Mar  7 19:06:53 host heartbeat"),
        (Some("host"), Some("heartbeat"), None, "")
    );
    assert_eq!(
        fields("<13>Mar  7 19:06:53 heartbeat"),
        (None, Some("heartbeat"), None, "")
    );
    // A word followed by a space is the hostname (the header in front of `CEF:`).
    assert_eq!(
        fields("<134>Mar  7 19:06:53 fw-01 "),
        (Some("fw-01"), None, None, "")
    );
}

#[test]
fn mark_lines_and_key_value_text_are_not_tags() {
    assert_eq!(
        fields("<46>Mar  7 19:20:00 host -- MARK --"),
        (Some("host"), None, None, "-- MARK --")
    );
    assert_eq!(
        fields("<189>Mar  7 19:20:00 fw01 devname=\"fw01\" action=deny srcip=10.0.0.1"),
        (
            Some("fw01"),
            None,
            None,
            "devname=\"fw01\" action=deny srcip=10.0.0.1"
        )
    );
}

#[test]
fn a_word_capitalised_like_a_sentence_is_text() {
    assert_eq!(
        fields("<13>Mar  7 19:06:53 10.0.0.9 Interface eth1 down"),
        (Some("10.0.0.9"), None, None, "Interface eth1 down")
    );
    assert_eq!(
        fields("<13>Mar  7 19:06:53 host A user logged in"),
        (Some("host"), None, None, "A user logged in")
    );
    // Names in capitals or mixed case are tags.
    assert_eq!(
        fields("<13>Mar  7 19:06:53 host MSWinEventLog 1 Security 42"),
        (Some("host"), Some("MSWinEventLog"), None, "1 Security 42")
    );
    assert_eq!(
        fields("<13>Mar  7 19:06:53 host UX ups on battery"),
        (Some("host"), Some("UX"), None, "ups on battery")
    );
}

#[test]
fn without_a_timestamp_only_a_marked_tag_is_a_tag() {
    // No header to go by: prose stays prose.
    assert_eq!(
        fields("<30>Network link has gone down on interface 1"),
        (
            None,
            None,
            None,
            "Network link has gone down on interface 1"
        )
    );
    assert_eq!(
        fields("<30>ifmgr[77]: link down"),
        (None, Some("ifmgr"), Some("77"), "link down")
    );
}

// 2. Whitespace.

#[test]
fn spaces_the_daemons_tolerate() {
    let want = (Some("host"), Some("app"), Some("9"), "text  with  spaces");
    assert_eq!(
        fields("<13> Mar  7 19:06:53 host app[9]: text  with  spaces"),
        want
    );
    assert_eq!(
        fields("<13>   Mar  7 19:06:53 host app[9]: text  with  spaces"),
        want
    );
    assert_eq!(
        fields("<13>Mar  7 19:06:53  host  app[9]: text  with  spaces"),
        want
    );
    assert_eq!(
        fields("<13>Mar  7  19:06:53 host app[9]: text  with  spaces"),
        want
    );
    // Between the tag and the text only one space is a separator: the rest are
    // the text's own (indentation).
    assert_eq!(
        fields("<13>Mar 7 19:06:53 host   app[9]:   text  with  spaces"),
        (Some("host"), Some("app"), Some("9"), "  text  with  spaces")
    );
    let ts = stamp("<13>  Mar  7  19:06:53 host app: x");
    assert_eq!((ts.month, ts.day, ts.hour, ts.second), (3, 7, 19, 53));
}

// 3. Timestamps devices write.

#[test]
fn iso_8601_with_a_space_instead_of_t() {
    let m = parse(b"<14>2026-10-29 02:00:00.156+01:00 nas01 backup[311]: job done");
    let ts = m.timestamp.unwrap();
    assert_eq!(
        (
            ts.year,
            ts.month,
            ts.day,
            ts.hour,
            ts.nanosecond,
            ts.offset_secs
        ),
        (Some(2026), 10, 29, 2, 156_000_000, Some(3600))
    );
    assert_eq!(s(m.hostname), Some("nas01"));
    assert_eq!(s(m.appname), Some("backup"));
    assert_eq!(m.message, b"job done");
    // Without a zone (read in the configured zone), and with `+hhmm`.
    let ts = stamp("<14>2026-10-29 02:00:00 nas01 backup: x");
    assert_eq!((ts.offset_secs, ts.second), (None, 0));
    let ts = stamp("<14>2026-10-29T02:00:00-0530 nas01 backup: x");
    assert_eq!(ts.offset_secs, Some(-(5 * 3600 + 30 * 60)));
}

#[test]
fn bsd_stamps_with_fractions_or_a_year() {
    let ts = stamp("<13>Mar  7 19:06:53.123456 host app: x");
    assert_eq!((ts.second, ts.nanosecond), (53, 123_456_000));
    let m = parse(b"<13>Mar  7 2026 19:06:53 host app: x");
    let ts = m.timestamp.unwrap();
    assert_eq!((ts.year, ts.hour), (Some(2026), 19));
    assert_eq!(s(m.hostname), Some("host"));
}

#[test]
fn cisco_stamps_with_sequence_numbers_and_clock_marks() {
    let m = parse(b"<189>91: *Oct 07 03:10:04.123: %LINEPROTO-5-UPDOWN: Line protocol on Interface Gi0/1, changed state to up");
    let ts = m.timestamp.unwrap();
    assert_eq!(
        (ts.month, ts.day, ts.hour, ts.nanosecond),
        (10, 7, 3, 123_000_000)
    );
    assert_eq!(m.hostname, None);
    assert_eq!(s(m.appname), Some("%LINEPROTO-5-UPDOWN"));
    assert_eq!(
        m.message,
        b"Line protocol on Interface Gi0/1, changed state to up"
    );
    // `.`: the clock was synchronised once but is not now.
    let m = parse(b"<187>1043: .Oct  7 03:10:04: %SYS-3-CPUHOG: Task ran for 2004 msec");
    assert_eq!(m.timestamp.unwrap().second, 4);
    assert_eq!(s(m.appname), Some("%SYS-3-CPUHOG"));
    // A sequence number with no timestamp after it is text.
    assert_eq!(
        fields("<189>91: link flapped"),
        (None, Some("91"), None, "link flapped")
    );
}

// 4. Headers without a hostname.

#[test]
fn no_hostname_when_the_program_follows_the_date() {
    assert_eq!(
        fields("<29>Mar  7 19:06:53 dhcpd: DHCPACK on 10.0.0.7"),
        (None, Some("dhcpd"), None, "DHCPACK on 10.0.0.7")
    );
    assert_eq!(
        fields("<29>Mar  7 19:06:53 dhcpd[404] DHCPACK on 10.0.0.7"),
        (None, Some("dhcpd"), Some("404"), "DHCPACK on 10.0.0.7")
    );
    assert_eq!(
        fields("<187>Mar  7 19:06:53 %ASA-3-710003: TCP access denied"),
        (None, Some("%ASA-3-710003"), None, "TCP access denied")
    );
    // With a hostname, the mnemonic is still the tag.
    assert_eq!(
        fields("<187>Mar  7 2026 19:06:53: asa01 %ASA-3-710003: TCP access denied"),
        (
            Some("asa01"),
            Some("%ASA-3-710003"),
            None,
            "TCP access denied"
        )
    );
}

#[test]
fn aix_forwarded_messages_name_the_real_host() {
    assert_eq!(
        fields("<38>Mar  7 19:06:53 Message forwarded from aixhost: sshd[4242]: Accepted password for root"),
        (Some("aixhost"), Some("sshd"), Some("4242"), "Accepted password for root")
    );
}

// 5. IPv6 hostnames.

#[test]
fn ipv6_addresses_are_hostnames() {
    for host in ["2001:db8::17", "fe80::", "::1", "2001:db8:0:1:0:0:0:ff"] {
        let line = format!("<13>Mar  7 19:06:53 {host} app[1]: up");
        assert_eq!(
            fields(&line),
            (Some(host), Some("app"), Some("1"), "up"),
            "{line}"
        );
    }
    assert_eq!(
        fields("<13>Mar  7 19:06:53 [2001:db8::17] app: up"),
        (Some("2001:db8::17"), Some("app"), None, "up")
    );
    // A tag that merely ends in a colon is still a tag.
    assert_eq!(
        fields("<13>Mar  7 19:06:53 cafe: open"),
        (None, Some("cafe"), None, "open")
    );
}

// 6. Field lengths: kept whole, as rsyslog keeps them.

#[test]
fn rfc5424_fields_longer_than_the_rfc_limits_are_kept_whole() {
    let host = "h".repeat(300);
    let app = "a".repeat(60);
    let procid = "p".repeat(140);
    let msgid = "m".repeat(40);
    let line = format!("<13>1 2026-03-07T19:06:53Z {host} {app} {procid} {msgid} - text");
    let m = parse(line.as_bytes());
    assert_eq!(m.issue, None);
    assert_eq!(s(m.hostname), Some(host.as_str()));
    assert_eq!(s(m.appname), Some(app.as_str()));
    assert_eq!(s(m.procid), Some(procid.as_str()));
    assert_eq!(s(m.msgid), Some(msgid.as_str()));
    assert_eq!(m.message, b"text");
}

#[test]
fn nothing_recognisable_is_kept_whole() {
    for text in ["just some words", "-- MARK --", "12: 34", "*** alarm ***"] {
        let m = parse(text.as_bytes());
        assert_eq!(m.format, Format::Unstructured, "{text}");
        assert_eq!(m.message, text.as_bytes());
    }
}
