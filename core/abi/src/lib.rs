//! The syslane plugin ABI: the only contract between the runtime and a plugin.
//!
//! Plugins are shared libraries written in any language that can export a C
//! function. Everything that crosses the boundary is defined here, as
//! `#[repr(C)]` types with no dependencies, and the C header
//! `include/syslane_plugin.h` is generated from this file (a test fails when
//! the checked-in header is stale).
//!
//! Rules that keep the ABI stable:
//! - Every struct starts with `struct_size` (or is a fixed-size view) and only
//!   ever grows at the end; a reader checks `struct_size` before touching a
//!   field that a later minor version added.
//! - Major versions break compatibility, minor versions only add.
//! - Whoever allocates frees: strings handed across are borrowed views valid
//!   for the duration of the call, unless a function says otherwise.
//! - Integers stand in for enums, so an unknown value is never undefined
//!   behaviour on either side.

#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_void};

/// First field of every descriptor: the bytes "SLPL" read as a little-endian u32.
pub const SL_MAGIC: u32 = 0x4C50_4C53;
/// Bumped when a change breaks existing plugins; the host refuses another major.
pub const SL_ABI_MAJOR: u16 = 1;
/// Bumped when fields or functions are added; the host refuses a newer minor.
pub const SL_ABI_MINOR: u16 = 2;
/// The exported symbol every plugin provides, of type `SlDescriptorFn`.
pub const SL_DESCRIPTOR_SYMBOL: &str = "syslane_plugin_descriptor";

/// Status returned by every plugin function.
pub type SlStatus = i32;
/// The call succeeded.
pub const SL_OK: SlStatus = 0;
/// Output only: the payload was not delivered; try again later (see `retry_after_ms`).
pub const SL_RETRY: SlStatus = 1;
/// Output only: the payload can never be delivered; the host dead-letters it.
pub const SL_REJECT: SlStatus = 2;
/// The plugin panicked (or crashed in a recoverable way); the host recreates the instance.
pub const SL_PANICKED: SlStatus = 3;
/// The call failed; the plugin explained why through `SlHostApi::set_error`.
pub const SL_ERROR: SlStatus = 4;

/// What a plugin does; selects the vtable type behind `SlPluginDescriptor::vtable`.
pub type SlKind = u32;
/// Decoder: turns frames (bytes from a listener) into records. Vtable: `SlInputVtable`.
pub const SL_KIND_INPUT: SlKind = 1;
/// Filter: sees batches of records and drops or edits them. Vtable: `SlFilterVtable`.
pub const SL_KIND_FILTER: SlKind = 2;
/// Output: sends serialized batches to their destination. Vtable: `SlOutputVtable`.
pub const SL_KIND_OUTPUT: SlKind = 3;

/// Capability bits in `SlPluginDescriptor::capabilities`. None are defined in 1.0;
/// hosts ignore bits they do not know.
pub const SL_CAP_NONE: u64 = 0;

/// Flags for `SlOutputVtable::check`: also try the network (tokens, endpoints).
pub const SL_CHECK_ONLINE: u32 = 1;

/// Log levels for `SlHostApi::log`.
pub const SL_LOG_ERROR: u32 = 1;
pub const SL_LOG_WARN: u32 = 2;
pub const SL_LOG_INFO: u32 = 3;
pub const SL_LOG_DEBUG: u32 = 4;

/// Transports in `SlFrame::transport`.
pub const SL_TRANSPORT_UDP: u32 = 1;
pub const SL_TRANSPORT_TCP: u32 = 2;
pub const SL_TRANSPORT_RELP: u32 = 3;
pub const SL_TRANSPORT_UNIX: u32 = 4;

/// `SlFrame::flags`: the message was longer than `max_message_size` and was cut.
pub const SL_FRAME_TRUNCATED: u32 = 1;
/// `SlFrame::flags`: the connection closed before the frame's end; the bytes are what arrived.
pub const SL_FRAME_INCOMPLETE: u32 = 2;

