//! A record's columns, declared once.
//!
//! [`text_columns!`] is the list of the text columns: the ones a decoder fills,
//! a filter reads and may set by name, and the serializer writes. Every place
//! that needs them all is generated from that list by a macro of its own, given
//! to `text_columns!`: the [`Column`] enum and its names (here), the record's
//! view in the ABI (`plugin_host::Columns`, its `from_abi` and `to_abi`), and a
//! batch's rows with their filter views and decode copies
//! (`pipeline::batch::Rec`). A new text column is one line below.
//!
//! The other columns (table, flags, facility, severity, the two times) each
//! convert in a way of their own and are written out where each struct is.

use syslane_syslog::{facility_code, severity_code};

/// Calls macro `$generate` with every text column, as
/// `field Variant b"Name",`: the field of `SlRecord` (and of the host's structs),
/// its [`Column`] variant, and the name filters set it by (its Log Analytics
/// column, or the extra field's name for RFC 5424's MSGID and STRUCTURED-DATA).
macro_rules! text_columns {
    ($generate:ident) => {
        $generate! {
            /// HOSTNAME from the message; the host decides it (see `pipeline::decode`).
            host_name HostName b"HostName",
            /// The sender's address; the host decides it (see `pipeline::decode`).
            host_ip HostIp b"HostIP",
            /// APP-NAME / TAG program.
            process_name ProcessName b"ProcessName",
            /// PROCID / TAG pid as text.
            proc_id ProcessId b"ProcessID",
            /// RFC 5424 MSGID.
            msg_id MsgId b"MsgId",
            /// RFC 5424 STRUCTURED-DATA as it appeared on the wire.
            structured_data StructuredData b"StructuredData",
            /// The message text; never absent in a batch's row.
            message Message b"SyslogMessage",
        }
    };
}
pub(crate) use text_columns;

/// Columns the host derives: no filter may set them.
pub(crate) const DERIVED_COLUMNS: [&str; 5] = [
    "TimeGenerated",
    "EventTime",
    "Computer",
    "SourceSystem",
    "CollectorHostName",
];

macro_rules! define_column {
    ($($(#[$doc:meta])* $field:ident $variant:ident $name:literal,)*) => {
        /// A column a filter may set by name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Column {
            $($(#[$doc])* $variant,)*
            /// Facility, set by name (`auth`).
            Facility,
            /// SeverityLevel, set by name (`warning`).
            Severity,
            /// Any other name: an extra field.
            Extra,
        }

        impl Column {
            /// The column for `name`, or `None` for a derived one (or an empty name).
            pub(crate) fn from_name(name: &[u8]) -> Option<Column> {
                Some(match name {
                    $($name => Column::$variant,)*
                    b"Facility" => Column::Facility,
                    b"SeverityLevel" => Column::Severity,
                    n if n.is_empty() || DERIVED_COLUMNS.iter().any(|d| d.as_bytes() == n) => {
                        return None
                    }
                    _ => Column::Extra,
                })
            }

            /// The text columns, with their names.
            #[cfg(test)]
            pub(crate) const TEXT: &[(Column, &[u8])] = &[$((Column::$variant, $name),)*];
        }
    };
}
text_columns!(define_column);

impl Column {
    /// Whether `value` is acceptable for this column (facility and severity take names).
    pub(crate) fn accepts(self, value: Option<&[u8]>) -> bool {
        let text = value.and_then(|v| std::str::from_utf8(v).ok());
        match self {
            Column::Facility => text.and_then(facility_code).is_some(),
            Column::Severity => text.and_then(severity_code).is_some(),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_column_is_found_by_its_name() {
        assert_eq!(Column::TEXT.len(), 7);
        for &(column, name) in Column::TEXT {
            assert_eq!(Column::from_name(name), Some(column));
        }
        assert_eq!(Column::from_name(b"SyslogMessage"), Some(Column::Message));
        assert_eq!(Column::from_name(b"ProcessID"), Some(Column::ProcessId));
        assert_eq!(Column::from_name(b"SeverityLevel"), Some(Column::Severity));
        assert_eq!(Column::from_name(b"Facility"), Some(Column::Facility));
    }

    #[test]
    fn derived_columns_are_refused_and_others_are_extras() {
        for name in DERIVED_COLUMNS {
            assert!(Column::from_name(name.as_bytes()).is_none(), "{name}");
        }
        assert!(Column::from_name(b"").is_none());
        assert_eq!(Column::from_name(b"Env"), Some(Column::Extra));
        assert_eq!(
            Column::from_name(b"hostname"),
            Some(Column::Extra),
            "names are exact"
        );
        assert!(!Column::Severity.accepts(Some(b"loud")));
        assert!(Column::Facility.accepts(Some(b"local3")));
        assert!(Column::Message.accepts(None));
    }
}
