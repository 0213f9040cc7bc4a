//! Cisco ASA and FTD messages into CommonSecurityLog records: the header columns
//! (DeviceVendor `Cisco`, DeviceProduct `ASA`/`FTD`, DeviceEventClassID the message
//! id, LogSeverity the ASA level, Activity the event's name, Message the text) and
//! the network columns `syslane_syslog::parse_asa` read.

use crate::Column;
use syslane_plugin_sdk::abi::{Table, SL_RECORD_TRUNCATED, SL_RECORD_UNRECOGNISED};
use syslane_plugin_sdk::{Field, FrameData, Record, ValueKind};
use syslane_syslog::{Asa, AsaMatch};
use syslane_syslog_decoder::Clock;

/// Every column an ASA/FTD record can have, with the CommonSecurityLog table's type
/// (<https://learn.microsoft.com/en-us/azure/azure-monitor/reference/tables/commonsecuritylog>).
pub const ASA_COLUMNS: &[(&str, Column)] = &[
    ("DeviceVendor", Column::String),
    ("DeviceProduct", Column::String),
    ("DeviceEventClassID", Column::String),
    ("LogSeverity", Column::String),
    ("Activity", Column::String),
    ("Message", Column::String),
    ("SourceIP", Column::String),
    ("SourcePort", Column::Int),
    ("DestinationIP", Column::String),
    ("DestinationPort", Column::Int),
    ("Protocol", Column::String),
    ("DeviceAction", Column::String),
    ("DeviceInboundInterface", Column::String),
    ("DeviceOutboundInterface", Column::String),
    ("SourceTranslatedAddress", Column::String),
    ("SourceTranslatedPort", Column::Int),
    ("DestinationTranslatedAddress", Column::String),
    ("DestinationTranslatedPort", Column::Int),
    ("SentBytes", Column::Long),
    ("ReceivedBytes", Column::Long),
    ("SourceUserName", Column::String),
    ("DeviceCustomString1", Column::String),
    ("DeviceCustomString1Label", Column::String),
    ("Reason", Column::String),
];

/// The label of DeviceCustomString1 when it holds the deciding access list or rule.
const ACL_LABEL: &[u8] = b"AccessList";

fn kind_of(name: &str) -> ValueKind {
    match ASA_COLUMNS.iter().find(|(n, _)| *n == name) {
        Some((_, Column::Int | Column::Long)) => ValueKind::Int,
        _ => ValueKind::String,
    }
}

/// Emits the record of a parsed ASA/FTD message.
pub(crate) fn decode(
    clock: &Clock,
    a: &Asa<'_>,
    input: FrameData<'_>,
    emit: impl FnOnce(&Record<'_>),
) {
    let header = &a.header;
    let event_time_ns = header
        .timestamp
        .and_then(|ts| clock.instant_ns(&ts, input.receive_time_ns));
    let mut fields: Vec<Field<'_>> = Vec::with_capacity(16);
    for (name, value) in [
        ("DeviceVendor", &b"Cisco"[..]),
        ("DeviceProduct", a.product.name().as_bytes()),
        ("DeviceEventClassID", a.id),
        ("LogSeverity", a.level),
        ("Activity", a.activity),
        ("Message", a.text),
    ] {
        fields.push(Field {
            name,
            value,
            kind: ValueKind::String,
        });
    }
    for (name, value) in a.network.columns() {
        if let Some(value) = value {
            fields.push(Field {
                name,
                value,
                kind: kind_of(name),
            });
        }
    }
    if a.network.acl.is_some() {
        fields.push(Field {
            name: "DeviceCustomString1Label",
            value: ACL_LABEL,
            kind: ValueKind::String,
        });
    }
    let mut flags = if input.truncated {
        SL_RECORD_TRUNCATED
    } else {
        0
    };
    if a.matched == AsaMatch::Mismatch {
        flags |= SL_RECORD_UNRECOGNISED;
    }
    let record = Record {
        table: Table::Security,
        flags,
        facility: header
            .facility
            .unwrap_or(syslane_plugin_sdk::NO_PRI_FACILITY),
        severity: header
            .severity
            .unwrap_or(syslane_plugin_sdk::NO_PRI_SEVERITY),
        event_time_ns,
        receive_time_ns: input.receive_time_ns,
        host_name: header.hostname,
        host_ip: input.peer,
        message: a.text,
        fields: &fields,
        ..Record::default()
    };
    emit(&record);
}