/// `SlRecord::table`: a row of the Log Analytics Syslog table.
pub const SL_TABLE_SYSLOG: u32 = 0;
/// `SlRecord::table`: a row of the CommonSecurityLog table (CEF).
pub const SL_TABLE_SECURITY: u32 = 1;

/// `SlRecord::facility` of a message without a valid PRI: `user` (RFC 3164
/// section 4.3.3 makes such a message `<13>`, `user.notice`). Every decoder uses
/// it, and so does the host for a frame it keeps whole because no record came of it.
pub const SL_NO_PRI_FACILITY: u32 = 1;
/// `SlRecord::severity` of a message without a valid PRI: `notice` (see
/// `SL_NO_PRI_FACILITY`).
pub const SL_NO_PRI_SEVERITY: u32 = 5;

/// `SlRecord::flags`: the decoder could not parse the message; `message` holds it whole.
pub const SL_RECORD_PARSE_FAILED: u32 = 1;
/// `SlRecord::flags`: the frame was truncated (copied from `SL_FRAME_TRUNCATED`).
pub const SL_RECORD_TRUNCATED: u32 = 2;
/// `SlRecord::flags`: the decoder did not recognise the message's format but kept it
/// (the `cef` decoder: a line neither CEF nor Cisco ASA/FTD, kept as Syslog, or an
/// ASA/FTD line of a covered id whose text has changed). The host counts such
/// records; a host that predates the flag ignores it, as it does any unknown bit.
pub const SL_RECORD_UNRECOGNISED: u32 = 4;

/// `SlRecord::event_time_ns` when the message carried no usable timestamp.
pub const SL_TIME_NONE: i64 = i64::MIN;

/// Value kinds of `SlField::kind` (and `SlEditApi::set_field`). The value is always text:
/// a decimal for INT, a JSON number for FLOAT, `true`/`false` for BOOL, a JSON text for JSON.
pub const SL_VALUE_STRING: u32 = 0;
pub const SL_VALUE_INT: u32 = 1;
pub const SL_VALUE_FLOAT: u32 = 2;
pub const SL_VALUE_BOOL: u32 = 3;
pub const SL_VALUE_JSON: u32 = 4;

/// A borrowed byte string: `len` bytes at `ptr`, not NUL-terminated.
/// `ptr == NULL` means "absent" (null); a non-null `ptr` with `len == 0` is the empty string.
/// Text is meant to be UTF-8; the host replaces invalid sequences when it serializes.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SlStr {
    pub ptr: *const u8,
    pub len: usize,
}

impl SlStr {
    /// The absent value.
    pub const NULL: SlStr = SlStr {
        ptr: core::ptr::null(),
        len: 0,
    };

    /// A view of `bytes`; valid as long as `bytes` is.
    pub const fn from_bytes(bytes: &[u8]) -> SlStr {
        SlStr {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
        }
    }

    /// A view of `value`, or the absent value for `None`.
    pub fn from_opt(value: Option<&[u8]>) -> SlStr {
        value.map_or(SlStr::NULL, SlStr::from_bytes)
    }

    /// Whether this is the absent value.
    pub fn is_null(&self) -> bool {
        self.ptr.is_null()
    }

    /// The bytes behind the view, or `None` when absent.
    ///
    /// # Safety
    /// `ptr` must be null or point to `len` readable bytes that stay valid and
    /// unchanged for the chosen lifetime `'a`.
    pub unsafe fn as_bytes<'a>(&self) -> Option<&'a [u8]> {
        if self.ptr.is_null() {
            None
        } else if self.len == 0 {
            Some(&[])
        } else {
            // SAFETY: the caller guarantees `ptr` points to `len` readable bytes for `'a`.
            Some(unsafe { core::slice::from_raw_parts(self.ptr, self.len) })
        }
    }
}

