//! Cisco ASA and Firepower Threat Defense (FTD) syslog messages:
//! `%ASA-<level>-<id>: text` and `%FTD-<level>-<id>: text`, behind whatever header
//! the device or a relay put in front (a syslog PRI, timestamp and hostname, the
//! device's own `Mmm dd yyyy hh:mm:ss` stamp, the EMBLEM format's `%ASA-<class>-…`
//! tag, a hostname prefix, or rsyslog's RFC 5424 with the tag as APP-NAME).
//!
//! The text of each covered message id is read the way Cisco documents it in
//! "Cisco Secure Firewall ASA Series Syslog Messages" (Cisco's syslog guide, one
//! chapter per id range);
//! the ids are in per-family tables (`conn`, `deny`, `user`, `ftd`). Any other id,
//! and a covered id whose text does not have its documented shape, is read by the
//! generic path (`src IF:IP/PORT dst IF:IP/PORT`, `from IF:IP/PORT to IF:IP/PORT`).
//! Hand-written over bytes, no regular expressions, no allocation: every step
//! scans forward a bounded distance.

mod conn;
mod cursor;
mod deny;
mod ftd;
mod generic;
mod user;

use crate::message::Syslog;
use cursor::Cursor;

/// The device family named in the tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsaProduct {
    Asa,
    Ftd,
}

impl AsaProduct {
    /// As the DeviceProduct column spells it.
    pub fn name(self) -> &'static str {
        match self {
            AsaProduct::Asa => "ASA",
            AsaProduct::Ftd => "FTD",
        }
    }
}

/// How the text was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsaMatch {
    /// A covered id whose text had its documented shape.
    Id,
    /// An id the tables do not cover; the generic path read what it could.
    Generic,
    /// A covered id whose text did not have its documented shape (a changed
    /// firmware format, or a cut message); the generic path read what it could.
    Mismatch,
}

/// The network and user facts of one message, as CommonSecurityLog columns.
/// Ports are validated (0–65535), byte counts are digits that fit 64 bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AsaNetwork<'a> {
    pub source_ip: Option<&'a [u8]>,
    pub source_port: Option<&'a [u8]>,
    pub destination_ip: Option<&'a [u8]>,
    pub destination_port: Option<&'a [u8]>,
    pub protocol: Option<&'a [u8]>,
    /// `built`, `teardown`, `denied`, `permitted`, … as the event says.
    pub action: Option<&'a [u8]>,
    pub inbound_interface: Option<&'a [u8]>,
    pub outbound_interface: Option<&'a [u8]>,
    pub source_translated_ip: Option<&'a [u8]>,
    pub source_translated_port: Option<&'a [u8]>,
    pub destination_translated_ip: Option<&'a [u8]>,
    pub destination_translated_port: Option<&'a [u8]>,
    pub sent_bytes: Option<&'a [u8]>,
    pub received_bytes: Option<&'a [u8]>,
    pub source_user: Option<&'a [u8]>,
    /// The access list or access-control rule that decided.
    pub acl: Option<&'a [u8]>,
    /// Why a connection ended or a login was refused.
    pub reason: Option<&'a [u8]>,
}

impl<'a> AsaNetwork<'a> {
    /// The CommonSecurityLog column of each fact, in the table's spelling
    /// (<https://learn.microsoft.com/en-us/azure/azure-monitor/reference/tables/commonsecuritylog>).
    /// Ports are `int` columns, byte counts `long`, the rest `string`.
    pub fn columns(&self) -> [(&'static str, Option<&'a [u8]>); 17] {
        [
            ("SourceIP", self.source_ip),
            ("SourcePort", self.source_port),
            ("DestinationIP", self.destination_ip),
            ("DestinationPort", self.destination_port),
            ("Protocol", self.protocol),
            ("DeviceAction", self.action),
            ("DeviceInboundInterface", self.inbound_interface),
            ("DeviceOutboundInterface", self.outbound_interface),
            ("SourceTranslatedAddress", self.source_translated_ip),
            ("SourceTranslatedPort", self.source_translated_port),
            (
                "DestinationTranslatedAddress",
                self.destination_translated_ip,
            ),
            (
                "DestinationTranslatedPort",
                self.destination_translated_port,
            ),
            ("SentBytes", self.sent_bytes),
            ("ReceivedBytes", self.received_bytes),
            ("SourceUserName", self.source_user),
            ("DeviceCustomString1", self.acl),
            ("Reason", self.reason),
        ]
    }
}

