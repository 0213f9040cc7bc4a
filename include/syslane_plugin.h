#ifndef SYSLANE_PLUGIN_H
#define SYSLANE_PLUGIN_H
/*
 * syslane plugin ABI.
 *
 * A plugin is a shared library that exports one function:
 *
 *     const SlPluginDescriptor *syslane_plugin_descriptor(void);
 *
 * returning a pointer to static data. The host (the syslane agent) checks
 * magic == SL_MAGIC, abi_major == SL_ABI_MAJOR, abi_minor <= its own minor and
 * struct_size >= the size it knows, then calls the vtable of the plugin's kind:
 *
 *   input  (decoder)  frames -> records, through the host's emit callback
 *   filter            batches of record views -> drop / set_field edits
 *   output            serialized batches (JSON lines) -> OK, RETRY or REJECT
 *
 * Every kind has create(host, config_json, &instance) and destroy(instance).
 * The host never calls one instance from two threads at once, and may create
 * several instances of one plugin (one per pipeline worker).
 * Memory never crosses allocators: whoever allocates frees. Views (SlStr,
 * SlRecord, SlFrame) are borrowed and valid only during the call that hands
 * them out; copy what you keep. A plugin is never unloaded.
 * A function that fails returns SL_ERROR after calling host->set_error with a
 * sentence for the operator. Return SL_PANICKED only after an internal crash
 * you caught: the host destroys the instance and creates a new one.
 */


/* Generated from core/abi/src/lib.rs by `SYSLANE_BLESS=1 cargo test -p syslane-abi`. Do not edit by hand. */

#include <stddef.h>
#include <stdint.h>

// First field of every descriptor: the bytes "SLPL" read as a little-endian u32.
#define SL_MAGIC 1280330835

// Bumped when a change breaks existing plugins; the host refuses another major.
#define SL_ABI_MAJOR 1

// Bumped when fields or functions are added; the host refuses a newer minor.
#define SL_ABI_MINOR 2

// Capability bits in `SlPluginDescriptor::capabilities`. None are defined in 1.0;
// hosts ignore bits they do not know.
#define SL_CAP_NONE 0

// Flags for `SlOutputVtable::check`: also try the network (tokens, endpoints).
#define SL_CHECK_ONLINE 1

// Log levels for `SlHostApi::log`.
#define SL_LOG_ERROR 1

#define SL_LOG_WARN 2

#define SL_LOG_INFO 3

#define SL_LOG_DEBUG 4

// Transports in `SlFrame::transport`.
#define SL_TRANSPORT_UDP 1

#define SL_TRANSPORT_TCP 2

#define SL_TRANSPORT_RELP 3

#define SL_TRANSPORT_UNIX 4

// `SlFrame::flags`: the message was longer than `max_message_size` and was cut.
#define SL_FRAME_TRUNCATED 1

// `SlFrame::flags`: the connection closed before the frame's end; the bytes are what arrived.
#define SL_FRAME_INCOMPLETE 2

// `SlRecord::table`: a row of the Log Analytics Syslog table.
#define SL_TABLE_SYSLOG 0

// `SlRecord::table`: a row of the CommonSecurityLog table (CEF).
#define SL_TABLE_SECURITY 1

// `SlRecord::facility` of a message without a valid PRI: `user` (RFC 3164
// section 4.3.3 makes such a message `<13>`, `user.notice`). Every decoder uses
// it, and so does the host for a frame it keeps whole because no record came of it.
#define SL_NO_PRI_FACILITY 1

// `SlRecord::severity` of a message without a valid PRI: `notice` (see
// `SL_NO_PRI_FACILITY`).
#define SL_NO_PRI_SEVERITY 5

// `SlRecord::flags`: the decoder could not parse the message; `message` holds it whole.
#define SL_RECORD_PARSE_FAILED 1

// `SlRecord::flags`: the frame was truncated (copied from `SL_FRAME_TRUNCATED`).
#define SL_RECORD_TRUNCATED 2