/// Writes a log line through the host's logger (`level` is one of `SL_LOG_*`).
pub type SlLogFn = unsafe extern "C" fn(host_ctx: *mut c_void, level: u32, message: SlStr);
/// Records why the current call fails (config error at create, reason for RETRY,
/// REJECT or ERROR). The host copies the text; the last call before returning wins.
pub type SlSetErrorFn = unsafe extern "C" fn(host_ctx: *mut c_void, message: SlStr);
/// Writes refused records to the dead-letter file (see `SlHostApi::dead_letter`).
pub type SlDeadLetterFn = unsafe extern "C" fn(
    host_ctx: *mut c_void,
    table: u32,
    record_count: u32,
    reason: SlStr,
    data: SlStr,
) -> SlStatus;
/// Checks an output's setup (see `SlOutputVtable::check`).
pub type SlCheckFn = unsafe extern "C" fn(instance: *mut c_void, flags: u32) -> SlStatus;

/// What the host offers a plugin instance. Passed to `create`; the pointer and
/// everything it points to stay valid until `destroy` returns.
#[repr(C)]
pub struct SlHostApi {
    pub struct_size: u32,
    pub abi_major: u16,
    pub abi_minor: u16,
    /// Opaque; pass it back to every host function.
    pub host_ctx: *mut c_void,
    pub log: SlLogFn,
    pub set_error: SlSetErrorFn,
    /// This host's name (the agent's `hostname` setting, else the system's).
    pub host_name: SlStr,
    /// The directory of the configuration file: resolve relative paths in config against it.
    pub config_dir: SlStr,
    /// The agent's state directory: a plugin may keep files below `state_dir/plugins/<name>/`.
    pub state_dir: SlStr,
    /// Since 1.1, for output instances (null otherwise): writes records the destination
    /// refused for good to the agent's dead-letter file, with the reason, and counts
    /// them. `data` is JSON lines, as in `SlPayload::data`. Lets an output that splits a
    /// payload settle part of it; check `struct_size` and null before calling.
    pub dead_letter: Option<
        unsafe extern "C" fn(
            host_ctx: *mut c_void,
            table: u32,
            record_count: u32,
            reason: SlStr,
            data: SlStr,
        ) -> SlStatus,
    >,
}

/// One message as a listener received it. Valid only for the duration of the `decode` call.
#[repr(C)]
pub struct SlFrame {
    /// The message bytes, framing removed.
    pub data: SlStr,
    /// The sender's address as text (`192.0.2.1`, `::1`), or null for unix sockets.
    pub peer: SlStr,
    /// One of `SL_TRANSPORT_*`.
    pub transport: u32,
    /// `SL_FRAME_*` bits.
    pub flags: u32,
    /// When the bytes were read, nanoseconds since the Unix epoch (UTC).
    pub receive_time_ns: i64,
}

/// A named extra column of a record (RFC 5424 extras, CEF columns, enrichments).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SlField {
    pub name: SlStr,
    pub value: SlStr,
    /// One of `SL_VALUE_*`.
    pub kind: u32,
}

/// A record: the columns of the Log Analytics Syslog table, plus extra fields.
///
/// Decoders build one and hand it to the host's emit callback, which copies it.
/// Filters receive arrays of them that point into the host's buffers and are valid
/// only for the duration of the `filter` call. Columns the host derives
/// (TimeGenerated, Computer, SourceSystem, CollectorHostName) are not here.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SlRecord {
    pub struct_size: u32,
    /// One of `SL_TABLE_*`.
    pub table: u32,
    /// `SL_RECORD_*` bits.
    pub flags: u32,
    /// Syslog facility code 0..=23 (kern .. local7).
    pub facility: u32,
    /// Syslog severity code 0..=7 (emerg .. debug).
    pub severity: u32,
    /// The message's own timestamp, ns since the epoch (UTC), or `SL_TIME_NONE`.
    pub event_time_ns: i64,
    /// When the frame was received, ns since the epoch (UTC).
    pub receive_time_ns: i64,
    /// HOSTNAME from the message, or null (the host then uses the sender's).
    pub host_name: SlStr,
    /// The sender's address, or null (the host fills it from the frame).
    pub host_ip: SlStr,
    /// APP-NAME / TAG program.
    pub process_name: SlStr,
    /// PROCID / TAG pid as text; the host emits ProcessID as an integer when it is one.
    pub proc_id: SlStr,
    /// RFC 5424 MSGID.
    pub msg_id: SlStr,
    /// RFC 5424 STRUCTURED-DATA as it appeared on the wire.
    pub structured_data: SlStr,
    /// The message text (SyslogMessage).
    pub message: SlStr,
    /// `field_count` extra fields, or null when there are none.
    pub fields: *const SlField,
    pub field_count: usize,
}

