//! RFC 5424 and RFC 3164 messages into Syslog-table records: the decoder behind the
//! `syslog` plugin, and the fallback of the `cef` plugin for what is not CEF.
//! A library, not a plugin: a cdylib that linked another plugin's crate would
//! export two plugin descriptors.
//!
//! Lenient by design: whatever arrives becomes a record. A message without a PRI is
//! `user.notice`; one with no recognisable header is kept whole and flagged as a parse
//! failure. Year-less RFC 3164 dates take the latest year that puts them no more
//! than a month after the time they were received (as rsyslog and syslog-ng do);
//! zone-less dates are read in the configured time zone.

#![forbid(unsafe_code)]

mod time;

use serde::Deserialize;
use syslane_plugin_sdk::abi::{SL_RECORD_PARSE_FAILED, SL_RECORD_TRUNCATED};
use syslane_plugin_sdk::{Field, FrameData, FrameDecoder, Record, ValueKind};
use syslane_syslog::{Format, ParseIssue, Syslog};

pub use time::Clock;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    /// `local` (the host's zone, the default), `UTC`, an IANA name or a fixed offset `+05:00`.
    #[serde(default)]
    timezone: Option<String>,
    /// Adds the message exactly as received as the extra field `RawMessage` to every
    /// record (it is always added to records of malformed messages).
    #[serde(default)]
    keep_raw: bool,
}

/// The decoder. Public so tests and benchmarks can drive it without the ABI.
pub struct SyslogDecoder {
    clock: Clock,
    keep_raw: bool,
    /// Read a `prog[pid]:` at the start of the text of a header without APP-NAME.
    tag_in_text: bool,
}

/// The message text. Frames arrive with their trailer (line ends, NULs) already
/// trimmed by the listener. In RFC 5424 without structured data, one space after
/// the header's own separating space is the separator rsyslog keeps in front of
/// the text of a BSD message it relays (its `%msg%` starts with it, and a BSD
/// message has no structured data: `- -  text`), so it is dropped too; any further
/// spaces are the text's own (indentation), as are spaces after a BOM or after
/// structured data. The RFC 3164 parser already drops its one separator.
fn trim_message<'a>(frame: &[u8], m: &Syslog<'a>) -> &'a [u8] {
    let text = m.message;
    if m.format != Format::Rfc5424 || m.structured_data.is_some() {
        return text;
    }
    let offset = (text.as_ptr() as usize).wrapping_sub(frame.as_ptr() as usize);
    let after_space = offset
        .checked_sub(1)
        .and_then(|i| frame.get(i))
        .is_some_and(|b| *b == b' ');
    if !after_space {
        return text;
    }
    text.strip_prefix(b" ").unwrap_or(text)
}

impl SyslogDecoder {
    /// Builds a decoder from its JSON config.
    pub fn from_config(config: &str) -> Result<SyslogDecoder, String> {
        let config: Config = syslane_plugin_sdk::parse_config(config)?;
        let clock = Clock::new(config.timezone.as_deref().unwrap_or("local"))?;
        Ok(SyslogDecoder::new(clock, config.keep_raw))
    }

    /// A decoder reading zone-less dates with `clock`; `keep_raw` adds the message
    /// as received to every record.
    pub fn new(clock: Clock, keep_raw: bool) -> SyslogDecoder {
        SyslogDecoder {
            clock,
            keep_raw,
            tag_in_text: false,
        }
    }

    /// This decoder, also reading a `prog[pid]:` (or `prog:`) at the start of the
    /// text of an RFC 5424 header whose APP-NAME is nil into ProcessName and
    /// ProcessID: what the drop-ins' CEF-port template (`- - - - %syslogtag%%msg%`)
    /// sends for a line that is not CEF.
    pub fn reading_tag_in_text(mut self) -> SyslogDecoder {
        self.tag_in_text = true;
        self
    }
}

impl FrameDecoder for SyslogDecoder {
    /// Decodes one frame and hands the record to `emit`.
    fn decode_frame(&self, frame: FrameData<'_>, emit: impl FnOnce(&Record<'_>)) {
        let FrameData {
            data: frame,
            peer,
            receive_time_ns,
            truncated,
        } = frame;
        let mut m = syslane_syslog::parse(frame);
        let mut message = trim_message(frame, &m);
        if self.tag_in_text && m.format == Format::Rfc5424 && m.appname.is_none() {
            if let Some(tag) = syslane_syslog::leading_tag(m.message) {
                m.appname = Some(tag.prog);
                if m.procid.is_none() {
                    m.procid = tag.pid;
                }
                message = tag.rest;
            }
        }
        let mut flags = 0;
        if m.format == Format::Unstructured {
            flags |= SL_RECORD_PARSE_FAILED;
        }
        if truncated {
            flags |= SL_RECORD_TRUNCATED;
        }
        let event_time_ns = m
            .timestamp
            .and_then(|ts| self.clock.instant_ns(&ts, receive_time_ns));
        // Malformed beyond a missing PRI, or a date that does not exist: keep the bytes.
        let malformed = matches!(m.issue, Some(i) if i != ParseIssue::MissingPri)
            || (m.timestamp.is_some() && event_time_ns.is_none());
        let raw = [Field {
            name: "RawMessage",
            value: frame,
            kind: ValueKind::String,
        }];
        let record = Record {
            flags,
            facility: m.facility.unwrap_or(syslane_plugin_sdk::NO_PRI_FACILITY),
            severity: m.severity.unwrap_or(syslane_plugin_sdk::NO_PRI_SEVERITY),
            event_time_ns,
            receive_time_ns,
            host_name: m.hostname,
            host_ip: peer,
            process_name: m.appname,
            proc_id: m.procid,
            msg_id: m.msgid,
            structured_data: m.structured_data,
            message,
            fields: if self.keep_raw || (malformed && flags & SL_RECORD_PARSE_FAILED == 0) {
                &raw
            } else {
                &[]
            },
            ..Record::default()
        };
        emit(&record);
    }
}