// `SlRecord::flags`: the decoder did not recognise the message's format but kept it
// (the `cef` decoder: a line neither CEF nor Cisco ASA/FTD, kept as Syslog, or an
// ASA/FTD line of a covered id whose text has changed). The host counts such
// records; a host that predates the flag ignores it, as it does any unknown bit.
#define SL_RECORD_UNRECOGNISED 4

// `SlRecord::event_time_ns` when the message carried no usable timestamp.
#define SL_TIME_NONE INT64_MIN

// Value kinds of `SlField::kind` (and `SlEditApi::set_field`). The value is always text:
// a decimal for INT, a JSON number for FLOAT, `true`/`false` for BOOL, a JSON text for JSON.
#define SL_VALUE_STRING 0

#define SL_VALUE_INT 1

#define SL_VALUE_FLOAT 2

#define SL_VALUE_BOOL 3

#define SL_VALUE_JSON 4

// Status returned by every plugin function.
typedef int32_t SlStatus;

// What a plugin does; selects the vtable type behind `SlPluginDescriptor::vtable`.
typedef uint32_t SlKind;

// What `syslane_plugin_descriptor()` returns: static data describing the plugin.
typedef struct {
  // `SL_MAGIC`.
  uint32_t magic;
  // `SL_ABI_MAJOR` of the header the plugin was built against.
  uint16_t abi_major;
  // `SL_ABI_MINOR` of the header the plugin was built against.
  uint16_t abi_minor;
  // `sizeof(SlPluginDescriptor)` as the plugin knows it.
  uint32_t struct_size;
  // One of `SL_KIND_*`.
  SlKind kind;
  // NUL-terminated plugin name, as configs refer to it (`syslog`, `select`).
  const char *name;
  // NUL-terminated plugin version (semver).
  const char *version;
  // NUL-terminated one-line description.
  const char *description;
  // `SL_CAP_*` bits.
  uint64_t capabilities;
  // Points to the `SlInputVtable`, `SlFilterVtable` or `SlOutputVtable` of `kind`.
  const void *vtable;
} SlPluginDescriptor;

// A borrowed byte string: `len` bytes at `ptr`, not NUL-terminated.
// `ptr == NULL` means "absent" (null); a non-null `ptr` with `len == 0` is the empty string.
// Text is meant to be UTF-8; the host replaces invalid sequences when it serializes.
typedef struct {
  const uint8_t *ptr;
  size_t len;
} SlStr;

// Writes a log line through the host's logger (`level` is one of `SL_LOG_*`).
typedef void (*SlLogFn)(void *host_ctx, uint32_t level, SlStr message);

// Records why the current call fails (config error at create, reason for RETRY,
// REJECT or ERROR). The host copies the text; the last call before returning wins.
typedef void (*SlSetErrorFn)(void *host_ctx, SlStr message);

// What the host offers a plugin instance. Passed to `create`; the pointer and
// everything it points to stay valid until `destroy` returns.
typedef struct {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  // Opaque; pass it back to every host function.
  void *host_ctx;
  SlLogFn log;
  SlSetErrorFn set_error;
  // This host's name (the agent's `hostname` setting, else the system's).
  SlStr host_name;
  // The directory of the configuration file: resolve relative paths in config against it.
  SlStr config_dir;
  // The agent's state directory: a plugin may keep files below `state_dir/plugins/<name>/`.
  SlStr state_dir;
  // Since 1.1, for output instances (null otherwise): writes records the destination
  // refused for good to the agent's dead-letter file, with the reason, and counts
  // them. `data` is JSON lines, as in `SlPayload::data`. Lets an output that splits a
  // payload settle part of it; check `struct_size` and null before calling.
  SlStatus (*dead_letter)(void *host_ctx,
                          uint32_t table,
                          uint32_t record_count,
                          SlStr reason,
                          SlStr data);
} SlHostApi;

// Creates an instance from its JSON config (an object; `{}` when empty). On failure
// returns `SL_ERROR` after calling `set_error` with a message for the operator.
typedef SlStatus (*SlCreateFn)(const SlHostApi *host, SlStr config_json, void **out_instance);

// Destroys an instance. Never called twice, never concurrently with another call on it.
typedef void (*SlDestroyFn)(void *instance);