/// The host's emit callback for decoders: copies `record` (produced from frame
/// `frame_index` of the current call) into the host's batch. Returns `SL_OK`, or
/// `SL_ERROR` when the record is malformed (it is then counted and dropped).
pub type SlEmitFn = unsafe extern "C" fn(
    emit_ctx: *mut c_void,
    frame_index: usize,
    record: *const SlRecord,
) -> SlStatus;

/// Edits a filter asks for; the host applies them after `filter` returns, so views
/// stay valid for the whole call.
#[repr(C)]
pub struct SlEditApi {
    pub struct_size: u32,
    pub edit_ctx: *mut c_void,
    /// Drops record `index` of the current batch.
    pub drop_record: unsafe extern "C" fn(edit_ctx: *mut c_void, index: usize) -> SlStatus,
    /// Sets a column of record `index`. `name` is a column (HostName, HostIP, Facility,
    /// SeverityLevel, ProcessName, ProcessID, MsgId, StructuredData, SyslogMessage) or any
    /// other name for an extra field; a null `value` removes it. Facility and SeverityLevel
    /// take names (`auth`, `warning`). Returns `SL_ERROR` for a name the host derives itself.
    pub set_field: unsafe extern "C" fn(
        edit_ctx: *mut c_void,
        index: usize,
        name: SlStr,
        value: SlStr,
        kind: u32,
    ) -> SlStatus,
}

/// A serialized batch for an output.
///
/// `data` holds `record_count` records as JSON objects, each followed by `\n`
/// (JSON lines), with the columns of the table named by `table`. The bytes stay
/// valid until the plugin calls `release(release_ctx)`, which it must do exactly
/// once, from any thread, during or after `send`.
#[repr(C)]
pub struct SlPayload {
    pub struct_size: u32,
    /// One of `SL_TABLE_*`: which stream the records belong to.
    pub table: u32,
    /// Unique and increasing per agent run; the same batch keeps its id across retries.
    pub batch_id: u64,
    pub record_count: u32,
    /// How many times this batch was offered before (0 on the first try).
    pub attempt: u32,
    pub data: SlStr,
    pub release: unsafe extern "C" fn(release_ctx: *mut c_void),
    pub release_ctx: *mut c_void,
}

/// Creates an instance from its JSON config (an object; `{}` when empty). On failure
/// returns `SL_ERROR` after calling `set_error` with a message for the operator.
pub type SlCreateFn = unsafe extern "C" fn(
    host: *const SlHostApi,
    config_json: SlStr,
    out_instance: *mut *mut c_void,
) -> SlStatus;
/// Destroys an instance. Never called twice, never concurrently with another call on it.
pub type SlDestroyFn = unsafe extern "C" fn(instance: *mut c_void);

/// Decoder functions (`SL_KIND_INPUT`).
#[repr(C)]
pub struct SlInputVtable {
    pub struct_size: u32,
    pub create: SlCreateFn,
    pub destroy: SlDestroyFn,
    /// Decodes `count` frames, calling `emit` for every record. A frame for which
    /// nothing is emitted is kept by the host as a parse failure, never lost.
    pub decode: unsafe extern "C" fn(
        instance: *mut c_void,
        frames: *const SlFrame,
        count: usize,
        emit: SlEmitFn,
        emit_ctx: *mut c_void,
    ) -> SlStatus,
}

/// Filter functions (`SL_KIND_FILTER`).
#[repr(C)]
pub struct SlFilterVtable {
    pub struct_size: u32,
    pub create: SlCreateFn,
    pub destroy: SlDestroyFn,
    /// Looks at `count` records and asks for edits through `edits`. Records that
    /// earlier filters dropped are not shown.
    pub filter: unsafe extern "C" fn(
        instance: *mut c_void,
        records: *const SlRecord,
        count: usize,
        edits: *const SlEditApi,
    ) -> SlStatus,
}

