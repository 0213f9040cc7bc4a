//! Syslog over borrowed bytes: RFC 5424 and RFC 3164 messages, CEF events, Cisco ASA/FTD
//! messages, the TCP framing of
//! RFC 6587 (octet counting and LF / NUL delimited) and RELP frames, with no I/O.
//! Syslog messages, framing and RELP are parsed without allocating; the CEF parser
//! allocates (its extension list, and values whose escapes it undoes).
//!
//! A collector cannot refuse what senders send, so [`parse`] never fails: it returns
//! what it recognised and says in [`Syslog::issue`] what it had to be lenient about.
//! Bytes are returned as slices of the input and may be any bytes; turning them
//! into text (replacing invalid UTF-8) is the caller's choice.

#![forbid(unsafe_code)]

mod asa;
mod cef;
mod framing;
mod message;
mod relp;
mod relp_frame;
mod rfc3164;
mod rfc5424;
mod timestamp;

pub use asa::{
    asa_covered_ids, find_asa, parse_asa, Asa, AsaError, AsaMatch, AsaNetwork, AsaProduct,
};
pub use cef::{find_cef, parse_cef, Cef, CefError};
pub use framing::{trim_trailer, FrameFlags, Framer};
pub use message::{parse, Format, ParseIssue, Syslog};
pub use relp::{RelpError, RelpEvent, RelpReader, RelpRefusal};
pub use rfc3164::{leading_tag, LeadingTag};
pub use timestamp::Timestamp;

/// Facility names in code order (0 = kern .. 23 = local7), as Log Analytics spells them.
pub const FACILITY_NAMES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// Severity names in code order (0 = emerg .. 7 = debug), as Log Analytics spells them.
pub const SEVERITY_NAMES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// The facility code for a name (also accepts the common aliases `security`, `auth-priv`).
pub fn facility_code(name: &str) -> Option<u8> {
    let name = name.trim().to_ascii_lowercase();
    let name = match name.as_str() {
        "security" => "auth",
        "auth-priv" => "authpriv",
        "cron2" | "cron_sol" => "clock",
        other => other,
    };
    FACILITY_NAMES
        .iter()
        .position(|n| *n == name)
        .map(|i| i as u8)
}

/// The severity code for a name (also accepts `error`, `warn`, `emergency`, `critical`, `panic`).
pub fn severity_code(name: &str) -> Option<u8> {
    let name = name.trim().to_ascii_lowercase();
    let name = match name.as_str() {
        "error" => "err",
        "warn" => "warning",
        "emergency" | "panic" => "emerg",
        "critical" => "crit",
        "informational" => "info",
        other => other,
    };
    SEVERITY_NAMES
        .iter()
        .position(|n| *n == name)
        .map(|i| i as u8)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_devices;
