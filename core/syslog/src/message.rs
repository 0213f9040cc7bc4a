//! The parsed message and the entry point that picks a format.

use crate::timestamp::Timestamp;
use crate::{rfc3164, rfc5424};

/// Which grammar the message followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `<PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]`.
    Rfc5424,
    /// The BSD format: `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG: MSG`, or parts of it.
    Rfc3164,
    /// Neither: no PRI and no recognisable header. The whole input is the message.
    Unstructured,
}

/// What the parser had to be lenient about. The message is still returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseIssue {
    #[error("no valid PRI (<0> to <191>) at the start; using user.notice")]
    MissingPri,
    #[error("RFC 5424 header has an invalid TIMESTAMP; parsed the rest as RFC 3164")]
    Bad5424Timestamp,
    #[error("RFC 5424 header ends before all fields; missing fields are null")]
    Short5424Header,
    #[error("RFC 5424 STRUCTURED-DATA is not closed; kept as structured data")]
    UnclosedStructuredData,
    #[error("RFC 5424 STRUCTURED-DATA has an element without an SD-ID; kept as written")]
    MalformedStructuredData,
    #[error("no header recognised; the whole input is the message")]
    NoHeader,
}

/// A syslog message; every slice borrows from the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Syslog<'a> {
    /// Facility code from PRI, or `None` when there was no valid PRI.
    pub facility: Option<u8>,
    /// Severity code from PRI, or `None` when there was no valid PRI.
    pub severity: Option<u8>,
    pub format: Format,
    /// RFC 5424 VERSION.
    pub version: Option<u16>,
    pub timestamp: Option<Timestamp>,
    pub hostname: Option<&'a [u8]>,
    /// RFC 5424 APP-NAME, or the program part of an RFC 3164 TAG.
    pub appname: Option<&'a [u8]>,
    /// RFC 5424 PROCID, or the `[pid]` of an RFC 3164 TAG.
    pub procid: Option<&'a [u8]>,
    pub msgid: Option<&'a [u8]>,
    /// STRUCTURED-DATA exactly as it appeared (`[id k="v"]...`), `None` for `-` or absent.
    pub structured_data: Option<&'a [u8]>,
    /// MSG, with a leading UTF-8 BOM removed. Empty when absent.
    pub message: &'a [u8],
    pub issue: Option<ParseIssue>,
}

impl<'a> Syslog<'a> {
    pub(crate) fn empty(format: Format, message: &'a [u8]) -> Self {
        Syslog {
            facility: None,
            severity: None,
            format,
            version: None,
            timestamp: None,
            hostname: None,
            appname: None,
            procid: None,
            msgid: None,
            structured_data: None,
            message,
            issue: None,
        }
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

pub(crate) fn strip_bom(msg: &[u8]) -> &[u8] {
    msg.strip_prefix(BOM).unwrap_or(msg)
}

/// Reads `<PRI>`; returns (facility, severity, rest) when it is valid.
fn parse_pri(input: &[u8]) -> Option<(u8, u8, &[u8])> {
    let rest = input.strip_prefix(b"<")?;
    let digits = rest
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 || digits > 3 || rest.get(digits) != Some(&b'>') {
        return None;
    }
    let value = rest[..digits]
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    if value > 191 {
        return None;
    }
    Some(((value >> 3) as u8, (value & 7) as u8, &rest[digits + 1..]))
}

/// Parses one syslog message. Never fails; see [`Syslog::issue`].
pub fn parse(input: &[u8]) -> Syslog<'_> {
    let Some((facility, severity, rest)) = parse_pri(input) else {
        // An RFC 5424 header without its PRI (some network gear sends one): accept it
        // only with a real timestamp, so ordinary text starting with a digit stays text.
        if let Some((version, after)) = rfc5424::version(input) {
            if let Ok(mut msg) = rfc5424::parse(version, after) {
                if msg.timestamp.is_some() {
                    msg.issue = Some(ParseIssue::MissingPri);
                    return msg;
                }
            }
        }
        let mut msg = rfc3164::parse_without_pri(input);
        if msg.issue.is_none() {
            msg.issue = Some(ParseIssue::MissingPri);
        }
        return msg;
    };
    let mut msg = match rfc5424::version(rest) {
        Some((version, after)) => rfc5424::parse(version, after).unwrap_or_else(|issue| {
            let mut m = rfc3164::parse_after_pri(rest);
            m.issue = Some(issue);
            m
        }),
        None => rfc3164::parse_after_pri(rest),
    };
    msg.facility = Some(facility);
    msg.severity = Some(severity);
    msg
}