/// Output functions (`SL_KIND_OUTPUT`).
#[repr(C)]
pub struct SlOutputVtable {
    pub struct_size: u32,
    pub create: SlCreateFn,
    pub destroy: SlDestroyFn,
    /// Sends a payload. Returns `SL_OK` (delivered), `SL_RETRY` (set `*retry_after_ms`
    /// to a delay, or leave 0 for the host's backoff), or `SL_REJECT` (never deliverable);
    /// explain RETRY and REJECT through `set_error`.
    pub send: unsafe extern "C" fn(
        instance: *mut c_void,
        payload: *const SlPayload,
        retry_after_ms: *mut u64,
    ) -> SlStatus,
    /// Since 1.1, may be null: checks the output's setup for `syslane check-config`
    /// without delivering records (credentials, files, and with `SL_CHECK_ONLINE` the
    /// network). Report each step through `log`; on failure call `set_error` and
    /// return `SL_ERROR`.
    pub check: Option<unsafe extern "C" fn(instance: *mut c_void, flags: u32) -> SlStatus>,
    /// Since 1.2, may be null: how this instance wants its batches cut. The host
    /// calls it once after `create`, with `prefs` zeroed but for `struct_size`, and
    /// reads what the plugin set.
    pub preferences:
        Option<unsafe extern "C" fn(instance: *mut c_void, prefs: *mut SlOutputPreferences)>,
}

/// What an output asks of the batches it is offered (ABI 1.2). Zero means "no
/// preference" for every field.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SlOutputPreferences {
    /// `sizeof(SlOutputPreferences)` as the host knows it.
    pub struct_size: u32,
    /// The batch size in bytes (of JSON lines) the output handles best, such as
    /// what its concurrent requests carry together; used when the configuration
    /// does not set `batch_max_bytes`.
    pub batch_bytes: u64,
    /// How long a batch that is not full may wait for more records, counted from
    /// the previous batch offered: it bounds how often a quiet host calls `send`.
    /// The host sends at once when it drains or shuts down.
    pub flush_interval_ms: u64,
}

/// What `syslane_plugin_descriptor()` returns: static data describing the plugin.
#[repr(C)]
pub struct SlPluginDescriptor {
    /// `SL_MAGIC`.
    pub magic: u32,
    /// `SL_ABI_MAJOR` of the header the plugin was built against.
    pub abi_major: u16,
    /// `SL_ABI_MINOR` of the header the plugin was built against.
    pub abi_minor: u16,
    /// `sizeof(SlPluginDescriptor)` as the plugin knows it.
    pub struct_size: u32,
    /// One of `SL_KIND_*`.
    pub kind: SlKind,
    /// NUL-terminated plugin name, as configs refer to it (`syslog`, `select`).
    pub name: *const c_char,
    /// NUL-terminated plugin version (semver).
    pub version: *const c_char,
    /// NUL-terminated one-line description.
    pub description: *const c_char,
    /// `SL_CAP_*` bits.
    pub capabilities: u64,
    /// Points to the `SlInputVtable`, `SlFilterVtable` or `SlOutputVtable` of `kind`.
    pub vtable: *const c_void,
}

/// The type of the exported `syslane_plugin_descriptor` symbol.
pub type SlDescriptorFn = unsafe extern "C" fn() -> *const SlPluginDescriptor;

// SAFETY: descriptors and vtables are immutable static data; the raw pointers in them
// point to other immutable statics (strings, vtables), so sharing them across threads
// is sound.
unsafe impl Sync for SlPluginDescriptor {}
// SAFETY: as above; vtables hold only function pointers.
unsafe impl Sync for SlInputVtable {}
// SAFETY: as above.
unsafe impl Sync for SlFilterVtable {}
// SAFETY: as above.
unsafe impl Sync for SlOutputVtable {}

/// cbindgen:ignore
pub mod min_size;

/// cbindgen:ignore
pub mod typed;
pub use typed::Table;

#[cfg(test)]
mod tests;
