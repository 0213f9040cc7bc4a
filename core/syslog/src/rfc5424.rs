//! RFC 5424: `VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]`.
//!
//! Lenient where senders differ from the RFC without losing meaning: field lengths
//! are not capped, a header that ends early leaves the missing fields null, and
//! structured data is taken as written (even when an element is malformed).

use crate::message::{strip_bom, Format, ParseIssue, Syslog};
use crate::timestamp::Timestamp;

/// Reads `VERSION SP` (1 to 3 digits, not starting with 0) after the PRI.
pub(crate) fn version(rest: &[u8]) -> Option<(u16, &[u8])> {
    let n = rest
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if n == 0 || n > 3 || rest[0] == b'0' || rest.get(n) != Some(&b' ') {
        return None;
    }
    let v = rest[..n]
        .iter()
        .fold(0u16, |a, d| a * 10 + u16::from(d - b'0'));
    Some((v, &rest[n + 1..]))
}

/// Splits the next space-terminated header field; `None` at the end of input.
fn field(b: &[u8]) -> Option<(&[u8], &[u8])> {
    if b.is_empty() {
        return None;
    }
    match memchr::memchr(b' ', b) {
        Some(i) => Some((&b[..i], &b[i + 1..])),
        None => Some((b, &[])),
    }
}

fn nil(f: &[u8]) -> Option<&[u8]> {
    (f != b"-" && !f.is_empty()).then_some(f)
}

/// Length of the STRUCTURED-DATA at the start of `b` (one or more `[...]` elements),
/// honouring quoted values with `\"`, `\\` and `\]` escapes. `Err(len)` when the last
/// element is not closed.
fn structured_data_len(b: &[u8]) -> Result<usize, usize> {
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        i += 1;
        let mut quoted = false;
        loop {
            match b.get(i) {
                None => return Err(b.len()),
                Some(b'\\') if quoted => i += 2,
                Some(b'"') => {
                    quoted = !quoted;
                    i += 1;
                }
                Some(b']') if !quoted => {
                    i += 1;
                    break;
                }
                Some(_) => i += 1,
            }
        }
    }
    Ok(i.min(b.len()))
}

/// Parses the header after `VERSION SP`. `Err` means this is not usable RFC 5424
/// and the caller should fall back to RFC 3164.
pub(crate) fn parse(version: u16, b: &[u8]) -> Result<Syslog<'_>, ParseIssue> {
    let mut msg = Syslog::empty(Format::Rfc5424, &[]);
    msg.version = Some(version);
    let Some((ts, rest)) = field(b) else {
        msg.issue = Some(ParseIssue::Short5424Header);
        return Ok(msg);
    };
    if ts != b"-" {
        match Timestamp::parse_rfc3339(ts) {
            Some((t, used)) if used == ts.len() => msg.timestamp = Some(t),
            _ => return Err(ParseIssue::Bad5424Timestamp),
        }
    }
    let mut rest = rest;
    let mut fields: [Option<&[u8]>; 4] = [None; 4];
    for slot in fields.iter_mut() {
        let Some((f, r)) = field(rest) else {
            [msg.hostname, msg.appname, msg.procid, msg.msgid] = fields;
            msg.issue = Some(ParseIssue::Short5424Header);
            return Ok(msg);
        };
        *slot = nil(f);
        rest = r;
    }
    [msg.hostname, msg.appname, msg.procid, msg.msgid] = fields;
    if rest.is_empty() {
        msg.issue = Some(ParseIssue::Short5424Header);
        return Ok(msg);
    }
    let after_sd = if rest[0] == b'-' {
        &rest[1..]
    } else if rest[0] == b'[' {
        let len = structured_data_len(rest).unwrap_or_else(|len| {
            msg.issue = Some(ParseIssue::UnclosedStructuredData);
            len
        });
        msg.structured_data = Some(&rest[..len]);
        if msg.issue.is_none() && rest[..len].windows(2).any(|w| w == b"[]" || w == b"[ ") {
            msg.issue = Some(ParseIssue::MalformedStructuredData);
        }
        &rest[len..]
    } else {
        // No SD at all: a sender that skipped the field. Keep everything as the message.
        msg.message = strip_bom(rest);
        return Ok(msg);
    };
    msg.message = strip_bom(after_sd.strip_prefix(b" ").unwrap_or(after_sd));
    Ok(msg)
}