/// A parsed ASA or FTD message; every slice borrows from the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asa<'a> {
    /// The syslog header in front of the tag (PRI, time, hostname), as far as there was one.
    pub header: Syslog<'a>,
    pub product: AsaProduct,
    /// The ASA level, 0–7 (the digit as written).
    pub level: &'a [u8],
    /// The message id, six digits.
    pub id: &'a [u8],
    /// A short name of the event: the id table's, or the text's first clause.
    pub activity: &'a [u8],
    /// The text after `%ASA-6-302013:`.
    pub text: &'a [u8],
    pub network: AsaNetwork<'a>,
    pub matched: AsaMatch,
}

/// Why a message is not ASA/FTD. The caller keeps the message as it would otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AsaError {
    #[error("no `%ASA-<level>-<id>` or `%FTD-<level>-<id>` tag in the message")]
    NotAsa,
}

/// A message id's documented reading: fills `net` and says whether the text had
/// the documented shape.
type Reader = for<'a> fn(&mut Cursor<'a>, &mut AsaNetwork<'a>) -> bool;

/// One covered message id.
pub(crate) struct IdFormat {
    pub(crate) id: u32,
    pub(crate) activity: &'static str,
    read: Reader,
}

/// The tag: product, level, id.
struct Tag<'a> {
    product: AsaProduct,
    level: &'a [u8],
    id: &'a [u8],
    /// The bytes after the tag.
    rest: &'a [u8],
}

/// Reads `%ASA-6-302013` or EMBLEM's `%ASA-session-6-302013` at the start of `b`.
fn tag(b: &[u8]) -> Option<Tag<'_>> {
    let (product, rest) = if let Some(r) = b.strip_prefix(b"%ASA-") {
        (AsaProduct::Asa, r)
    } else {
        (AsaProduct::Ftd, b.strip_prefix(b"%FTD-")?)
    };
    // EMBLEM puts a class name before the level.
    let class = rest
        .iter()
        .take(32)
        .take_while(|c| c.is_ascii_alphabetic() || **c == b'_')
        .count();
    let rest = if class > 0 {
        rest.get(class..)?.strip_prefix(b"-")?
    } else {
        rest
    };
    let level = rest.get(..1).filter(|l| (b'0'..=b'7').contains(&l[0]))?;
    let rest = rest.get(1..)?.strip_prefix(b"-")?;
    let digits = rest
        .iter()
        .take(7)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits != 6 {
        return None;
    }
    let (id, rest) = rest.split_at(6);
    match rest.first() {
        None | Some(b':' | b' ') => Some(Tag {
            product,
            level,
            id,
            rest,
        }),
        _ => None,
    }
}

