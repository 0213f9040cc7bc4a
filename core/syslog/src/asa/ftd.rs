//! Firepower Threat Defense's own events, 430001–430005 (intrusion, connection,
//! file and malware events), written as `Key: value` pairs joined by `, `. Format
//! from "Cisco Secure Firewall Threat Defense Syslog Messages", security event
//! messages 430001–430005.
//! FTD's other messages use the ASA ids and texts and are read by the other tables.

use super::cursor::{is_address, is_count, is_port};
use super::{AsaNetwork, IdFormat};

pub(super) const IDS: &[IdFormat] = &[
    IdFormat {
        id: 430001,
        activity: "Intrusion event",
        read: pairs,
    },
    IdFormat {
        id: 430002,
        activity: "Connection start",
        read: pairs,
    },
    IdFormat {
        id: 430003,
        activity: "Connection end",
        read: pairs,
    },
    IdFormat {
        id: 430004,
        activity: "File event",
        read: pairs,
    },
    IdFormat {
        id: 430005,
        activity: "File malware event",
        read: pairs,
    },
];

/// The longest key read before `: `.
const MAX_KEY: usize = 40;

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b' ')
}

/// The key at the start of `s` when `s` starts with `Key: `; returns (key, value start).
fn key_at(s: &[u8]) -> Option<(&[u8], usize)> {
    let n = s
        .iter()
        .take(MAX_KEY + 1)
        .take_while(|c| is_key_byte(**c))
        .count();
    if n == 0 || n > MAX_KEY || s.get(n..n + 2) != Some(b": ") || !s[0].is_ascii_alphabetic() {
        return None;
    }
    Some((&s[..n], n + 2))
}

/// Calls `each(key, value)` for every pair; a value runs to the next `, Key: `.
fn each_pair<'a>(text: &'a [u8], mut each: impl FnMut(&'a [u8], &'a [u8])) -> usize {
    let mut count = 0;
    let Some((mut key, mut start)) = key_at(text) else {
        return 0;
    };
    let mut from = start;
    loop {
        let next = memchr::memmem::find(&text[from..], b", ").map(|i| from + i);
        match next {
            Some(sep) => match key_at(&text[sep + 2..]) {
                Some((k, v)) => {
                    each(key, &text[start..sep]);
                    count += 1;
                    key = k;
                    start = sep + 2 + v;
                    from = start;
                }
                None => from = sep + 2,
            },
            None => {
                each(key, &text[start..]);
                return count + 1;
            }
        }
    }
}

fn pairs<'a>(c: &mut super::cursor::Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    let mut found = false;
    each_pair(c.rest, |key, value| {
        let addr = || Some(value).filter(|v| is_address(v));
        let port = || Some(value).filter(|v| is_port(v));
        match key {
            b"SrcIP" => net.source_ip = addr(),
            b"DstIP" => net.destination_ip = addr(),
            b"SrcPort" => net.source_port = port(),
            b"DstPort" => net.destination_port = port(),
            b"Protocol" => net.protocol = Some(value),
            b"IngressInterface" => net.inbound_interface = Some(value),
            b"EgressInterface" => net.outbound_interface = Some(value),
            b"AccessControlRuleAction" => net.action = Some(value),
            b"AccessControlRuleName" => net.acl = Some(value),
            b"InitiatorBytes" => net.sent_bytes = Some(value).filter(|v| is_count(v)),
            b"ResponderBytes" => net.received_bytes = Some(value).filter(|v| is_count(v)),
            b"User" => net.source_user = Some(value),
            b"NAT_InitiatorAddress" => net.source_translated_ip = addr(),
            b"NAT_InitiatorPort" => net.source_translated_port = port(),
            b"NAT_ResponderAddress" => net.destination_translated_ip = addr(),
            b"NAT_ResponderPort" => net.destination_translated_port = port(),
            _ => return,
        }
        found = true;
    });
    c.rest = b"";
    found
}
