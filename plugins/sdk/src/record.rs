//! Safe views of the ABI's frames, records and payloads.

use std::borrow::Cow;
use std::marker::PhantomData;
use syslane_abi::*;

/// Bytes of a view, tied to the lifetime of the call that handed it out.
fn bytes<'a>(s: SlStr) -> Option<&'a [u8]> {
    // SAFETY: the host hands out views valid for the call; the SDK only exposes them
    // with the lifetime of the borrowed frame, record or payload.
    unsafe { s.as_bytes() }
}

/// One received message, framing removed.
#[repr(transparent)]
pub struct Frame<'a>(SlFrame, PhantomData<&'a [u8]>);

impl<'a> Frame<'a> {
    /// The frames of a call.
    ///
    /// # Safety
    /// `ptr` must point to `count` valid frames that outlive `'a` (or be null when 0).
    pub(crate) unsafe fn slice(ptr: *const SlFrame, count: usize) -> &'a [Frame<'a>] {
        if ptr.is_null() || count == 0 {
            return &[];
        }
        // SAFETY: `Frame` is a transparent wrapper of `SlFrame`; the caller vouches
        // for the pointer and length.
        unsafe { std::slice::from_raw_parts(ptr.cast::<Frame<'a>>(), count) }
    }
    pub fn data(&self) -> &'a [u8] {
        bytes(self.0.data).unwrap_or(&[])
    }
    /// The sender's address as text, if known.
    pub fn peer(&self) -> Option<&'a [u8]> {
        bytes(self.0.peer)
    }
    /// One of `SL_TRANSPORT_*`.
    pub fn transport(&self) -> u32 {
        self.0.transport
    }
    pub fn truncated(&self) -> bool {
        self.0.flags & SL_FRAME_TRUNCATED != 0
    }
    pub fn incomplete(&self) -> bool {
        self.0.flags & SL_FRAME_INCOMPLETE != 0
    }
    pub fn receive_time_ns(&self) -> i64 {
        self.0.receive_time_ns
    }
    /// What a [`crate::FrameDecoder`] reads of the frame.
    pub fn data_of(&self) -> FrameData<'a> {
        FrameData {
            data: self.data(),
            peer: self.peer(),
            receive_time_ns: self.receive_time_ns(),
            truncated: self.truncated(),
        }
    }
}

/// One frame as a [`crate::FrameDecoder`] reads it: plain values, so a decoder
/// can also be called on bytes that never came through the ABI (a benchmark, a
/// test, one decoder delegating to another).
#[derive(Debug, Clone, Copy)]
pub struct FrameData<'a> {
    pub data: &'a [u8],
    /// The sender's address as text, if known.
    pub peer: Option<&'a [u8]>,
    pub receive_time_ns: i64,
    /// The listener cut the frame at its size limit.
    pub truncated: bool,
}

/// The type of a field's value (the value itself is always text).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ValueKind {
    #[default]
    String,
    Int,
    Float,
    Bool,
    Json,
}

impl ValueKind {
    pub fn code(self) -> u32 {
        match self {
            ValueKind::String => SL_VALUE_STRING,
            ValueKind::Int => SL_VALUE_INT,
            ValueKind::Float => SL_VALUE_FLOAT,
            ValueKind::Bool => SL_VALUE_BOOL,
            ValueKind::Json => SL_VALUE_JSON,
        }
    }
    pub fn from_code(code: u32) -> ValueKind {
        match code {
            SL_VALUE_INT => ValueKind::Int,
            SL_VALUE_FLOAT => ValueKind::Float,
            SL_VALUE_BOOL => ValueKind::Bool,
            SL_VALUE_JSON => ValueKind::Json,
            _ => ValueKind::String,
        }
    }
}

/// An extra field of a record being built.
#[derive(Clone, Copy, Debug)]
pub struct Field<'a> {
    pub name: &'a str,
    pub value: &'a [u8],
    pub kind: ValueKind,
}

