//! RFC 3164 (BSD syslog) as senders really write it: an optional timestamp (BSD or
//! RFC 3339), an optional hostname, an optional `prog[pid]:` tag, then the text. An
//! RFC 5424-style structured-data element right after the tag (rsyslog's own start-up
//! message has one) is recognised when it is well formed.

use crate::message::{strip_bom, Format, ParseIssue, Syslog};
use crate::timestamp::Timestamp;

const MAX_TAG: usize = 128;

fn skip_spaces(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| **c == b' ').count();
    &b[n..]
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

/// `prog:` or `prog[pid]:` → (prog, pid).
fn tag(tok: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let name = tok.strip_suffix(b":")?;
    if name.is_empty() || name.len() > MAX_TAG {
        return None;
    }
    if let Some(open) = memchr::memchr(b'[', name) {
        let pid = name[open + 1..].strip_suffix(b"]")?;
        let prog = &name[..open];
        if prog.is_empty() || pid.contains(&b'[') {
            return None;
        }
        return Some((prog, (!pid.is_empty()).then_some(pid)));
    }
    (!name.contains(&b']')).then_some((name, None))
}

fn sd_name_len(b: &[u8]) -> usize {
    b.iter()
        .take_while(|c| c.is_ascii_graphic() && !matches!(c, b'=' | b']' | b'"'))
        .count()
}

/// Length of well-formed RFC 5424 structured data at the start of `b`, or 0.
fn strict_structured_data_len(b: &[u8]) -> usize {
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        i += 1;
        let id = sd_name_len(&b[i..]);
        if id == 0 || id > 32 {
            return 0;
        }
        i += id;
        loop {
            match b.get(i) {
                Some(b']') => {
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

fn header_and_text<'a>(mut m: Syslog<'a>, mut b: &'a [u8], had_timestamp: bool) -> Syslog<'a> {
    if had_timestamp {
        if let Some((tok, after)) = token(b) {
            if tag(tok).is_none() {
                m.hostname = Some(tok);
                b = skip_spaces(after);
            }
        }
    }
    if let Some((tok, after)) = token(b) {
        if let Some((prog, pid)) = tag(tok) {
            m.appname = Some(prog);
            m.procid = pid;
            b = skip_spaces(after);
        }
    }
    let sd = strict_structured_data_len(b);
    if sd > 0 {
        m.structured_data = Some(&b[..sd]);
        b = skip_spaces(&b[sd..]);
    }
    m.message = strip_bom(b);
    m
}

fn timestamp(b: &[u8]) -> Option<(Timestamp, &[u8])> {
    let (ts, used) = Timestamp::parse_bsd(b).or_else(|| Timestamp::parse_rfc3339(b))?;
    let rest = &b[used..];
    // Some devices put a colon after the time ("Oct 11 22:14:15: %SYS-5-...").
    let rest = rest.strip_prefix(b":").unwrap_or(rest);
    match rest.first() {
        None | Some(b' ') => Some((ts, skip_spaces(rest))),
        Some(_) => None,
    }
}

/// Parses what follows a valid PRI when it is not RFC 5424.
pub(crate) fn parse_after_pri(b: &[u8]) -> Syslog<'_> {
    let mut m = Syslog::empty(Format::Rfc3164, b);
    match timestamp(b) {
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
    match timestamp(b) {
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
