//! Records of one batch, stored column-wise in one byte arena: adding a record copies
//! its strings once and allocates nothing once the buffers have grown to the batch
//! size, and the buffers are reused from batch to batch.

use crate::table::Table;
use syslane_syslog::{facility_code, severity_code};

/// A string in the arena: (offset, length), or `None` for null.
pub(crate) type Span = Option<(u32, u32)>;

/// One record. Strings are spans into [`RecordBatch::arena`].
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
    pub host_name: Span,
    pub host_ip: Span,
    pub process_name: Span,
    pub proc_id: Span,
    pub msg_id: Span,
    pub structured_data: Span,
    pub message: Span,
    /// Range of this record's extra fields in [`RecordBatch::fields`].
    pub fields: (u32, u32),
}

/// An extra field: name, value and `SL_VALUE_*` kind.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FieldSlot {
    pub name: (u32, u32),
    pub value: (u32, u32),
    pub kind: u32,
}

/// A column a filter may set by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Column {
    HostName,
    HostIp,
    Facility,
    Severity,
    ProcessName,
    ProcessId,
    MsgId,
    StructuredData,
    Message,
    /// Any other name: an extra field.
    Extra,
}

/// Columns the host derives: no filter may set them.
pub(crate) const DERIVED_COLUMNS: [&str; 5] = [
    "TimeGenerated",
    "EventTime",
    "Computer",
    "SourceSystem",
    "CollectorHostName",
];

impl Column {
    /// The column for `name`, or `None` for a derived one (or an empty name).
    pub(crate) fn from_name(name: &[u8]) -> Option<Column> {
        Some(match name {
            b"HostName" => Column::HostName,
            b"HostIP" => Column::HostIp,
            b"Facility" => Column::Facility,
            b"SeverityLevel" => Column::Severity,
            b"ProcessName" => Column::ProcessName,
            b"ProcessID" => Column::ProcessId,
            b"MsgId" => Column::MsgId,
            b"StructuredData" => Column::StructuredData,
            b"SyslogMessage" => Column::Message,
            n if n.is_empty() || DERIVED_COLUMNS.iter().any(|d| d.as_bytes() == n) => return None,
            _ => Column::Extra,
        })
    }

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

/// The records of one batch.
#[derive(Default, Debug)]
pub(crate) struct RecordBatch {
    pub arena: Vec<u8>,
    pub recs: Vec<Rec>,
    pub fields: Vec<FieldSlot>,
}

impl RecordBatch {
    pub(crate) fn clear(&mut self) {
        self.arena.clear();
        self.recs.clear();
        self.fields.clear();
    }

    /// Copies `bytes` into the arena.
    pub(crate) fn put(&mut self, bytes: &[u8]) -> (u32, u32) {
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(bytes);
        (start, bytes.len() as u32)
    }

    pub(crate) fn put_opt(&mut self, bytes: Option<&[u8]>) -> Span {
        bytes.map(|b| self.put(b))
    }

    pub(crate) fn get(&self, span: Span) -> Option<&[u8]> {
        span.map(|s| self.slice(s))
    }

    pub(crate) fn slice(&self, (start, len): (u32, u32)) -> &[u8] {
        let start = start as usize;
        self.arena.get(start..start + len as usize).unwrap_or(&[])
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
        let name = self.put(name);
        let value = self.put(value);
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
            _ => self.put_opt(value),
        };
        let rec = &mut self.recs[index];
        match column {
            Column::HostName => rec.host_name = span,
            Column::HostIp => rec.host_ip = span,
            Column::ProcessName => rec.process_name = span,
            Column::ProcessId => rec.proc_id = span,
            Column::MsgId => rec.msg_id = span,
            Column::StructuredData => rec.structured_data = span,
            Column::Message => rec.message = span.or(Some((0, 0))),
            Column::Facility | Column::Severity | Column::Extra => {}
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
            if self.slice(slot.name) != name {
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
            let message = b.put(format!("m{i}").as_bytes());
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
                .map(|f| b.slice(f.name).to_vec())
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
        assert_eq!(b.get(b.recs[0].message), Some(&b"new"[..]));
    }

    #[test]
    fn derived_columns_are_refused() {
        assert!(Column::from_name(b"Computer").is_none());
        assert!(Column::from_name(b"").is_none());
        assert_eq!(Column::from_name(b"Env"), Some(Column::Extra));
        assert!(!Column::Severity.accepts(Some(b"loud")));
    }
}