// One message as a listener received it. Valid only for the duration of the `decode` call.
typedef struct {
  // The message bytes, framing removed.
  SlStr data;
  // The sender's address as text (`192.0.2.1`, `::1`), or null for unix sockets.
  SlStr peer;
  // One of `SL_TRANSPORT_*`.
  uint32_t transport;
  // `SL_FRAME_*` bits.
  uint32_t flags;
  // When the bytes were read, nanoseconds since the Unix epoch (UTC).
  int64_t receive_time_ns;
} SlFrame;

// A named extra column of a record (RFC 5424 extras, CEF columns, enrichments).
typedef struct {
  SlStr name;
  SlStr value;
  // One of `SL_VALUE_*`.
  uint32_t kind;
} SlField;

// A record: the columns of the Log Analytics Syslog table, plus extra fields.
//
// Decoders build one and hand it to the host's emit callback, which copies it.
// Filters receive arrays of them that point into the host's buffers and are valid
// only for the duration of the `filter` call. Columns the host derives
// (TimeGenerated, Computer, SourceSystem, CollectorHostName) are not here.
typedef struct {
  uint32_t struct_size;
  // One of `SL_TABLE_*`.
  uint32_t table;
  // `SL_RECORD_*` bits.
  uint32_t flags;
  // Syslog facility code 0..=23 (kern .. local7).
  uint32_t facility;
  // Syslog severity code 0..=7 (emerg .. debug).
  uint32_t severity;
  // The message's own timestamp, ns since the epoch (UTC), or `SL_TIME_NONE`.
  int64_t event_time_ns;
  // When the frame was received, ns since the epoch (UTC).
  int64_t receive_time_ns;
  // HOSTNAME from the message, or null (the host then uses the sender's).
  SlStr host_name;
  // The sender's address, or null (the host fills it from the frame).
  SlStr host_ip;
  // APP-NAME / TAG program.
  SlStr process_name;
  // PROCID / TAG pid as text; the host emits ProcessID as an integer when it is one.
  SlStr proc_id;
  // RFC 5424 MSGID.
  SlStr msg_id;
  // RFC 5424 STRUCTURED-DATA as it appeared on the wire.
  SlStr structured_data;
  // The message text (SyslogMessage).
  SlStr message;
  // `field_count` extra fields, or null when there are none.
  const SlField *fields;
  size_t field_count;
} SlRecord;

// The host's emit callback for decoders: copies `record` (produced from frame
// `frame_index` of the current call) into the host's batch. Returns `SL_OK`, or
// `SL_ERROR` when the record is malformed (it is then counted and dropped).
typedef SlStatus (*SlEmitFn)(void *emit_ctx, size_t frame_index, const SlRecord *record);

// Decoder functions (`SL_KIND_INPUT`).
typedef struct {
  uint32_t struct_size;
  SlCreateFn create;
  SlDestroyFn destroy;
  // Decodes `count` frames, calling `emit` for every record. A frame for which
  // nothing is emitted is kept by the host as a parse failure, never lost.
  SlStatus (*decode)(void *instance,
                     const SlFrame *frames,
                     size_t count,
                     SlEmitFn emit,
                     void *emit_ctx);
} SlInputVtable;

// Edits a filter asks for; the host applies them after `filter` returns, so views
// stay valid for the whole call.
typedef struct {
  uint32_t struct_size;
  void *edit_ctx;
  // Drops record `index` of the current batch.
  SlStatus (*drop_record)(void *edit_ctx, size_t index);
  // Sets a column of record `index`. `name` is a column (HostName, HostIP, Facility,
  // SeverityLevel, ProcessName, ProcessID, MsgId, StructuredData, SyslogMessage) or any
  // other name for an extra field; a null `value` removes it. Facility and SeverityLevel
  // take names (`auth`, `warning`). Returns `SL_ERROR` for a name the host derives itself.
  SlStatus (*set_field)(void *edit_ctx, size_t index, SlStr name, SlStr value, uint32_t kind);
} SlEditApi;

