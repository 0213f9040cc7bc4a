//! Decoder and filter instances: the ABI's views built over borrowed bytes, and
//! the `extern "C"` callbacks that hand emitted records and filter edits back as
//! safe values. What the host makes of them (columns, HostIP, the record kept
//! whole when a decoder emits nothing) is the pipeline's business.
//!
//! Views handed to a plugin point into buffers borrowed for the whole call, so
//! nothing they point to moves or changes while the plugin runs.

use super::instance::Instance;
use super::{HostInfo, LoadedPlugin, PluginError};
use std::ffi::c_void;
use std::marker::PhantomData;
use std::sync::Arc;
use syslane_abi::*;

/// A frame offered to a decoder.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameIn<'a> {
    pub data: &'a [u8],
    /// The sender's address as text.
    pub peer: &'a [u8],
    pub transport: u32,
    pub flags: u32,
    pub receive_time_ns: i64,
}

fn sl(bytes: Option<&[u8]>) -> SlStr {
    bytes.map_or(SlStr::NULL, SlStr::from_bytes)
}

/// `Columns` and its two conversions, generated from the one list of text columns.
macro_rules! define_columns {
    ($($(#[$doc:meta])* $field:ident $variant:ident $name:literal,)*) => {
        /// A record's columns over borrowed bytes: what a decoder emitted, or what is
        /// offered to a filter. [`Columns::from_abi`] and [`Columns::to_abi`] are the
        /// two directions of the one mapping to `SlRecord`.
        #[derive(Debug, Clone, Copy, Default)]
        pub(crate) struct Columns<'a> {
            pub table: Table,
            pub flags: u32,
            pub facility: u8,
            pub severity: u8,
            pub event_time_ns: i64,
            /// 0 when a decoder left it to the host.
            pub receive_time_ns: i64,
            $($(#[$doc])* pub $field: Option<&'a [u8]>,)*
        }

        impl<'a> Columns<'a> {
            /// Reads a record a plugin passed; `None` for one that breaks the ABI. A
            /// table code this ABI does not define is a Syslog record.
            ///
            /// # Safety
            /// `r`'s views must be valid for `'a`.
            unsafe fn from_abi(r: &'a SlRecord) -> Option<Columns<'a>> {
                if r.struct_size < min_size::RECORD || r.facility > 23 || r.severity > 7 {
                    return None;
                }
                Some(Columns {
                    table: Table::from_code_or_syslog(r.table),
                    flags: r.flags,
                    facility: r.facility as u8,
                    severity: r.severity as u8,
                    event_time_ns: r.event_time_ns,
                    receive_time_ns: r.receive_time_ns,
                    // SAFETY: the record's views are valid for `'a` (caller's contract).
                    $($field: unsafe { r.$field.as_bytes() },)*
                })
            }

            /// The ABI view of these columns, without fields.
            fn to_abi(self) -> SlRecord {
                SlRecord {
                    struct_size: min_size::RECORD,
                    table: self.table.code(),
                    flags: self.flags,
                    facility: u32::from(self.facility),
                    severity: u32::from(self.severity),
                    event_time_ns: self.event_time_ns,
                    receive_time_ns: self.receive_time_ns,
                    $($field: sl(self.$field),)*
                    fields: std::ptr::null(),
                    field_count: 0,
                }
            }
        }
    };
}
crate::columns::text_columns!(define_columns);

/// A record a decoder emitted, checked against the ABI; valid during the callback.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Emitted<'a> {
    pub columns: Columns<'a>,
    fields: &'a [SlField],
}

impl<'a> Emitted<'a> {
    /// Checks a record a decoder passed; `None` for one that breaks the ABI.
    ///
    /// # Safety
    /// `r`'s views and fields must be valid for `'a`.
    unsafe fn from_abi(r: &'a SlRecord) -> Option<Emitted<'a>> {
        if r.field_count > 4096 {
            return None;
        }
        // SAFETY: `r`'s views are valid for `'a` (caller's contract).
        let columns = unsafe { Columns::from_abi(r) }?;
        let fields: &[SlField] = if r.fields.is_null() || r.field_count == 0 {
            &[]
        } else {
            // SAFETY: the decoder passes `field_count` fields valid for the call.
            unsafe { std::slice::from_raw_parts(r.fields, r.field_count) }
        };
        Some(Emitted { columns, fields })
    }

    /// The record's extra fields: name, value (empty when null) and `SL_VALUE_*` kind.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8], u32)> + 'a {
        self.fields.iter().map(|f| {
            // SAFETY: `from_abi` was given fields whose views are valid for `'a`.
            let (name, value) = unsafe { (f.name.as_bytes(), f.value.as_bytes()) };
            (name.unwrap_or(b""), value.unwrap_or(b""), f.kind)
        })
    }
}

/// What a decoder or filter answered for one call. The host matches it whole:
/// a status the ABI does not define for the call is a variant too, never a panic.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallOutcome {
    /// `SL_OK`.
    #[default]
    Done,
    /// `SL_ERROR`: the plugin failed the call (and said why through `set_error`).
    Failed,
    /// `SL_PANICKED`: the instance was destroyed; it is created again before the next call.
    Panicked,
    /// The instance could not be created again after a panic: the plugin was not called.
    NoInstance,
    /// A status decoders and filters do not answer: `SL_RETRY` or `SL_REJECT`
    /// (an output's), or a code the ABI does not define (a foreign or newer plugin).
    Unexpected(SlStatus),
}

impl CallOutcome {
    /// The outcome of a call that returned `status`.
    pub(crate) fn from_status(status: SlStatus) -> CallOutcome {
        match status {
            SL_OK => CallOutcome::Done,
            SL_ERROR => CallOutcome::Failed,
            SL_PANICKED => CallOutcome::Panicked,
            other => CallOutcome::Unexpected(other),
        }
    }
}

impl std::fmt::Display for CallOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallOutcome::Done => f.write_str("done"),
            CallOutcome::Failed => f.write_str("the plugin failed the call (SL_ERROR)"),
            CallOutcome::Panicked => {
                f.write_str("the plugin panicked (SL_PANICKED); the instance is recreated")
            }
            CallOutcome::NoInstance => {
                f.write_str("the plugin instance could not be created again; not called")
            }
            CallOutcome::Unexpected(status @ (SL_RETRY | SL_REJECT)) => write!(
                f,
                "the plugin answered status {status}, an output's SL_RETRY or SL_REJECT, which a decoder or filter may not answer"
            ),
            CallOutcome::Unexpected(status) => write!(
                f,
                "the plugin answered status {status}, which syslane plugin ABI {SL_ABI_MAJOR}.{SL_ABI_MINOR} does not define"
            ),
        }
    }
}

