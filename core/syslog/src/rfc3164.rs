//! RFC 3164 (BSD syslog) as senders really write it, read the way rsyslog and
//! syslog-ng read it: an optional timestamp, an optional hostname, an optional tag,
//! then the text. An RFC 5424-style structured-data element right after the tag
//! (rsyslog's own start-up message has one) is recognised when it is well formed
//! and every element has `name="value"` parameters: a bare `[INFO]` or a kernel's
//! `[12345.678901]` is text, as rsyslog and syslog-ng keep it.
//!
//! - Text: at most one space separates the header from the text; more spaces are
//!   the text's own (indentation survives). With no header but the PRI, the text
//!   starts right after `>`.
//!
//! - Timestamp: BSD `Mmm dd hh:mm:ss` (with a fraction, or a year before the time), or
//!   ISO 8601 with `T` or a space; Cisco's `*` / `.` (clock not synchronised) in front
//!   and `:` behind, and a `NNN: ` sequence number before it, are allowed. Spaces
//!   between `>` and the timestamp and doubled spaces between fields are skipped.
//! - Hostname: only after a timestamp, and only a token shaped like one. A token that
//!   ends in `:` (unless it is an IPv6 address such as `fe80::`) or holds `[pid]` is a
//!   tag, so a header without a hostname is read as the daemons read it. AIX's
//!   `Message forwarded from HOST:` names the host.
//! - Tag: the leading run of tag characters ended by `[`, `:` or a space, as rsyslog
//!   and syslog-ng take it: `prog[pid]:`, `prog:`, or, after a timestamp, a bare word
//!   (`host tag text`). A bare word needs a letter or digit (so `-- MARK --` stays
//!   text), no `=` or `"` (so `key=value` text stays text), and is not capitalised
//!   like a sentence's first word (`host Use the BFG!` is text). Without a timestamp
//!   only `prog:` and `prog[pid]` forms are tags.

use crate::message::{strip_bom, Format, ParseIssue, Syslog};
use crate::timestamp::Timestamp;

const MAX_TAG: usize = 128;

fn skip_spaces(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| **c == b' ').count();
    &b[n..]
}

/// `b` without the one space that separates a header field from what follows.
fn one_space(b: &[u8]) -> &[u8] {
    b.strip_prefix(b" ").unwrap_or(b)
}

fn token(b: &[u8]) -> Option<(&[u8], &[u8])> {
    if b.is_empty() {
        return None;
    }
    match memchr::memchr(b' ', b) {
        Some(i) => Some((&b[..i], &b[i..])),
        None => Some((b, &[])),
    }
}

/// A tag read from the start of the text.
struct Tag<'a> {
    prog: &'a [u8],
    pid: Option<&'a [u8]>,
    /// The text after the tag and the one space that ends it.
    rest: &'a [u8],
}

/// Bytes a tag may hold: anything printable (or UTF-8) but the three that end it.
fn is_tag_byte(c: u8) -> bool {
    (c.is_ascii_graphic() || c >= 0x80) && !matches!(c, b'[' | b':' | b']')
}

/// Whether a word with neither `:` nor `[pid]` can be a tag: it needs a letter or a
/// digit (`--` of `-- MARK --` is text), no `=`, `"` or `\` (`key=value` is text),
/// and must not be capitalised like the first word of a sentence (`Use the BFG!`,
/// `Interface down` are text; `hostapd`, `TAG`, `MSWinEventLog`, `RT_FLOW` are tags).
fn bare_tag(word: &[u8]) -> bool {
    let named = word.iter().any(|c| c.is_ascii_alphanumeric() || *c >= 0x80);
    let text_like = word.iter().any(|c| matches!(c, b'=' | b'"' | b'\\'));
    let sentence = word[0].is_ascii_uppercase()
        && !word[1..]
            .iter()
            .any(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_');
    named && !text_like && !sentence
}

/// Reads `prog[pid]:`, `prog[pid]`, `prog:` or a bare `prog` at the start of `b`.
/// A bare word is a tag only when `bare` allows it and it looks like a name.
fn tag(b: &[u8], bare: bool) -> Option<Tag<'_>> {
    let n = b.iter().take_while(|c| is_tag_byte(**c)).count();
    if n == 0 || n > MAX_TAG {
        return None;
    }
    let prog = &b[..n];
    let mut at = n;
    let mut pid = None;
    let mut marked = false;
    if b.get(at) == Some(&b'[') {
        let len = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_graphic() && !matches!(c, b'[' | b']'))
            .count();
        if b.get(at + 1 + len) != Some(&b']') {
            return None;
        }
        pid = (len > 0).then_some(&b[at + 1..at + 1 + len]);
        at += len + 2;
        marked = true;
    }
    if b.get(at) == Some(&b':') {
        at += 1;
        marked = true;
    }
    match b.get(at) {
        None | Some(b' ') => {}
        // `prog:text`: the daemons end the tag at the colon.
        Some(_) if b[at - 1] == b':' => {}
        Some(_) => return None,
    }
    if !(marked || (bare && bare_tag(prog))) {
        return None;
    }
    Some(Tag {
        prog,
        pid,
        rest: one_space(&b[at..]),
    })
}