/// A record a decoder emits. Everything is borrowed; the host copies it on emit.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// The workspace table the record goes to.
    pub table: Table,
    /// `SL_RECORD_*` bits.
    pub flags: u32,
    pub facility: u8,
    pub severity: u8,
    pub event_time_ns: Option<i64>,
    pub receive_time_ns: i64,
    pub host_name: Option<&'a [u8]>,
    pub host_ip: Option<&'a [u8]>,
    pub process_name: Option<&'a [u8]>,
    pub proc_id: Option<&'a [u8]>,
    pub msg_id: Option<&'a [u8]>,
    pub structured_data: Option<&'a [u8]>,
    pub message: &'a [u8],
    pub fields: &'a [Field<'a>],
}

/// A Syslog-table record of a message without a PRI (`user.notice`), with
/// nothing else set.
impl Default for Record<'_> {
    fn default() -> Self {
        Record {
            table: Table::Syslog,
            flags: 0,
            facility: crate::NO_PRI_FACILITY,
            severity: crate::NO_PRI_SEVERITY,
            event_time_ns: None,
            receive_time_ns: 0,
            host_name: None,
            host_ip: None,
            process_name: None,
            proc_id: None,
            msg_id: None,
            structured_data: None,
            message: &[],
            fields: &[],
        }
    }
}

impl Record<'_> {
    pub(crate) fn to_abi(self, fields: &[SlField]) -> SlRecord {
        SlRecord {
            struct_size: std::mem::size_of::<SlRecord>() as u32,
            table: self.table.code(),
            flags: self.flags,
            facility: u32::from(self.facility),
            severity: u32::from(self.severity),
            event_time_ns: self.event_time_ns.unwrap_or(SL_TIME_NONE),
            receive_time_ns: self.receive_time_ns,
            host_name: SlStr::from_opt(self.host_name),
            host_ip: SlStr::from_opt(self.host_ip),
            process_name: SlStr::from_opt(self.process_name),
            proc_id: SlStr::from_opt(self.proc_id),
            msg_id: SlStr::from_opt(self.msg_id),
            structured_data: SlStr::from_opt(self.structured_data),
            message: SlStr::from_bytes(self.message),
            fields: if fields.is_empty() {
                std::ptr::null()
            } else {
                fields.as_ptr()
            },
            field_count: fields.len(),
        }
    }
}

/// A record shown to a filter: borrowed from the host for the duration of the call.
#[repr(transparent)]
pub struct RecordView<'a>(SlRecord, PhantomData<&'a [u8]>);