/// What a decode call did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct DecodeCall {
    pub outcome: CallOutcome,
    /// Records the decoder emitted that the ABI or the host refused.
    pub malformed: u64,
}

struct EmitCtx<'f, F> {
    frames: usize,
    emit: &'f mut F,
    malformed: u64,
}

unsafe extern "C" fn emit_record<F>(
    ctx: *mut c_void,
    frame_index: usize,
    record: *const SlRecord,
) -> SlStatus
where
    F: FnMut(usize, &Emitted<'_>) -> bool,
{
    // SAFETY: `ctx` is the EmitCtx<F> of the decode call in progress.
    let ctx = unsafe { &mut *ctx.cast::<EmitCtx<'_, F>>() };
    // SAFETY: the decoder passes a record valid for this call, or null; so are its views.
    let emitted = unsafe { record.as_ref().and_then(|r| Emitted::from_abi(r)) };
    match emitted {
        Some(r) if frame_index < ctx.frames && (ctx.emit)(frame_index, &r) => SL_OK,
        _ => {
            ctx.malformed += 1;
            SL_ERROR
        }
    }
}

/// One live decoder (input) instance. Used by one thread at a time.
pub(crate) struct DecoderInstance(Instance);

/// Reused views for decode calls, kept by each worker.
#[derive(Default)]
pub(crate) struct FrameViews(Vec<SlFrame>);

impl DecoderInstance {
    /// Creates a decoder from `config_json`.
    pub(crate) fn create(
        plugin: &'static LoadedPlugin,
        config_json: &str,
        info: Arc<HostInfo>,
    ) -> Result<DecoderInstance, PluginError> {
        Instance::create(plugin, SL_KIND_INPUT, config_json, info, None).map(DecoderInstance)
    }

    /// Offers `frames` in one call; each record the decoder emits goes to `emit`
    /// with its frame's index, and is refused (counted as malformed) when `emit`
    /// returns `false`.
    pub(crate) fn decode<'a, F>(
        &mut self,
        views: &mut FrameViews,
        frames: impl IntoIterator<Item = FrameIn<'a>>,
        mut emit: F,
    ) -> DecodeCall
    where
        F: FnMut(usize, &Emitted<'_>) -> bool,
    {
        let views = &mut views.0;
        views.clear();
        views.extend(frames.into_iter().map(|f| SlFrame {
            data: SlStr::from_bytes(f.data),
            peer: SlStr::from_bytes(f.peer),
            transport: f.transport,
            flags: f.flags,
            receive_time_ns: f.receive_time_ns,
        }));
        if !self.0.recover(SL_OK) {
            return DecodeCall {
                outcome: CallOutcome::NoInstance,
                malformed: 0,
            };
        }
        let mut ctx = EmitCtx {
            frames: views.len(),
            emit: &mut emit,
            malformed: 0,
        };
        // SAFETY: `Instance::create` checked this is an input plugin, whose vtable the
        // loader checked is at least the 1.0 input vtable.
        let vt = unsafe { &*self.0.plugin().vtable.cast::<SlInputVtable>() };
        // SAFETY: the frame views point into bytes borrowed for `'a`, which outlives
        // the call; `ctx` is the EmitCtx<F> `emit_record::<F>` expects and outlives it.
        let status = unsafe {
            (vt.decode)(
                self.0.ptr(),
                views.as_ptr(),
                views.len(),
                emit_record::<F>,
                (&mut ctx as *mut EmitCtx<'_, F>).cast(),
            )
        };
        let malformed = ctx.malformed;
        self.0.recover(status);
        DecodeCall {
            outcome: CallOutcome::from_status(status),
            malformed,
        }
    }
}

/// Reused views for filter calls, kept by each worker.
#[derive(Default)]
pub(crate) struct RecordViews {
    records: Vec<SlRecord>,
    fields: Vec<SlField>,
    /// Each record's first field in `fields`.
    first_field: Vec<usize>,
}

impl RecordViews {
    /// Starts the views of one call over bytes borrowed for `'a`.
    pub(crate) fn begin<'a>(&mut self) -> ViewBuilder<'_, 'a> {
        self.records.clear();
        self.fields.clear();
        self.first_field.clear();
        ViewBuilder {
            views: self,
            _bytes: PhantomData,
        }
    }
}

/// The records of one filter call, built over bytes borrowed for `'a`.
pub(crate) struct ViewBuilder<'v, 'a> {
    views: &'v mut RecordViews,
    _bytes: PhantomData<&'a [u8]>,
}

impl<'a> ViewBuilder<'_, 'a> {
    /// Adds a record; its fields follow with [`ViewBuilder::field`].
    pub(crate) fn record(&mut self, r: Columns<'a>) {
        self.views.first_field.push(self.views.fields.len());
        self.views.records.push(r.to_abi());
    }

    /// Adds an extra field to the last record.
    pub(crate) fn field(&mut self, name: &'a [u8], value: &'a [u8], kind: u32) {
        if self.views.records.is_empty() {
            return;
        }
        self.views.fields.push(SlField {
            name: SlStr::from_bytes(name),
            value: SlStr::from_bytes(value),
            kind,
        });
    }

    /// Points each record at its fields, now that they no longer move.
    fn finish(&mut self) -> &[SlRecord] {
        let v = &mut *self.views;
        let ends = v
            .first_field
            .iter()
            .skip(1)
            .copied()
            .chain([v.fields.len()]);
        for ((r, &start), end) in v.records.iter_mut().zip(&v.first_field).zip(ends) {
            r.field_count = end - start;
            r.fields = if end == start {
                std::ptr::null()
            } else {
                v.fields[start..end].as_ptr()
            };
        }
        &v.records
    }
}

/// An edit a filter asked for, by the index of the record in its call.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Edit<'e> {
    Drop(usize),
    /// Set a column or an extra field by name; `None` sets it to null.
    Set {
        index: usize,
        name: &'e [u8],
        value: Option<&'e [u8]>,
        kind: u32,
    },
}

