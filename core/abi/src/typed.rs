//! Rust names for the ABI's integer codes, for the Rust on either side of the
//! boundary (the host and the SDK). Nothing here crosses it: the structs carry
//! the integers, converted to these types where a view is read or built.

use crate::{SL_TABLE_SECURITY, SL_TABLE_SYSLOG};

/// The workspace table a record (or a payload's records) belongs to:
/// `SlRecord::table`, `SlPayload::table` and the `table` of a dead letter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// The Log Analytics Syslog table (`SL_TABLE_SYSLOG`).
    #[default]
    Syslog,
    /// The CommonSecurityLog table (`SL_TABLE_SECURITY`): CEF and Cisco ASA/FTD.
    Security,
}

impl Table {
    /// Every table, in code order.
    pub const ALL: [Table; 2] = [Table::Syslog, Table::Security];

    /// The `SL_TABLE_*` code that stands for this table in the ABI.
    pub const fn code(self) -> u32 {
        match self {
            Table::Syslog => SL_TABLE_SYSLOG,
            Table::Security => SL_TABLE_SECURITY,
        }
    }

    /// The table of an `SL_TABLE_*` code; `None` for a code this ABI does not define.
    pub const fn from_code(code: u32) -> Option<Table> {
        match code {
            SL_TABLE_SYSLOG => Some(Table::Syslog),
            SL_TABLE_SECURITY => Some(Table::Security),
            _ => None,
        }
    }

    /// The table of a code read from the other side of the boundary (or from a
    /// file): a code this ABI does not define is a Syslog record, as a host that
    /// predates a new table treats it.
    pub const fn from_code_or_syslog(code: u32) -> Table {
        match Table::from_code(code) {
            Some(table) => table,
            None => Table::Syslog,
        }
    }

    /// The table's name in Log Analytics (and in the dead-letter file).
    pub const fn name(self) -> &'static str {
        match self {
            Table::Syslog => "Syslog",
            Table::Security => "CommonSecurityLog",
        }
    }

    /// The table called `name`; `None` for a name no table has.
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl core::fmt::Display for Table {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_codes_convert_both_ways() {
        for t in Table::ALL {
            assert_eq!(Table::from_code(t.code()), Some(t));
            assert_eq!(Table::from_name(t.name()), Some(t));
        }
        assert_eq!(Table::Syslog.code(), SL_TABLE_SYSLOG);
        assert_eq!(Table::Security.code(), SL_TABLE_SECURITY);
        assert_eq!(Table::Security.name(), "CommonSecurityLog");
    }

    #[test]
    fn unknown_codes_and_names_are_not_tables() {
        assert_eq!(Table::from_code(2), None);
        assert_eq!(Table::from_code(u32::MAX), None);
        assert_eq!(Table::from_code_or_syslog(99), Table::Syslog);
        assert_eq!(
            Table::from_code_or_syslog(SL_TABLE_SECURITY),
            Table::Security
        );
        assert_eq!(Table::from_name("Heartbeat"), None);
        assert_eq!(Table::from_name("syslog"), None, "names are exact");
    }
}
