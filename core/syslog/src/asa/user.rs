//! AAA and VPN events that name a user and an address: 113004, 113005, 113039,
//! 611101, 722022, 722023, 722051, 734001. Formats from "Cisco Secure Firewall
//! ASA Series Syslog Messages", messages 101001–199021, 602101–634001 and
//! 715001–776020.
//! Devices write the VPN messages' group, user and address in angle brackets
//! (`Group <g> User <u> IP <a>`); the guide without. Both are read.

use super::cursor::{is_address, trim, unbracket, Cursor};
use super::{AsaNetwork, IdFormat};

pub(super) const IDS: &[IdFormat] = &[
    IdFormat {
        id: 113004,
        activity: "AAA user authentication successful",
        read: aaa_successful,
    },
    IdFormat {
        id: 113005,
        activity: "AAA user authentication rejected",
        read: aaa_rejected,
    },
    IdFormat {
        id: 113039,
        activity: "AnyConnect parent session started",
        read: anyconnect_started,
    },
    IdFormat {
        id: 611101,
        activity: "User authentication succeeded",
        read: management_login,
    },
    IdFormat {
        id: 722022,
        activity: "SVC connection established",
        read: svc_connection,
    },
    IdFormat {
        id: 722023,
        activity: "SVC connection terminated",
        read: svc_connection,
    },
    IdFormat {
        id: 722051,
        activity: "VPN address assigned",
        read: address_assigned,
    },
    IdFormat {
        id: 734001,
        activity: "DAP records selected",
        read: dap_selected,
    },
];

/// The value after `name =` (or `name:`), up to the next ` : ` or `,`, trimmed.
fn value_after<'a>(text: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let at = memchr::memmem::find(text, name)?;
    let rest = &text[at + name.len()..];
    let rest = trim(rest);
    let rest = rest
        .strip_prefix(b"=")
        .or_else(|| rest.strip_prefix(b":"))?;
    let rest = trim(rest);
    let end = [
        memchr::memmem::find(rest, b" :"),
        memchr::memchr(b',', rest),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(rest.len());
    let v = trim(&rest[..end]);
    (!v.is_empty()).then_some(v)
}

/// 113004: `AAA user {authentication|authorization|accounting} Successful : server =
/// ADDR : user = USER` (the guide writes `Successful: server = ADDR, User = USER`).
fn aaa_successful<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !(c.lit(b"AAA user") && c.word().is_some() && c.lit(b"Successful")) {
        return false;
    }
    let server = value_after(c.rest, b"server").filter(|s| is_address(s));
    let user = value_after(c.rest, b"user").or_else(|| value_after(c.rest, b"User"));
    let (Some(server), Some(user)) = (server, user) else {
        return false;
    };
    net.destination_ip = Some(server);
    net.source_user = Some(user);
    net.action = Some(b"allowed");
    true
}

/// 113005: `AAA user authentication Rejected : reason = REASON : server = ADDR :
/// user = USER : user IP = ADDR`.
fn aaa_rejected<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !(c.lit(b"AAA user") && c.word().is_some() && c.lit(b"Rejected")) {
        return false;
    }
    let text = c.rest;
    let server = value_after(text, b"server").filter(|s| is_address(s));
    let user = value_after(text, b"user").or_else(|| value_after(text, b"User"));
    let Some(user) = user else { return false };
    net.source_ip = value_after(text, b"user IP").filter(|s| is_address(s));
    net.destination_ip = server;
    net.reason = value_after(text, b"reason");
    net.source_user = Some(user);
    net.action = Some(b"denied");
    true
}

/// `Group G User U IP ADDR` at the start of the VPN messages.
fn group_user_ip<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !c.lit(b"Group") {
        return false;
    }
    // A group name may hold spaces: it runs to ` User `.
    if c.until(b" User ").is_none() || !c.lit(b"User") {
        return false;
    }
    let Some(user) = c.until(b" IP ") else {
        return false;
    };
    if !c.lit(b"IP") {
        return false;
    }
    let Some(ip) = c
        .word()
        .map(unbracket)
        .map(|w| w.strip_suffix(b",").unwrap_or(w))
    else {
        return false;
    };
    if !is_address(ip) {
        return false;
    }
    net.source_user = Some(unbracket(trim(user)));
    net.source_ip = Some(ip);
    true
}

/// 113039: `Group G User U IP ADDR AnyConnect parent session started.`
fn anyconnect_started<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !(group_user_ip(c, net) && c.lit(b"AnyConnect parent session started")) {
        return false;
    }
    net.action = Some(b"started");
    true
}

/// 611101: `User authentication succeeded: IP address: ADDR, Uname: USER` (the
/// guide writes `IP, IP address: Uname: user`).
fn management_login<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !c.lit(b"User authentication succeeded") {
        return false;
    }
    let ip = value_after(c.rest, b"IP address").filter(|s| is_address(s));
    let user = value_after(c.rest, b"Uname");
    let Some(user) = user else { return false };
    net.source_ip = ip;
    net.source_user = Some(user);
    net.action = Some(b"allowed");
    true
}

/// 722022, 722023: `Group G User U IP ADDR {TCP|UDP} SVC connection
/// {established|terminated} {with|without} compression`.
fn svc_connection<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !group_user_ip(c, net) {
        return false;
    }
    let Some(protocol) = c.one_of(&[b"TCP", b"UDP"]) else {
        return false;
    };
    if !(c.lit(b"SVC") && c.lit(b"connection")) {
        return false;
    }
    let Some(event) = c.one_of(&[b"established", b"terminated"]) else {
        return false;
    };
    net.protocol = Some(protocol);
    net.action = Some(event);
    true
}

/// 722051: `Group G User U IP ADDR IPv4 Address ASSIGNED IPv6 address ASSIGNED
/// assigned to session`: the address inside the tunnel is the source's translation.
fn address_assigned<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !(group_user_ip(c, net) && c.lit(b"IPv4 Address")) {
        return false;
    }
    let Some(v4) = c.word().map(unbracket) else {
        return false;
    };
    if is_address(v4) {
        net.source_translated_ip = Some(v4);
    }
    if !c.past(b"assigned to session") {
        return false;
    }
    net.action = Some(b"assigned");
    true
}

/// 734001: `DAP: User USER, Addr ADDR, Connection TYPE: The following DAP records
/// were selected for this connection: NAMES`.
fn dap_selected<'a>(c: &mut Cursor<'a>, net: &mut AsaNetwork<'a>) -> bool {
    if !(c.lit(b"DAP:") && c.lit(b"User")) {
        return false;
    }
    let (Some(user), true) = (c.until(b", Addr "), c.lit(b", Addr")) else {
        return false;
    };
    let Some(addr) = c.until(b",") else {
        return false;
    };
    let addr = trim(addr);
    if !is_address(addr) {
        return false;
    }
    net.source_user = Some(trim(user));
    net.source_ip = Some(addr);
    net.action = Some(b"selected");
    true
}