/// A BSD tag read from the start of a message's text by [`leading_tag`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeadingTag<'a> {
    pub prog: &'a [u8],
    pub pid: Option<&'a [u8]>,
    /// The text after the tag and its one separating space.
    pub rest: &'a [u8],
}

/// A BSD tag at the start of a message's text, `prog[pid]:`, `prog[pid]` or
/// `prog:` (never a bare word). For text that a relay put behind a header of its
/// own without the tag's fields, as rsyslog's `- - - - %syslogtag%%msg%` does.
pub fn leading_tag(text: &[u8]) -> Option<LeadingTag<'_>> {
    tag(text, false).map(|t| LeadingTag {
        prog: t.prog,
        pid: t.pid,
        rest: t.rest,
    })
}

/// An IPv6 address, bare or in brackets (`fe80::1`, `2001:db8::`, `[::1]`).
fn ipv6(tok: &[u8]) -> Option<&[u8]> {
    let inner = tok
        .strip_prefix(b"[")
        .and_then(|t| t.strip_suffix(b"]"))
        .unwrap_or(tok);
    if inner.len() < 2
        || inner.len() > 45
        || !inner.contains(&b':')
        || !inner
            .iter()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, b':' | b'.'))
    {
        return None;
    }
    let text = std::str::from_utf8(inner).ok()?;
    text.parse::<std::net::Ipv6Addr>().ok().map(|_| inner)
}

/// A token shaped like a hostname: letters, digits, `-._@/` and UTF-8, or an address.
fn is_hostname(tok: &[u8]) -> bool {
    tok.len() <= 255
        && tok.iter().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'@' | b'/') || *c >= 0x80
        })
}

fn sd_name_len(b: &[u8]) -> usize {
    b.iter()
        .take_while(|c| c.is_ascii_graphic() && !matches!(c, b'=' | b']' | b'"'))
        .count()
}

/// Length of well-formed RFC 5424 structured data at the start of `b`, or 0. In a
/// BSD message every element needs at least one `name="value"` parameter: that is
/// rsyslog's extension (`[origin software="rsyslogd"]`); a bracketed word without
/// one (`[INFO]`, a kernel's `[12345.678901]`) is text.
fn strict_structured_data_len(b: &[u8]) -> usize {
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        i += 1;
        let id = sd_name_len(&b[i..]);
        if id == 0 || id > 32 {
            return 0;
        }
        i += id;
        let mut params = 0;
        loop {
            match b.get(i) {
                Some(b']') if params > 0 => {
                    i += 1;
                    break;
                }
                Some(b' ') => {
                    i += 1;
                    let name = sd_name_len(&b[i..]);
                    if name == 0
                        || name > 32
                        || b.get(i + name) != Some(&b'=')
                        || b.get(i + name + 1) != Some(&b'"')
                    {
                        return 0;
                    }
                    i += name + 2;
                    params += 1;
                    loop {
                        match b.get(i) {
                            None => return 0,
                            Some(b'\\') => i += 2,
                            Some(b'"') => {
                                i += 1;
                                break;
                            }
                            Some(_) => i += 1,
                        }
                    }
                }
                _ => return 0,
            }
        }
    }
    match b.get(i) {
        None | Some(b' ') => i,
        Some(_) => 0,
    }
}