/// Where an ASA/FTD tag starts in `message`, if anywhere.
pub fn find_asa(message: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'%', message.get(from..)?) {
        let at = from + i;
        if tag(&message[at..]).is_some() {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Parses an ASA or FTD message with the header in front of it (if any).
pub fn parse_asa(message: &[u8]) -> Result<Asa<'_>, AsaError> {
    // Most headers are read by the syslog parser, which takes the tag as the
    // program name and gives the text after it.
    let header = crate::parse(message);
    if let Some(t) = header.appname.and_then(tag) {
        if t.rest.is_empty() {
            let text = header.message;
            return Ok(read(header.clone(), &t, text));
        }
    }
    // Elsewhere (EMBLEM, a hostname before `: %ASA`): the tag where it is, and the
    // header before it read on its own.
    let at = find_asa(message).ok_or(AsaError::NotAsa)?;
    let t = tag(&message[at..]).ok_or(AsaError::NotAsa)?;
    let mut header = crate::parse(&message[..at]);
    header.appname = None;
    header.procid = None;
    header.message = b"";
    if header.timestamp.is_none() {
        header.timestamp = emblem_stamp(&message[..at]);
    }
    if header.hostname.is_none() {
        header.hostname = hostname_before(&message[..at]);
    }
    let text = t.rest.strip_prefix(b":").unwrap_or(t.rest);
    Ok(read(header, &t, text))
}

/// EMBLEM's stamp: `<PRI>:Mmm dd hh:mm:ss[.fff] [UTC]: ` (optionally after a
/// `seq: ` number, with Cisco's `*`/`.` clock marks); a `UTC`/`GMT` zone is kept.
fn emblem_stamp(prefix: &[u8]) -> Option<crate::Timestamp> {
    let mut b = match memchr::memchr(b'>', prefix) {
        Some(i) => &prefix[i + 1..],
        None => prefix,
    };
    let seq = b.iter().take(10).take_while(|c| c.is_ascii_digit()).count();
    b = &b[seq..];
    b = b.strip_prefix(b":").unwrap_or(b);
    b = cursor::trim(b);
    b = b
        .strip_prefix(b"*")
        .or_else(|| b.strip_prefix(b"."))
        .unwrap_or(b);
    let (mut ts, used) = crate::Timestamp::parse_bsd(b)?;
    let zone = cursor::trim(&b[used..]);
    let zone = zone.strip_suffix(b":").unwrap_or(zone);
    if zone == b"UTC" || zone == b"GMT" {
        ts.offset_secs = Some(0);
    }
    Some(ts)
}

/// `fw1 : ` or `fw1 ` right before the tag: ASA's `logging device-id`.
fn hostname_before(prefix: &[u8]) -> Option<&[u8]> {
    let p = cursor::trim(prefix);
    let p = cursor::trim(p.strip_suffix(b":").unwrap_or(p));
    let start = p
        .iter()
        .rposition(|c| matches!(c, b' ' | b'>'))
        .map_or(0, |i| i + 1);
    let host = &p[start..];
    let shaped = !host.is_empty()
        && host.len() <= 255
        && host[0].is_ascii_alphanumeric()
        && host
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
        && !host.iter().all(u8::is_ascii_digit);
    // A time (`13:00:01`) or a zone (`UTC`) is not a host; both end up here only
    // when there was a stamp, which the header parser has then read.
    let zone = host.iter().all(u8::is_ascii_uppercase) && host.len() <= 5;
    (shaped && !zone).then_some(host)
}

fn read<'a>(header: Syslog<'a>, t: &Tag<'a>, text: &'a [u8]) -> Asa<'a> {
    let text = cursor::trim(text);
    let text = trim_end(text);
    let number = t.id.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
    let mut network = AsaNetwork::default();
    let (activity, matched) = match format_of(number) {
        Some(f) => {
            let mut c = Cursor::new(text);
            if (f.read)(&mut c, &mut network) {
                (f.activity.as_bytes(), AsaMatch::Id)
            } else {
                network = AsaNetwork::default();
                generic::read(text, &mut network);
                (f.activity.as_bytes(), AsaMatch::Mismatch)
            }
        }
        None => {
            generic::read(text, &mut network);
            (first_clause(text), AsaMatch::Generic)
        }
    };
    Asa {
        header,
        product: t.product,
        level: t.level,
        id: t.id,
        activity,
        text,
        network,
        matched,
    }
}

/// The covered id `id`, if it is one.
fn format_of(id: u32) -> Option<&'static IdFormat> {
    [conn::IDS, deny::IDS, user::IDS, ftd::IDS]
        .into_iter()
        .flatten()
        .find(|f| f.id == id)
}

/// Every covered id, in table order.
pub fn asa_covered_ids() -> impl Iterator<Item = (u32, &'static str)> {
    [conn::IDS, deny::IDS, user::IDS, ftd::IDS]
        .into_iter()
        .flatten()
        .map(|f| (f.id, f.activity))
}

/// The text up to its first `:`, `,`, `(` or `.` and at most 64 bytes, ended at a
/// word: an event name for ids the tables do not name.
fn first_clause(text: &[u8]) -> &[u8] {
    let end = text
        .iter()
        .take(64)
        .position(|c| matches!(c, b':' | b',' | b'(' | b'.' | b'['))
        .unwrap_or(text.len().min(64));
    let mut clause = &text[..end];
    if end == 64 && text.len() > 64 {
        if let Some(space) = clause.iter().rposition(|c| *c == b' ') {
            clause = &clause[..space];
        }
    }
    cursor::trim(clause)
}

fn trim_end(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .rev()
        .take_while(|c| matches!(**c, b' ' | b'\n' | b'\r' | b'\0'))
        .count();
    &s[..s.len() - n]
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ids;