// Filter functions (`SL_KIND_FILTER`).
typedef struct {
  uint32_t struct_size;
  SlCreateFn create;
  SlDestroyFn destroy;
  // Looks at `count` records and asks for edits through `edits`. Records that
  // earlier filters dropped are not shown.
  SlStatus (*filter)(void *instance, const SlRecord *records, size_t count, const SlEditApi *edits);
} SlFilterVtable;

// A serialized batch for an output.
//
// `data` holds `record_count` records as JSON objects, each followed by `\n`
// (JSON lines), with the columns of the table named by `table`. The bytes stay
// valid until the plugin calls `release(release_ctx)`, which it must do exactly
// once, from any thread, during or after `send`.
typedef struct {
  uint32_t struct_size;
  // One of `SL_TABLE_*`: which stream the records belong to.
  uint32_t table;
  // Unique and increasing per agent run; the same batch keeps its id across retries.
  uint64_t batch_id;
  uint32_t record_count;
  // How many times this batch was offered before (0 on the first try).
  uint32_t attempt;
  SlStr data;
  void (*release)(void *release_ctx);
  void *release_ctx;
} SlPayload;

// What an output asks of the batches it is offered (ABI 1.2). Zero means "no
// preference" for every field.
typedef struct {
  // `sizeof(SlOutputPreferences)` as the host knows it.
  uint32_t struct_size;
  // The batch size in bytes (of JSON lines) the output handles best, such as
  // what its concurrent requests carry together; used when the configuration
  // does not set `batch_max_bytes`.
  uint64_t batch_bytes;
  // How long a batch that is not full may wait for more records, counted from
  // the previous batch offered: it bounds how often a quiet host calls `send`.
  // The host sends at once when it drains or shuts down.
  uint64_t flush_interval_ms;
} SlOutputPreferences;

// Output functions (`SL_KIND_OUTPUT`).
typedef struct {
  uint32_t struct_size;
  SlCreateFn create;
  SlDestroyFn destroy;
  // Sends a payload. Returns `SL_OK` (delivered), `SL_RETRY` (set `*retry_after_ms`
  // to a delay, or leave 0 for the host's backoff), or `SL_REJECT` (never deliverable);
  // explain RETRY and REJECT through `set_error`.
  SlStatus (*send)(void *instance, const SlPayload *payload, uint64_t *retry_after_ms);
  // Since 1.1, may be null: checks the output's setup for `syslane check-config`
  // without delivering records (credentials, files, and with `SL_CHECK_ONLINE` the
  // network). Report each step through `log`; on failure call `set_error` and
  // return `SL_ERROR`.
  SlStatus (*check)(void *instance, uint32_t flags);
  // Since 1.2, may be null: how this instance wants its batches cut. The host
  // calls it once after `create`, with `prefs` zeroed but for `struct_size`, and
  // reads what the plugin set.
  void (*preferences)(void *instance, SlOutputPreferences *prefs);
} SlOutputVtable;

// The type of the exported `syslane_plugin_descriptor` symbol.
typedef const SlPluginDescriptor *(*SlDescriptorFn)(void);

// The call succeeded.
#define SL_OK 0

// Output only: the payload was not delivered; try again later (see `retry_after_ms`).
#define SL_RETRY 1

// Output only: the payload can never be delivered; the host dead-letters it.
#define SL_REJECT 2

// The plugin panicked (or crashed in a recoverable way); the host recreates the instance.
#define SL_PANICKED 3

// The call failed; the plugin explained why through `SlHostApi::set_error`.
#define SL_ERROR 4

// Decoder: turns frames (bytes from a listener) into records. Vtable: `SlInputVtable`.
#define SL_KIND_INPUT 1

// Filter: sees batches of records and drops or edits them. Vtable: `SlFilterVtable`.
#define SL_KIND_FILTER 2

// Output: sends serialized batches to their destination. Vtable: `SlOutputVtable`.
#define SL_KIND_OUTPUT 3

#ifdef __cplusplus
extern "C" {
#endif
/* The one symbol a plugin exports. */
const SlPluginDescriptor *syslane_plugin_descriptor(void);
#ifdef __cplusplus
}
#endif

#endif /* SYSLANE_PLUGIN_H */
