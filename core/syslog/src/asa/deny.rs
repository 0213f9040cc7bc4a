//! Denies, access-list decisions, shunning and threat detection: 106001, 106006,
//! 106007, 106010, 106014, 106015, 106021, 106023, 106100, 401004, 733100.
//! Formats from "Cisco Secure Firewall ASA Series Syslog Messages", messages
//! 101001–199021, 400000–450001 and 715001–776020.

use super::cursor::{group_user, trim, Cursor, Endpoint};
use super::{AsaNetwork, IdFormat};

pub(super) const IDS: &[IdFormat] = &[
    IdFormat {
        id: 106001,
        activity: "Inbound TCP connection denied",
        read: from_to_flags,
    },
    IdFormat {
        id: 106006,
        activity: "Deny inbound UDP",
        read: deny_inbound_udp,
    },
    IdFormat {
        id: 106007,
        activity: "Deny inbound UDP due to DNS",
        read: deny_inbound_udp,
    },
    IdFormat {
        id: 106010,
        activity: "Deny inbound protocol",
        read: deny_src_dst,
    },
    IdFormat {
        id: 106014,
        activity: "Deny inbound ICMP",
        read: deny_src_dst,
    },
    IdFormat {
        id: 106015,
        activity: "Deny TCP (no connection)",
        read: from_to_flags,
    },
    IdFormat {
        id: 106021,
        activity: "Deny reverse path check",
        read: reverse_path,
    },
    IdFormat {
        id: 106023,
        activity: "Deny by access-group",
        read: deny_src_dst,
    },
    IdFormat {
        id: 106100,
        activity: "Access-list decision",
        read: access_list,
    },
    IdFormat {
        id: 401004,
        activity: "Shunned packet",
        read: shunned,
    },
    IdFormat {
        id: 733100,
        activity: "Drop rate exceeded",
        read: drop_rate,
    },
];

fn source<'a>(net: &mut AsaNetwork<'a>, e: Endpoint<'a>) {
    net.source_ip = Some(e.address);
    net.source_port = e.port;
    net.inbound_interface = e.interface.or(net.inbound_interface);
}

fn destination<'a>(net: &mut AsaNetwork<'a>, e: Endpoint<'a>) {
    net.destination_ip = Some(e.address);
    net.destination_port = e.port;
    net.outbound_interface = e.interface.or(net.outbound_interface);
}

/// `on interface IF` (the rest of the text, without a closing `.`).
fn on_interface<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !(c.lit(b"on") && c.lit(b"interface")) {
        return false;
    }
    c.skip_spaces();
    let name = trim(c.rest);
    let name = name.strip_suffix(b".").unwrap_or(name);
    if name.is_empty() {
        return false;
    }
    net.inbound_interface = Some(name);
    c.rest = b"";
    true
}

/// 106001: `Inbound TCP connection denied from ADDR/PORT to ADDR/PORT flags F on
/// interface IF`; 106015: `Deny TCP (no connection) from ADDR/PORT to ADDR/PORT
/// flags F on interface IF`.
fn from_to_flags<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    let head = (c.lit(b"Inbound") && c.lit(b"TCP") && c.lit(b"connection") && c.lit(b"denied"))
        || (c.lit(b"Deny") && c.lit(b"TCP") && c.lit(b"(no connection)"));
    if !head || !c.lit(b"from") {
        return false;
    }
    let (Some(src), true, Some(dst)) = (c.address_port(), c.lit(b"to"), c.address_port()) else {
        return false;
    };
    // The flags run up to ` on interface`.
    if !(c.lit(b"flags") && c.until(b" on interface").is_some()) {
        return false;
    }
    if !on_interface(c, net) {
        return false;
    }
    source(net, src);
    destination(net, dst);
    net.protocol = Some(b"TCP");
    net.action = Some(b"denied");
    true
}

/// 106006: `Deny inbound UDP from ADDR/PORT to ADDR/PORT on interface IF`;
/// 106007: `Deny inbound UDP from ADDR/PORT to ADDR/PORT due to DNS {Response|Query}`.
fn deny_inbound_udp<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !(c.lit(b"Deny") && c.lit(b"inbound") && c.lit(b"UDP") && c.lit(b"from")) {
        return false;
    }
    let (Some(src), true, Some(dst)) = (c.address_port(), c.lit(b"to"), c.address_port()) else {
        return false;
    };
    let save = *c;
    if c.lit(b"due to") {
        net.reason = Some(trim(c.rest));
        c.rest = b"";
    } else {
        *c = save;
        if !on_interface(c, net) {
            return false;
        }
    }
    source(net, src);
    destination(net, dst);
    net.protocol = Some(b"UDP");
    net.action = Some(b"denied");
    true
}

/// An endpoint of a `src`/`dst` pair and the `(user, sg_info)` group after it.
fn src_dst_side<'a>(c: &mut Cursor<'a>, user: &mut Option<&'a [u8]>) -> Option<Endpoint<'a>> {
    let e = c.endpoint()?;
    while let Some(g) = c.group() {
        *user = user.or_else(|| group_user(g));
    }
    Some(e)
}

