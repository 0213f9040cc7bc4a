//! The workspace tables a record goes to: the ABI's `SL_TABLE_*` codes and the
//! names Log Analytics (and the dead-letter file) give them, in one list.

use syslane_abi::{SL_TABLE_SECURITY, SL_TABLE_SYSLOG};

/// Every table, code and name.
const TABLES: [(u32, &str); 2] = [
    (SL_TABLE_SYSLOG, "Syslog"),
    (SL_TABLE_SECURITY, "CommonSecurityLog"),
];

/// The table's code; a name no table has is a Syslog record.
pub(crate) fn code(name: &str) -> u32 {
    TABLES
        .iter()
        .find(|(_, n)| *n == name)
        .map_or(SL_TABLE_SYSLOG, |(c, _)| *c)
}

/// The table's name; a code no table has is a Syslog record.
pub(crate) fn name(code: u32) -> &'static str {
    TABLES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("Syslog", |(_, n)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_name_reads_as_its_code() {
        assert_eq!(code("Syslog"), SL_TABLE_SYSLOG);
        assert_eq!(code("CommonSecurityLog"), SL_TABLE_SECURITY);
        assert_eq!(code("Heartbeat"), SL_TABLE_SYSLOG);
    }

    #[test]
    fn every_code_reads_as_its_name_and_back() {
        for (c, n) in TABLES {
            assert_eq!(name(c), n);
            assert_eq!(code(name(c)), c);
        }
        assert_eq!(name(99), "Syslog");
    }
}