/// Hostname (when `had_timestamp`), tag, structured data and text. `b` starts
/// where the text would if nothing more were recognised; spaces in front of a
/// hostname or tag are skipped (doubled spaces between header fields), and at most
/// one space after the last field read is the separator.
fn header_and_text<'a>(mut m: Syslog<'a>, b: &'a [u8], had_timestamp: bool) -> Syslog<'a> {
    let mut text = b;
    let mut at = skip_spaces(b);
    if had_timestamp {
        if let Some((host, rest)) = forwarded_from(at) {
            m.hostname = Some(host);
            text = one_space(rest);
            at = skip_spaces(rest);
        } else if let Some((tok, after)) = token(at) {
            // A hostname ends with a space (the text may be empty, as in the header
            // before `CEF:`); a lone word at the end is the tag.
            let spaced = !after.is_empty();
            let host = ipv6(tok).or_else(|| (spaced && is_hostname(tok)).then_some(tok));
            if let Some(host) = host {
                m.hostname = Some(host);
                text = one_space(after);
                at = skip_spaces(after);
            }
        }
    }
    if let Some(t) = tag(at, had_timestamp) {
        m.appname = Some(t.prog);
        m.procid = t.pid;
        text = t.rest;
    }
    // Structured data is part of the header: spaces before it are skipped like
    // those between header fields (rsyslog's own messages put two there).
    let sd_at = skip_spaces(text);
    let sd = strict_structured_data_len(sd_at);
    if sd > 0 {
        m.structured_data = Some(&sd_at[..sd]);
        text = one_space(&sd_at[sd..]);
    }
    m.message = strip_bom(text);
    m
}

/// AIX relays: `Message forwarded from HOST: prog[pid]: text` → (HOST, `prog...`).
fn forwarded_from(b: &[u8]) -> Option<(&[u8], &[u8])> {
    const PREFIX: &[u8] = b"Message forwarded from ";
    let rest = b.strip_prefix(PREFIX)?;
    let (tok, after) = token(rest)?;
    let host = tok.strip_suffix(b":")?;
    (!host.is_empty() && (is_hostname(host) || ipv6(host).is_some())).then_some((host, after))
}

/// A timestamp at the start of `b` and the text after it and its one separating
/// space: BSD or ISO 8601, with Cisco's `*` or `.` before it and `:` after it allowed.
fn timestamp(b: &[u8]) -> Option<(Timestamp, &[u8])> {
    let b = match b.first() {
        Some(b'*' | b'.') => &b[1..],
        _ => b,
    };
    let (ts, used) = Timestamp::parse_bsd(b).or_else(|| Timestamp::parse_iso8601(b))?;
    let rest = &b[used..];
    // Some devices put a colon after the time ("Oct 11 22:14:15: %SYS-5-...").
    let rest = rest.strip_prefix(b":").unwrap_or(rest);
    match rest.first() {
        None | Some(b' ') => Some((ts, one_space(rest))),
        Some(_) => None,
    }
}

/// A timestamp, or Cisco's sequence number and then a timestamp (`91: *Oct 07 ...`).
fn header_timestamp(b: &[u8]) -> Option<(Timestamp, &[u8])> {
    if let Some(found) = timestamp(b) {
        return Some(found);
    }
    let n = b.iter().take(10).take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || b.get(n) != Some(&b':') || b.get(n + 1) != Some(&b' ') {
        return None;
    }
    timestamp(skip_spaces(&b[n + 1..]))
}

/// Parses what follows a valid PRI when it is not RFC 5424.
pub(crate) fn parse_after_pri(b: &[u8]) -> Syslog<'_> {
    let mut m = Syslog::empty(Format::Rfc3164, b);
    match header_timestamp(skip_spaces(b)) {
        Some((ts, rest)) => {
            m.timestamp = Some(ts);
            header_and_text(m, rest, true)
        }
        None => header_and_text(m, b, false),
    }
}

/// Parses input with no PRI: a BSD header is still recognised when a timestamp starts
/// it; otherwise the whole input is the message.
pub(crate) fn parse_without_pri(b: &[u8]) -> Syslog<'_> {
    match header_timestamp(b) {
        Some((ts, rest)) => {
            let mut m = Syslog::empty(Format::Rfc3164, b);
            m.timestamp = Some(ts);
            m.issue = Some(ParseIssue::MissingPri);
            header_and_text(m, rest, true)
        }
        None => {
            let mut m = Syslog::empty(Format::Unstructured, strip_bom(b));
            m.issue = Some(ParseIssue::NoHeader);
            m
        }
    }
}