impl<'a> RecordView<'a> {
    /// # Safety
    /// `ptr` must point to `count` valid records that outlive `'a` (or be null when 0).
    pub(crate) unsafe fn slice(ptr: *const SlRecord, count: usize) -> &'a [RecordView<'a>] {
        if ptr.is_null() || count == 0 {
            return &[];
        }
        // SAFETY: transparent wrapper; the caller vouches for pointer and length.
        unsafe { std::slice::from_raw_parts(ptr.cast::<RecordView<'a>>(), count) }
    }
    /// The record's table (a code this ABI does not define reads as Syslog).
    pub fn table(&self) -> Table {
        Table::from_code_or_syslog(self.0.table)
    }
    pub fn flags(&self) -> u32 {
        self.0.flags
    }
    pub fn facility(&self) -> u8 {
        self.0.facility as u8
    }
    pub fn severity(&self) -> u8 {
        self.0.severity as u8
    }
    pub fn event_time_ns(&self) -> Option<i64> {
        (self.0.event_time_ns != SL_TIME_NONE).then_some(self.0.event_time_ns)
    }
    pub fn receive_time_ns(&self) -> i64 {
        self.0.receive_time_ns
    }
    pub fn host_name(&self) -> Option<&'a [u8]> {
        bytes(self.0.host_name)
    }
    pub fn host_ip(&self) -> Option<&'a [u8]> {
        bytes(self.0.host_ip)
    }
    pub fn process_name(&self) -> Option<&'a [u8]> {
        bytes(self.0.process_name)
    }
    pub fn proc_id(&self) -> Option<&'a [u8]> {
        bytes(self.0.proc_id)
    }
    pub fn msg_id(&self) -> Option<&'a [u8]> {
        bytes(self.0.msg_id)
    }
    pub fn structured_data(&self) -> Option<&'a [u8]> {
        bytes(self.0.structured_data)
    }
    pub fn message(&self) -> &'a [u8] {
        bytes(self.0.message).unwrap_or(&[])
    }
    /// The message as text, invalid UTF-8 replaced.
    pub fn message_text(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.message())
    }
    /// The extra fields: (name, value, kind).
    pub fn fields(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8], ValueKind)> + 'a {
        let list: &'a [SlField] = if self.0.fields.is_null() || self.0.field_count == 0 {
            &[]
        } else {
            // SAFETY: the host provides `field_count` fields valid for the call.
            unsafe { std::slice::from_raw_parts(self.0.fields, self.0.field_count) }
        };
        list.iter().map(|f| {
            (
                bytes(f.name).unwrap_or(&[]),
                bytes(f.value).unwrap_or(&[]),
                ValueKind::from_code(f.kind),
            )
        })
    }
    /// The value of extra field `name`.
    pub fn field(&self, name: &str) -> Option<&'a [u8]> {
        self.fields()
            .find(|(n, _, _)| *n == name.as_bytes())
            .map(|(_, v, _)| v)
    }
}

/// Edits a filter asks the host to apply after the call.
pub struct Edits<'a> {
    pub(crate) api: &'a SlEditApi,
}

impl Edits<'_> {
    /// Drops record `index`.
    pub fn drop_record(&mut self, index: usize) {
        // SAFETY: the host's callback and context, valid for the call.
        unsafe { (self.api.drop_record)(self.api.edit_ctx, index) };
    }
    /// Sets column or extra field `name` of record `index` to a string.
    pub fn set(&mut self, index: usize, name: &str, value: &[u8]) -> bool {
        self.set_kind(index, name, value, ValueKind::String)
    }
    /// Sets column or extra field `name` of record `index` with a value type.
    /// `false` when the host refuses (a column it derives itself).
    pub fn set_kind(&mut self, index: usize, name: &str, value: &[u8], kind: ValueKind) -> bool {
        // SAFETY: as above; the host copies the bytes before returning.
        let status = unsafe {
            (self.api.set_field)(
                self.api.edit_ctx,
                index,
                SlStr::from_bytes(name.as_bytes()),
                SlStr::from_bytes(value),
                kind.code(),
            )
        };
        status == SL_OK
    }
    /// Removes extra field `name` (or nulls an optional column).
    pub fn remove(&mut self, index: usize, name: &str) -> bool {
        // SAFETY: as above.
        let status = unsafe {
            (self.api.set_field)(
                self.api.edit_ctx,
                index,
                SlStr::from_bytes(name.as_bytes()),
                SlStr::NULL,
                SL_VALUE_STRING,
            )
        };
        status == SL_OK
    }
}

/// A batch handed to an output.
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a> {
    /// The workspace table of the records.
    pub table: Table,
    pub batch_id: u64,
    pub record_count: u32,
    /// 0 on the first offer, then the number of earlier offers.
    pub attempt: u32,
    /// JSON lines: one record object per line.
    pub data: &'a [u8],
}

impl<'a> Payload<'a> {
    pub(crate) fn from_abi(p: &'a SlPayload) -> Payload<'a> {
        Payload {
            table: Table::from_code_or_syslog(p.table),
            batch_id: p.batch_id,
            record_count: p.record_count,
            attempt: p.attempt,
            data: bytes(p.data).unwrap_or(&[]),
        }
    }
    /// The records, one JSON text each.
    pub fn records(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.data.split(|b| *b == b'\n').filter(|l| !l.is_empty())
    }
}
