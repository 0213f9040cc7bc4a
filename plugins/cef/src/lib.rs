//! The `cef` decoder plugin: Common Event Format events, usually behind a syslog
//! header, into CommonSecurityLog records (`Table::Security`).
//!
//! The seven header fields become DeviceVendor, DeviceProduct, DeviceVersion,
//! DeviceEventClassID, Activity and LogSeverity; the extension keys of [`COLUMNS`]
//! become their columns, and every other pair goes into AdditionalExtensions as
//! `key=value` joined by `;`. A message that is not CEF, or whose CEF header is
//! broken, is never dropped: it becomes a Syslog record like the `syslog` decoder
//! makes, with the message exactly as received in `RawMessage` when it looked like
//! CEF but was not.
//!
//! Cisco ASA and FTD messages (`%ASA-6-302013: …`, `%FTD-…`), which the retired
//! agent's security solution also took on this port, become CommonSecurityLog
//! records too (module `asa`), unless the config says `asa = false`. A line that
//! is neither is marked `SL_RECORD_UNRECOGNISED`, which the host counts.

#![forbid(unsafe_code)]

use serde::Deserialize;
use syslane_plugin_sdk::abi::{Table, SL_RECORD_TRUNCATED, SL_RECORD_UNRECOGNISED};
use syslane_plugin_sdk::{
    export_plugin, Decoder, Emitter, Field, Frame, FrameData, FrameDecoder, Host, Record, ValueKind,
};
use syslane_syslog::{find_cef, parse_cef, Cef};
use syslane_syslog_decoder::{Clock, SyslogDecoder};

mod asa;
pub use asa::ASA_COLUMNS;

/// The type of a mapped column, as the CommonSecurityLog table declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    String,
    /// A 32-bit integer column; a value that is not one stays in AdditionalExtensions.
    Int,
    /// A 64-bit integer column.
    Long,
}

/// CEF extension keys (ArcSight's names) and the CommonSecurityLog columns each
/// fills, with the table's types
/// (<https://learn.microsoft.com/en-us/azure/azure-monitor/reference/tables/commonsecuritylog>).
/// Keys are matched exactly, as CEF keys are case-sensitive; a key may fill more
/// than one column.
pub const COLUMNS: &[(&str, &str, Column)] = &[
    ("act", "DeviceAction", Column::String),
    ("app", "ApplicationProtocol", Column::String),
    ("cat", "DeviceEventCategory", Column::String),
    ("cnt", "EventCount", Column::Int),
    // The custom numbers go to the 64-bit FieldDeviceCustomNumber columns, and,
    // when they fit, to the 32-bit legacy ones that are being replaced.
    ("cn1", "FieldDeviceCustomNumber1", Column::Long),
    ("cn1", "DeviceCustomNumber1", Column::Int),
    ("cn1Label", "DeviceCustomNumber1Label", Column::String),
    ("cn2", "FieldDeviceCustomNumber2", Column::Long),
    ("cn2", "DeviceCustomNumber2", Column::Int),
    ("cn2Label", "DeviceCustomNumber2Label", Column::String),
    ("cn3", "FieldDeviceCustomNumber3", Column::Long),
    ("cn3", "DeviceCustomNumber3", Column::Int),
    ("cn3Label", "DeviceCustomNumber3Label", Column::String),
    ("cs1", "DeviceCustomString1", Column::String),
    ("cs1Label", "DeviceCustomString1Label", Column::String),
    ("cs2", "DeviceCustomString2", Column::String),
    ("cs2Label", "DeviceCustomString2Label", Column::String),
    ("cs3", "DeviceCustomString3", Column::String),
    ("cs3Label", "DeviceCustomString3Label", Column::String),
    ("cs4", "DeviceCustomString4", Column::String),
    ("cs4Label", "DeviceCustomString4Label", Column::String),
    ("cs5", "DeviceCustomString5", Column::String),
    ("cs5Label", "DeviceCustomString5Label", Column::String),
    ("cs6", "DeviceCustomString6", Column::String),
    ("cs6Label", "DeviceCustomString6Label", Column::String),
    ("deviceDirection", "CommunicationDirection", Column::String),
    ("deviceExternalId", "DeviceExternalID", Column::String),
    ("deviceFacility", "DeviceFacility", Column::String),
    (
        "deviceInboundInterface",
        "DeviceInboundInterface",
        Column::String,
    ),
    (
        "deviceOutboundInterface",
        "DeviceOutboundInterface",
        Column::String,
    ),
    ("dhost", "DestinationHostName", Column::String),
    ("dmac", "DestinationMACAddress", Column::String),
    ("dntdom", "DestinationNTDomain", Column::String),
    ("dpid", "DestinationProcessId", Column::Int),
    ("dpriv", "DestinationUserPrivileges", Column::String),
    ("dproc", "DestinationProcessName", Column::String),
    ("dpt", "DestinationPort", Column::Int),
    ("dst", "DestinationIP", Column::String),
    ("duid", "DestinationUserID", Column::String),
    ("duser", "DestinationUserName", Column::String),
    ("dvc", "DeviceAddress", Column::String),
    ("dvchost", "DeviceName", Column::String),
    ("dvcmac", "DeviceMacAddress", Column::String),
    ("externalId", "ExtID", Column::String),
    ("fileHash", "FileHash", Column::String),
    ("filePath", "FilePath", Column::String),
    ("fname", "FileName", Column::String),
    ("fsize", "FileSize", Column::Int),
    ("in", "ReceivedBytes", Column::Long),
    ("msg", "Message", Column::String),
    ("out", "SentBytes", Column::Long),
    ("outcome", "EventOutcome", Column::String),
    ("proto", "Protocol", Column::String),
    ("reason", "Reason", Column::String),
    ("request", "RequestURL", Column::String),
    (
        "requestClientApplication",
        "RequestClientApplication",
        Column::String,
    ),
    ("requestContext", "RequestContext", Column::String),
    ("requestMethod", "RequestMethod", Column::String),
    ("rt", "ReceiptTime", Column::String),
    ("shost", "SourceHostName", Column::String),
    ("smac", "SourceMACAddress", Column::String),
    ("sntdom", "SourceNTDomain", Column::String),
    ("spid", "SourceProcessId", Column::Int),
    ("spriv", "SourceUserPrivileges", Column::String),
    ("sproc", "SourceProcessName", Column::String),
    ("spt", "SourcePort", Column::Int),
    ("src", "SourceIP", Column::String),
    ("suid", "SourceUserID", Column::String),
    ("suser", "SourceUserName", Column::String),
    (
        "sourceTranslatedAddress",
        "SourceTranslatedAddress",
        Column::String,
    ),
    ("sourceTranslatedPort", "SourceTranslatedPort", Column::Int),
    (
        "destinationTranslatedAddress",
        "DestinationTranslatedAddress",
        Column::String,
    ),
    (
        "destinationTranslatedPort",
        "DestinationTranslatedPort",
        Column::Int,
    ),
];