struct EditCtx<'f, F> {
    count: usize,
    edit: &'f mut F,
}

unsafe extern "C" fn drop_record<F>(ctx: *mut c_void, index: usize) -> SlStatus
where
    F: FnMut(Edit<'_>) -> bool,
{
    // SAFETY: `ctx` is the EditCtx<F> of the filter call in progress.
    let ctx = unsafe { &mut *ctx.cast::<EditCtx<'_, F>>() };
    if index < ctx.count && (ctx.edit)(Edit::Drop(index)) {
        SL_OK
    } else {
        SL_ERROR
    }
}

unsafe extern "C" fn set_field<F>(
    ctx: *mut c_void,
    index: usize,
    name: SlStr,
    value: SlStr,
    kind: u32,
) -> SlStatus
where
    F: FnMut(Edit<'_>) -> bool,
{
    // SAFETY: `ctx` is the EditCtx<F> of the filter call in progress; the views are
    // valid for this call.
    let (ctx, name, value) = unsafe {
        (
            &mut *ctx.cast::<EditCtx<'_, F>>(),
            name.as_bytes().unwrap_or(b""),
            value.as_bytes(),
        )
    };
    let edit = Edit::Set {
        index,
        name,
        value,
        kind,
    };
    if index < ctx.count && kind <= SL_VALUE_JSON && (ctx.edit)(edit) {
        SL_OK
    } else {
        SL_ERROR
    }
}

/// One live filter instance. Used by one thread at a time.
pub(crate) struct FilterInstance(Instance);

impl FilterInstance {
    /// Creates a filter from `config_json`.
    pub(crate) fn create(
        plugin: &'static LoadedPlugin,
        config_json: &str,
        info: Arc<HostInfo>,
    ) -> Result<FilterInstance, PluginError> {
        Instance::create(plugin, SL_KIND_FILTER, config_json, info, None).map(FilterInstance)
    }

    /// Offers the records built in `views` in one call; each edit the filter asks
    /// for goes to `edit`, and is refused when `edit` returns `false`. Edits are
    /// the caller's to apply once the call returns (the views borrow the records).
    pub(crate) fn filter<F>(&mut self, mut views: ViewBuilder<'_, '_>, mut edit: F) -> CallOutcome
    where
        F: FnMut(Edit<'_>) -> bool,
    {
        if !self.0.recover(SL_OK) {
            return CallOutcome::NoInstance;
        }
        let records = views.finish();
        let mut ctx = EditCtx {
            count: records.len(),
            edit: &mut edit,
        };
        let api = SlEditApi {
            struct_size: min_size::EDIT_API,
            edit_ctx: (&mut ctx as *mut EditCtx<'_, F>).cast(),
            drop_record: drop_record::<F>,
            set_field: set_field::<F>,
        };
        // SAFETY: `Instance::create` checked this is a filter plugin, whose vtable the
        // loader checked is at least the 1.0 filter vtable.
        let vt = unsafe { &*self.0.plugin().vtable.cast::<SlFilterVtable>() };
        // SAFETY: the record views point into bytes the builder borrows for the whole
        // call and into `views`, untouched until it returns; `api.edit_ctx` is the
        // EditCtx<F> the callbacks expect.
        let status = unsafe { (vt.filter)(self.0.ptr(), records.as_ptr(), records.len(), &api) };
        self.0.recover(status);
        CallOutcome::from_status(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_statuses_become_their_outcomes() {
        assert_eq!(CallOutcome::from_status(SL_OK), CallOutcome::Done);
        assert_eq!(CallOutcome::from_status(SL_ERROR), CallOutcome::Failed);
        assert_eq!(CallOutcome::from_status(SL_PANICKED), CallOutcome::Panicked);
    }

    #[test]
    fn output_statuses_and_unknown_codes_are_unexpected() {
        for status in [SL_RETRY, SL_REJECT, 5, 99, -1, i32::MIN, i32::MAX] {
            assert_eq!(
                CallOutcome::from_status(status),
                CallOutcome::Unexpected(status)
            );
        }
        let text = CallOutcome::from_status(77).to_string();
        assert!(
            text.contains("status 77") && text.contains("does not define"),
            "{text}"
        );
        let text = CallOutcome::from_status(SL_REJECT).to_string();
        assert!(
            text.contains("SL_REJECT") && text.contains("decoder or filter"),
            "{text}"
        );
    }

    #[test]
    fn tables_convert_at_the_record_view() {
        let mut r = Columns {
            table: Table::Security,
            ..Columns::default()
        }
        .to_abi();
        assert_eq!(r.table, SL_TABLE_SECURITY);
        // SAFETY: every view of `r` is null.
        let back = unsafe { Columns::from_abi(&r) }.map(|c| c.table);
        assert_eq!(back, Some(Table::Security));
        r.table = 42;
        // SAFETY: as above.
        let unknown = unsafe { Columns::from_abi(&r) }.map(|c| c.table);
        assert_eq!(
            unknown,
            Some(Table::Syslog),
            "a code the ABI lacks is a Syslog record"
        );
    }
}
