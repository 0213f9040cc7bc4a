//! Records of one batch, stored column-wise in one byte [`Arena`]: adding a record
//! copies its strings once and allocates nothing once the buffers have grown to
//! the batch size, and the buffers are reused from batch to batch.

use super::arena::{Arena, Span};
use crate::columns::{text_columns, Column};
use crate::plugin_host::Columns;
use crate::table::Table;
use syslane_syslog::{facility_code, severity_code};

/// An extra field: name, value and `SL_VALUE_*` kind.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FieldSlot {
    pub name: Span,
    pub value: Span,
    pub kind: u32,
}

/// `Rec` and what is generated with it from the one list of text columns.
macro_rules! define_rec {
    ($($(#[$doc:meta])* $field:ident $variant:ident $name:literal,)*) => {
        /// One record. Strings are spans into [`RecordBatch::arena`]; `None` is null.
        #[derive(Clone, Copy, Debug, Default)]
        pub(crate) struct Rec {
            pub table: Table,
            pub flags: u32,
            pub facility: u8,
            pub severity: u8,
            pub dropped: bool,
            /// `SL_TIME_NONE` when absent.
            pub event_time_ns: i64,
            pub receive_time_ns: i64,
            $($(#[$doc])* pub $field: Option<Span>,)*
            /// Range of this record's extra fields in [`RecordBatch::fields`].
            pub fields: (u32, u32),
        }

        impl RecordBatch {
            /// The columns of `r`, over the arena: what a filter is shown.
            #[inline]
            pub(crate) fn columns(&self, r: &Rec) -> Columns<'_> {
                Columns {
                    table: r.table,
                    flags: r.flags,
                    facility: r.facility,
                    severity: r.severity,
                    event_time_ns: r.event_time_ns,
                    receive_time_ns: r.receive_time_ns,
                    $($field: self.arena.get_opt(r.$field),)*
                }
            }

            /// Copies `c`'s strings into the arena: a row, not yet added, whose
            /// extra fields start at the end of [`RecordBatch::fields`] (none yet).
            #[inline]
            pub(crate) fn copy(&mut self, c: &Columns<'_>) -> Rec {
                Rec {
                    table: c.table,
                    flags: c.flags,
                    facility: c.facility,
                    severity: c.severity,
                    dropped: false,
                    event_time_ns: c.event_time_ns,
                    receive_time_ns: c.receive_time_ns,
                    $($field: self.arena.put_opt(c.$field),)*
                    fields: (self.fields.len() as u32, 0),
                }
            }
        }

        /// The text column `column` of `rec`; `None` for the other columns.
        fn text_mut(rec: &mut Rec, column: Column) -> Option<&mut Option<Span>> {
            match column {
                $(Column::$variant => Some(&mut rec.$field),)*
                Column::Facility | Column::Severity | Column::Extra => None,
            }
        }
    };
}
text_columns!(define_rec);

/// The records of one batch.
#[derive(Default, Debug)]
pub(crate) struct RecordBatch {
    pub arena: Arena,
    pub recs: Vec<Rec>,
    pub fields: Vec<FieldSlot>,
}

impl RecordBatch {
    pub(crate) fn clear(&mut self) {
        self.arena.clear();
        self.recs.clear();
        self.fields.clear();
    }

    /// The extra fields of `rec`.
    pub(crate) fn fields_of(&self, rec: &Rec) -> &[FieldSlot] {
        let (start, len) = rec.fields;
        self.fields
            .get(start as usize..(start + len) as usize)
            .unwrap_or(&[])
    }

    /// Adds an extra field to the record being built (the last one).
    pub(crate) fn push_field(&mut self, name: &[u8], value: &[u8], kind: u32) {
        let name = self.arena.put(name);
        let value = self.arena.put(value);
        self.fields.push(FieldSlot { name, value, kind });
    }

    /// Sets column `column` of record `index` to `value` (`None` clears it).
    pub(crate) fn set(
        &mut self,
        index: usize,
        column: Column,
        name: &[u8],
        value: Option<&[u8]>,
        kind: u32,
    ) {
        if index >= self.recs.len() {
            return;
        }
        let text = value.and_then(|v| std::str::from_utf8(v).ok());
        let span = match column {
            Column::Facility => {
                if let Some(code) = text.and_then(facility_code) {
                    self.recs[index].facility = code;
                }
                return;
            }
            Column::Severity => {
                if let Some(code) = text.and_then(severity_code) {
                    self.recs[index].severity = code;
                }
                return;
            }
            Column::Extra => return self.set_extra(index, name, value, kind),
            // A message set to null is the empty message.
            Column::Message => Some(self.arena.put(value.unwrap_or(b""))),
            _ => self.arena.put_opt(value),
        };
        if let Some(slot) = text_mut(&mut self.recs[index], column) {
            *slot = span;
        }
    }

    /// Replaces (or removes, for `None`) extra field `name` of record `index`. The record's
    /// fields are copied to the end of the list, so other records are untouched.
    fn set_extra(&mut self, index: usize, name: &[u8], value: Option<&[u8]>, kind: u32) {
        let rec = self.recs[index];
        let start = self.fields.len() as u32;
        let (old_start, old_len) = rec.fields;
        for i in old_start..old_start + old_len {
            let slot = self.fields[i as usize];
            if self.arena.get(slot.name) != name {
                self.fields.push(slot);
            }
        }
        if let Some(value) = value {
            self.push_field(name, value, kind);
        }
        self.recs[index].fields = (start, self.fields.len() as u32 - start);
    }

    /// Records not dropped.
    pub(crate) fn live(&self) -> impl Iterator<Item = (usize, &Rec)> {
        self.recs.iter().enumerate().filter(|(_, r)| !r.dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch_with(n: usize) -> RecordBatch {
        let mut b = RecordBatch::default();
        for i in 0..n {
            let message = b.arena.put(format!("m{i}").as_bytes());
            let start = b.fields.len() as u32;
            b.push_field(b"k", b"v", 0);
            b.recs.push(Rec {
                message: Some(message),
                fields: (start, 1),
                ..Rec::default()
            });
        }
        b
    }

    #[test]
    fn setting_an_extra_field_touches_only_its_record() {
        let mut b = batch_with(3);
        b.set(1, Column::Extra, b"env", Some(b"prod"), 0);
        b.set(1, Column::Extra, b"k", None, 0);
        let names = |b: &RecordBatch, i: usize| -> Vec<Vec<u8>> {
            b.fields_of(&b.recs[i])
                .iter()
                .map(|f| b.arena.get(f.name).to_vec())
                .collect()
        };
        assert_eq!(names(&b, 0), vec![b"k".to_vec()]);
        assert_eq!(names(&b, 1), vec![b"env".to_vec()]);
        assert_eq!(names(&b, 2), vec![b"k".to_vec()]);
    }

    #[test]
    fn columns_are_set_by_name() {
        let mut b = batch_with(1);
        b.set(0, Column::Severity, b"SeverityLevel", Some(b"err"), 0);
        b.set(0, Column::Facility, b"Facility", Some(b"local3"), 0);
        b.set(0, Column::Message, b"SyslogMessage", Some(b"new"), 0);
        assert_eq!((b.recs[0].severity, b.recs[0].facility), (3, 19));
        assert_eq!(b.arena.get_opt(b.recs[0].message), Some(&b"new"[..]));
        b.set(0, Column::Message, b"SyslogMessage", None, 0);
        b.set(0, Column::ProcessId, b"ProcessID", Some(b"42"), 0);
        assert_eq!(b.arena.get_opt(b.recs[0].message), Some(&b""[..]));
        assert_eq!(b.arena.get_opt(b.recs[0].proc_id), Some(&b"42"[..]));
        b.set(0, Column::ProcessId, b"ProcessID", None, 0);
        assert_eq!(b.recs[0].proc_id, None);
    }

    #[test]
    fn a_copied_row_reads_back_as_its_columns() {
        let mut b = RecordBatch::default();
        let c = Columns {
            table: Table::Security,
            flags: 3,
            facility: 4,
            severity: 2,
            event_time_ns: 7,
            receive_time_ns: 9,
            host_name: Some(b"fw01"),
            host_ip: None,
            process_name: Some(b""),
            proc_id: Some(b"77"),
            msg_id: None,
            structured_data: Some(b"[a b=\"c\"]"),
            message: Some(b"text"),
        };
        let rec = b.copy(&c);
        let back = b.columns(&rec);
        assert_eq!(format!("{back:?}"), format!("{c:?}"));
        assert_eq!(rec.fields, (0, 0));
    }
}
