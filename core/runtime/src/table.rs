//! The workspace tables a record goes to. The type is the ABI crate's [`Table`]:
//! records, chunks, batches and dead letters carry it, and it becomes an
//! `SL_TABLE_*` code only where a view crosses to a plugin or an entry is
//! written to the journal, and a name only in the dead-letter file.

pub(crate) use syslane_abi::Table;

/// The table called `name` (as the dead-letter file names it); a name no table
/// has is a Syslog record.
pub(crate) fn by_name(name: &str) -> Table {
    Table::from_name(name).unwrap_or(Table::Syslog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_name_reads_as_its_table() {
        assert_eq!(by_name("Syslog"), Table::Syslog);
        assert_eq!(by_name("CommonSecurityLog"), Table::Security);
        assert_eq!(by_name("Heartbeat"), Table::Syslog);
        for t in Table::ALL {
            assert_eq!(by_name(t.name()), t);
        }
    }
}