/// The header's columns, all strings.
pub const HEADER_COLUMNS: [&str; 6] = [
    "DeviceVendor",
    "DeviceProduct",
    "DeviceVersion",
    "DeviceEventClassID",
    "Activity",
    "LogSeverity",
];

fn columns_of(key: &[u8]) -> impl Iterator<Item = (&'static str, Column)> + '_ {
    COLUMNS
        .iter()
        .filter(move |(k, _, _)| k.as_bytes() == key)
        .map(|(_, c, t)| (*c, *t))
}

/// Whether `v` fits the column's integer type.
fn fits(v: &[u8], t: Column) -> bool {
    let Ok(s) = std::str::from_utf8(v) else {
        return false;
    };
    match t {
        Column::String => true,
        Column::Int => s.parse::<i32>().is_ok(),
        Column::Long => s.parse::<i64>().is_ok(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// As for the `syslog` decoder: the zone of syslog headers without one.
    #[serde(default)]
    timezone: Option<String>,
    /// Cisco ASA/FTD messages into CommonSecurityLog (the default); `false` keeps
    /// them Syslog records, as before.
    #[serde(default = "yes")]
    asa: bool,
}

fn yes() -> bool {
    true
}

/// The decoder. Public so tests and benchmarks can drive it without the ABI.
pub struct CefDecoder {
    clock: Clock,
    /// For messages that are not CEF at all.
    plain: SyslogDecoder,
    /// For messages that looked like CEF but were not: the raw bytes are kept.
    broken: SyslogDecoder,
    /// Whether Cisco ASA/FTD messages become CommonSecurityLog records.
    asa: bool,
}

impl CefDecoder {
    pub fn from_config(config: &str) -> Result<CefDecoder, String> {
        let c: Config =
            serde_json::from_str(config).map_err(|e| format!("cef decoder config: {e}"))?;
        let clock = Clock::new(c.timezone.as_deref().unwrap_or("local"))?;
        Ok(CefDecoder {
            plain: SyslogDecoder::new(clock.clone(), false).reading_tag_in_text(),
            broken: SyslogDecoder::new(clock.clone(), true),
            clock,
            asa: c.asa,
        })
    }
}

/// Puts each extension into the columns its key maps to (the first occurrence of
/// a key, and only integers that fit an integer column), and returns the pairs no
/// column took as `key=value` joined by `;`, in the order sent.
fn map_extensions<'a>(cef: &'a Cef<'a>, fields: &mut Vec<Field<'a>>) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in &cef.extensions {
        // A repeated key fills nothing more: its columns come from one pair.
        let repeated = columns_of(key).any(|(name, _)| fields.iter().any(|f| f.name == name));
        let mut took = false;
        for (name, t) in columns_of(key) {
            if !repeated && fits(value, t) {
                fields.push(Field {
                    name,
                    value: value.as_ref(),
                    kind: if t == Column::String {
                        ValueKind::String
                    } else {
                        ValueKind::Int
                    },
                });
                took = true;
            }
        }
        if took {
            continue;
        }
        if !out.is_empty() {
            out.push(b';');
        }
        out.extend_from_slice(key);
        out.push(b'=');
        out.extend_from_slice(value);
    }
    out
}

impl Decoder for CefDecoder {
    fn create(_host: Host, config: &str) -> Result<Self, String> {
        CefDecoder::from_config(config)
    }

    fn decode(&mut self, frames: &[Frame<'_>], out: &mut Emitter<'_>) {
        self.decode_frames(frames, out);
    }
}

impl FrameDecoder for CefDecoder {
    /// Decodes one frame and hands the record to `emit`.
    fn decode_frame(&self, input: FrameData<'_>, emit: impl FnOnce(&Record<'_>)) {
        let FrameData {
            data: frame,
            peer,
            receive_time_ns,
            truncated,
        } = input;
        let Some(at) = find_cef(frame) else {
            if self.asa {
                if let Ok(a) = syslane_syslog::parse_asa(frame) {
                    return asa::decode(&self.clock, &a, input, emit);
                }
            }
            return unrecognised(&self.plain, input, emit);
        };
        let cef = match parse_cef(&frame[at..]) {
            Ok(c) => c,
            Err(_) => return unrecognised(&self.broken, input, emit),
        };
        // The syslog header before `CEF:` (if any) gives the host, time and PRI.
        let header = syslane_syslog::parse(&frame[..at]);
        let event_time_ns = header
            .timestamp
            .and_then(|ts| self.clock.instant_ns(&ts, receive_time_ns));
        let mut fields: Vec<Field<'_>> = Vec::with_capacity(8 + cef.extensions.len());
        for (name, value) in HEADER_COLUMNS.iter().zip([
            &cef.device_vendor,
            &cef.device_product,
            &cef.device_version,
            &cef.signature_id,
            &cef.name,
            &cef.severity,
        ]) {
            fields.push(Field {
                name,
                value: value.as_ref(),
                kind: ValueKind::String,
            });
        }
        let additional = map_extensions(&cef, &mut fields);
        if !additional.is_empty() {
            fields.push(Field {
                name: "AdditionalExtensions",
                value: &additional,
                kind: ValueKind::String,
            });
        }
        let record = Record {
            table: Table::Security,
            flags: if truncated { SL_RECORD_TRUNCATED } else { 0 },
            facility: header
                .facility
                .unwrap_or(syslane_plugin_sdk::NO_PRI_FACILITY),
            severity: header
                .severity
                .unwrap_or(syslane_plugin_sdk::NO_PRI_SEVERITY),
            event_time_ns,
            receive_time_ns,
            host_name: header.hostname,
            host_ip: peer,
            process_name: header.appname,
            proc_id: header.procid,
            message: &frame[at..],
            fields: &fields,
            ..Record::default()
        };
        emit(&record);
    }
}

/// A line that is neither CEF nor ASA/FTD: a Syslog record, marked so the host counts it.
fn unrecognised(plain: &SyslogDecoder, input: FrameData<'_>, emit: impl FnOnce(&Record<'_>)) {
    plain.decode_frame(input, |r| {
        emit(&Record {
            flags: r.flags | SL_RECORD_UNRECOGNISED,
            ..*r
        })
    });
}

export_plugin!(
    input,
    CefDecoder,
    "cef",
    "CEF security events and Cisco ASA/FTD messages (behind a syslog header or bare) into CommonSecurityLog records"
);

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_asa;