/// 106010: `Deny inbound PROTO src IF:ADDR/PORT [(…)] dst IF:ADDR/PORT [(…)]`;
/// 106014: `Deny inbound icmp src IF:ADDR [(…)] dst IF:ADDR [(…)] (type T, code C)`;
/// 106023: `Deny PROTO src IF:ADDR/PORT [(…)] dst IF:ADDR/PORT [(…)] [type …, code …]
/// by access-group "ACL" [0x…, 0x…]`.
fn deny_src_dst<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !c.lit(b"Deny") {
        return false;
    }
    let save = *c;
    if !c.lit(b"inbound ") {
        *c = save;
    }
    let Some(protocol) = c.word() else {
        return false;
    };
    if !c.lit(b"src") {
        return false;
    }
    let mut user = None;
    let Some(src) = src_dst_side(c, &mut user) else {
        return false;
    };
    if !c.lit(b"dst") {
        return false;
    }
    let mut dst_user = None;
    let Some(dst) = src_dst_side(c, &mut dst_user) else {
        return false;
    };
    if c.past(b"by access-group ") {
        c.skip_spaces();
        let quoted = c.rest.strip_prefix(b"\"").and_then(|r| {
            let end = memchr::memchr(b'"', r)?;
            Some(&r[..end])
        });
        net.acl = quoted.or_else(|| c.word());
    }
    source(net, src);
    destination(net, dst);
    net.source_user = user;
    net.protocol = Some(protocol);
    net.action = Some(b"denied");
    true
}

/// 106021: `Deny PROTO reverse path check from ADDR to ADDR on interface IF`.
fn reverse_path<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !c.lit(b"Deny") {
        return false;
    }
    let Some(protocol) = c.word() else {
        return false;
    };
    if !(c.lit(b"reverse path check") && c.lit(b"from")) {
        return false;
    }
    let (Some(src), true, Some(dst)) = (c.address(), c.lit(b"to"), c.address()) else {
        return false;
    };
    if !on_interface(c, net) {
        return false;
    }
    net.source_ip = Some(src);
    net.destination_ip = Some(dst);
    net.protocol = Some(protocol);
    net.action = Some(b"denied");
    true
}

/// `IF/ADDR(PORT)` of 106100, and the `(user, sg_info)` group after it.
fn acl_side<'a>(c: &mut Cursor<'a>, user: &mut Option<&'a [u8]>) -> Option<Endpoint<'a>> {
    let mut e = c.interface_endpoint(b'/')?;
    let port = c.group()?;
    if !super::cursor::is_port(port) {
        return None;
    }
    e.port = Some(port);
    while let Some(g) = c.group() {
        *user = user.or_else(|| group_user(g));
    }
    Some(e)
}

/// 106100: `access-list ACL {permitted|denied|est-allowed} PROTO
/// IF/ADDR(PORT) [(user, sg)] -> IF/ADDR(PORT) [(user, sg)] hit-cnt N (…) [hashes]`
/// (the guide leaves out the `->` that devices write; both are read).
fn access_list<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !c.lit(b"access-list") {
        return false;
    }
    let (Some(acl), Some(action), Some(protocol)) = (
        c.word(),
        c.one_of(&[b"permitted", b"denied", b"est-allowed"]),
        c.word(),
    ) else {
        return false;
    };
    let mut user = None;
    let Some(src) = acl_side(c, &mut user) else {
        return false;
    };
    c.lit(b"->");
    let Some(dst) = acl_side(c, &mut user) else {
        return false;
    };
    if !c.lit(b"hit-cnt") {
        return false;
    }
    source(net, src);
    destination(net, dst);
    net.source_user = user;
    net.acl = Some(acl);
    net.protocol = Some(protocol);
    net.action = Some(action);
    true
}

/// 401004: `Shunned packet: ADDR ==> ADDR on interface IF`.
fn shunned<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !c.lit(b"Shunned packet:") {
        return false;
    }
    let (Some(src), true, Some(dst)) = (c.address(), c.lit(b"==>"), c.address()) else {
        return false;
    };
    if !on_interface(c, net) {
        return false;
    }
    net.source_ip = Some(src);
    net.destination_ip = Some(dst);
    net.action = Some(b"shunned");
    true
}

/// 733100: `[OBJECT] drop rate-ID exceeded. Current burst rate is …`; the object is
/// an address for a host's rate, or a name (`Scanning`, `Firewall`, …).
fn drop_rate<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !c.lit(b"[") {
        return false;
    }
    let Some(object) = c.until(b"]") else {
        return false;
    };
    if !(c.lit(b"]") && c.lit(b"drop rate-") && c.past(b"exceeded")) {
        return false;
    }
    let object = trim(object);
    if super::cursor::is_address(object) {
        net.source_ip = Some(object);
    }
    net.action = Some(b"dropped");
    true
}
