//! Connections and translations: 302013–302016, 302020–302021, 305011–305012.
//! Formats from "Cisco Secure Firewall ASA Series Syslog Messages", messages
//! 302000–302999 and 305000–305999
//! (<https://www.cisco.com/c/en/us/td/docs/security/asa/syslog/b_syslog/syslogs3.html>).
//!
//! A Built message says which side started the connection: `inbound` means the
//! `for` side (the lower-security interface) did, `outbound` that the `to` side
//! did. Source and destination follow the initiator. Teardowns do not say, and
//! are read as written (`for` side as source).

use super::cursor::{group_user, Cursor, Endpoint};
use super::{AsaNetwork, IdFormat};

pub(super) const IDS: &[IdFormat] = &[
    IdFormat {
        id: 302013,
        activity: "Built TCP connection",
        read: built,
    },
    IdFormat {
        id: 302014,
        activity: "Teardown TCP connection",
        read: teardown,
    },
    IdFormat {
        id: 302015,
        activity: "Built UDP connection",
        read: built,
    },
    IdFormat {
        id: 302016,
        activity: "Teardown UDP connection",
        read: teardown,
    },
    IdFormat {
        id: 302020,
        activity: "Built ICMP connection",
        read: icmp_built,
    },
    IdFormat {
        id: 302021,
        activity: "Teardown ICMP connection",
        read: icmp_teardown,
    },
    IdFormat {
        id: 305011,
        activity: "Built translation",
        read: translation,
    },
    IdFormat {
        id: 305012,
        activity: "Teardown translation",
        read: translation,
    },
];

/// One side of a connection: `IF:ADDR/PORT [(MAPPED/PORT)] [(user)]…`.
struct Side<'a> {
    at: Endpoint<'a>,
    mapped: Option<Endpoint<'a>>,
    user: Option<&'a [u8]>,
}

fn side<'a>(c: &mut Cursor<'a>) -> Option<Side<'a>> {
    let at = c.interface_endpoint(b':')?;
    let mut s = Side {
        at,
        mapped: None,
        user: None,
    };
    while let Some(g) = c.group() {
        match Cursor::new(g).address_port() {
            Some(m) if s.mapped.is_none() => s.mapped = Some(m),
            _ => s.user = s.user.or_else(|| group_user(g)),
        }
    }
    Some(s)
}

fn fill<'a>(net: &mut AsaNetwork<'a>, src: &Side<'a>, dst: &Side<'a>) {
    net.source_ip = Some(src.at.address);
    net.source_port = src.at.port;
    net.inbound_interface = src.at.interface;
    net.destination_ip = Some(dst.at.address);
    net.destination_port = dst.at.port;
    net.outbound_interface = dst.at.interface;
    if let Some(m) = src.mapped {
        net.source_translated_ip = Some(m.address);
        net.source_translated_port = m.port;
    }
    if let Some(m) = dst.mapped {
        net.destination_translated_ip = Some(m.address);
        net.destination_translated_port = m.port;
    }
    net.source_user = src.user.or(dst.user);
}

/// 302013, 302015: `Built {inbound|outbound} {TCP|UDP} connection ID for
/// IF:ADDR/PORT (MAPPED/PORT) [(user)] to IF:ADDR/PORT (MAPPED/PORT) [(user)] [(user)]`.
fn built<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !c.lit(b"Built") {
        return false;
    }
    let Some(direction) = c.one_of(&[b"inbound", b"outbound"]) else {
        return false;
    };
    let Some(protocol) = c.one_of(&[b"TCP", b"UDP", b"SCTP"]) else {
        return false;
    };
    if !(c.lit(b"connection") && c.number().is_some() && c.lit(b"for")) {
        return false;
    }
    let Some(first) = side(c) else { return false };
    if !c.lit(b"to") {
        return false;
    }
    let Some(mut second) = side(c) else {
        return false;
    };
    // A trailing `(user)` names the AAA user.
    if second.user.is_none() && first.user.is_none() {
        second.user = c.group().and_then(group_user);
    }
    if direction.eq_ignore_ascii_case(b"inbound") {
        fill(net, &first, &second);
    } else {
        fill(net, &second, &first);
    }
    net.protocol = Some(protocol);
    net.action = Some(b"built");
    true
}

/// 302014, 302016: `Teardown {TCP|UDP} connection ID for IF:ADDR/PORT [(user)] to
/// IF:ADDR/PORT [(user)] duration H:MM:SS bytes N [reason] [(user)]`.
fn teardown<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !c.lit(b"Teardown") {
        return false;
    }
    let Some(protocol) = c.one_of(&[b"TCP", b"UDP", b"SCTP"]) else {
        return false;
    };
    if !(c.lit(b"connection") && c.number().is_some() && c.lit(b"for")) {
        return false;
    }
    let Some(first) = side(c) else { return false };
    if !c.lit(b"to") {
        return false;
    }
    let Some(second) = side(c) else {
        return false;
    };
    if !(c.lit(b"duration") && c.word().is_some() && c.lit(b"bytes")) {
        return false;
    }
    let Some(bytes) = c.number().filter(|b| super::cursor::is_count(b)) else {
        return false;
    };
    fill(net, &first, &second);
    // The reason runs to the end or to a trailing `(user)`; `from` names who ended it.
    c.skip_spaces();
    let reason = match memchr::memchr(b'(', c.rest) {
        Some(i) => {
            let r = &c.rest[..i];
            c.rest = &c.rest[i..];
            if net.source_user.is_none() {
                net.source_user = c.group().and_then(group_user);
            }
            r
        }
        None => c.rest,
    };
    let reason = super::cursor::trim(reason);
    if !reason.is_empty() {
        net.reason = Some(reason);
    }
    net.protocol = Some(protocol);
    net.action = Some(b"teardown");
    // ASA counts one total for both directions; it goes to SentBytes.
    net.sent_bytes = Some(bytes);
    true
}

/// `faddr ADDR/N [(user)] gaddr ADDR/N laddr ADDR/N [(user)]` of 302020/302021:
/// foreign, global (mapped) and local addresses; the numbers are ICMP ids.
struct IcmpAddresses<'a> {
    foreign: &'a [u8],
    global: &'a [u8],
    local: &'a [u8],
    user: Option<&'a [u8]>,
}

fn icmp_addresses<'a>(c: &mut Cursor<'a>) -> Option<IcmpAddresses<'a>> {
    let mut user = None;
    let mut take = |c: &mut Cursor<'a>, name: &[u8]| -> Option<&'a [u8]> {
        if !c.lit(name) {
            return None;
        }
        let e = c.address_port()?;
        while let Some(g) = c.group() {
            user = user.or_else(|| group_user(g));
        }
        Some(e.address)
    };
    let foreign = take(c, b"faddr")?;
    let global = take(c, b"gaddr")?;
    let local = take(c, b"laddr")?;
    Some(IcmpAddresses {
        foreign,
        global,
        local,
        user,
    })
}

/// 302020: `Built {inbound|outbound} ICMP connection for faddr … gaddr … laddr …
/// type T code C`.
fn icmp_built<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !c.lit(b"Built") {
        return false;
    }
    let Some(direction) = c.one_of(&[b"inbound", b"outbound"]) else {
        return false;
    };
    let Some(protocol) = c.one_of(&[b"ICMP", b"ICMPv6"]) else {
        return false;
    };
    if !(c.lit(b"connection") && c.lit(b"for")) {
        return false;
    }
    let Some(a) = icmp_addresses(c) else {
        return false;
    };
    if direction.eq_ignore_ascii_case(b"inbound") {
        net.source_ip = Some(a.foreign);
        net.destination_ip = Some(a.local);
        net.destination_translated_ip = Some(a.global);
    } else {
        net.source_ip = Some(a.local);
        net.source_translated_ip = Some(a.global);
        net.destination_ip = Some(a.foreign);
    }
    net.source_user = a.user;
    net.protocol = Some(protocol);
    net.action = Some(b"built");
    true
}

/// 302021: `Teardown ICMP connection for faddr … gaddr … laddr … type T code C`.
fn icmp_teardown<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !c.lit(b"Teardown") {
        return false;
    }
    let Some(protocol) = c.one_of(&[b"ICMP", b"ICMPv6"]) else {
        return false;
    };
    if !(c.lit(b"connection") && c.lit(b"for")) {
        return false;
    }
    let Some(a) = icmp_addresses(c) else {
        return false;
    };
    net.source_ip = Some(a.foreign);
    net.destination_ip = Some(a.local);
    net.destination_translated_ip = Some(a.global);
    net.source_user = a.user;
    net.protocol = Some(protocol);
    net.action = Some(b"teardown");
    true
}

/// 305011, 305012: `{Built|Teardown} {dynamic|static} {TCP|UDP|ICMP} translation
/// from IF:ADDR/PORT [(user)] to IF:MAPPED/PORT [duration T]`. The real address is
/// the source, the mapped one its translation.
fn translation<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    let Some(event) = c.one_of(&[b"Built", b"Teardown"]) else {
        return false;
    };
    if c.one_of(&[b"dynamic", b"static"]).is_none() {
        return false;
    }
    let Some(protocol) = c.word() else {
        return false;
    };
    if !(c.lit(b"translation") && c.lit(b"from")) {
        return false;
    }
    let Some(real) = side(c) else { return false };
    if !c.lit(b"to") {
        return false;
    }
    let Some(mapped) = c.interface_endpoint(b':') else {
        return false;
    };
    net.source_ip = Some(real.at.address);
    net.source_port = real.at.port;
    net.inbound_interface = real.at.interface;
    net.outbound_interface = mapped.interface;
    net.source_translated_ip = Some(mapped.address);
    net.source_translated_port = mapped.port;
    net.source_user = real.user;
    net.protocol = Some(protocol);
    net.action = Some(if event.eq_ignore_ascii_case(b"Built") {
        b"built"
    } else {
        b"teardown"
    });
    true
}
