//! Write syslane plugins in safe Rust.
//!
//! Implement one of [`Decoder`], [`Filter`] or [`Output`] and export it with
//! [`export_plugin!`]. The SDK builds the C descriptor and vtable, converts the
//! borrowed views of the ABI into Rust types, and catches every panic at the
//! boundary: a panicking call returns `SL_PANICKED` and the host recreates the
//! instance, so a bug in a plugin never takes the agent down.
//!
//! ```ignore
//! use syslane_plugin_sdk::{export_plugin, Edits, Filter, Host, RecordView};
//! struct DropDebug;
//! impl Filter for DropDebug {
//!     fn create(_host: Host, _config: &str) -> Result<Self, String> { Ok(DropDebug) }
//!     fn filter(&mut self, records: &[RecordView<'_>], edits: &mut Edits<'_>) {
//!         for (i, r) in records.iter().enumerate() {
//!             if r.severity() == 7 { edits.drop_record(i); }
//!         }
//!     }
//! }
//! export_plugin!(filter, DropDebug, "drop-debug", "Drops debug messages");
//! ```

mod config;
mod ffi;
mod host;
mod record;

pub use config::parse_config;

pub use host::{Host, Level};
pub use record::{Edits, Field, Frame, FrameData, Payload, Record, RecordView, ValueKind};
pub use syslane_abi as abi;
pub use syslane_abi::Table;

/// The facility a decoder gives a message without a valid PRI (`user`): the
/// ABI's `SL_NO_PRI_FACILITY`, as a [`Record`] holds it.
pub const NO_PRI_FACILITY: u8 = abi::SL_NO_PRI_FACILITY as u8;
/// The severity a decoder gives a message without a valid PRI (`notice`): the
/// ABI's `SL_NO_PRI_SEVERITY`.
pub const NO_PRI_SEVERITY: u8 = abi::SL_NO_PRI_SEVERITY as u8;

#[doc(hidden)]
pub use ffi::{filter_vtable, input_vtable, output_vtable};

/// A decoder: turns frames into records (`SL_KIND_INPUT`).
pub trait Decoder: Sized + 'static {
    /// Builds an instance from its JSON config; `Err` is shown to the operator.
    fn create(host: Host, config: &str) -> Result<Self, String>;
    /// Decodes a batch. Emit at least one record per frame: a frame with none is
    /// kept by the host as a parse failure.
    fn decode(&mut self, frames: &[Frame<'_>], out: &mut Emitter<'_>);
}

/// A decoder that makes the record of each frame on its own, carrying nothing from
/// one frame to the next: implement [`FrameDecoder::decode_frame`] and let
/// [`Decoder::decode`] call [`FrameDecoder::decode_frames`], the loop over a batch.
pub trait FrameDecoder {
    /// Decodes one frame and hands its record to `emit` (or emits nothing, and the
    /// host keeps the frame whole as a parse failure).
    fn decode_frame(&self, frame: FrameData<'_>, emit: impl FnOnce(&Record<'_>));

    /// Decodes every frame of a batch in turn.
    fn decode_frames(&self, frames: &[Frame<'_>], out: &mut Emitter<'_>) {
        for (i, frame) in frames.iter().enumerate() {
            self.decode_frame(frame.data_of(), |r| {
                out.emit(i, r);
            });
        }
    }
}

/// A filter: drops or edits records (`SL_KIND_FILTER`).
pub trait Filter: Sized + 'static {
    fn create(host: Host, config: &str) -> Result<Self, String>;
    /// Looks at a batch; index `i` in `edits` refers to `records[i]`.
    fn filter(&mut self, records: &[RecordView<'_>], edits: &mut Edits<'_>);
}

/// What an output answers for a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered.
    Ok,
    /// Not delivered now; the host offers the same batch again after `after`
    /// (or its own backoff when `None`).
    Retry {
        after: Option<std::time::Duration>,
        reason: String,
    },
    /// Never deliverable; the host dead-letters the batch with `reason`.
    Reject { reason: String },
}

/// An output: sends serialized batches to their destination (`SL_KIND_OUTPUT`).
pub trait Output: Sized + 'static {
    fn create(host: Host, config: &str) -> Result<Self, String>;
    fn send(&mut self, payload: &Payload<'_>) -> Outcome;
    /// Checks the setup for `syslane check-config` without delivering records:
    /// credentials and files, and with `online` the network too. Report each step
    /// with [`Host::log`]; `Err` says what is wrong and what to do.
    fn check(&mut self, online: bool) -> Result<(), String> {
        let _ = online;
        Ok(())
    }
    /// How this output wants its batches cut (ABI 1.2); the default asks nothing.
    fn preferences(&self) -> Preferences {
        Preferences::default()
    }
}

/// What an output asks of its batches (ABI 1.2); zero is "no preference".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Preferences {
    /// The batch size, in bytes of JSON lines, the output handles best; the host
    /// uses it unless the configuration sets `batch_max_bytes`.
    pub batch_bytes: u64,
    /// How long a batch that is not full may wait for more records, counted from
    /// the previous batch; it bounds how often a quiet host calls `send`.
    pub flush_interval: std::time::Duration,
}

pub use ffi::Emitter;

/// Exports a plugin type: `export_plugin!(input|filter|output, Type, "name", "description")`.
#[macro_export]
macro_rules! export_plugin {
    (input, $ty:ty, $name:literal, $description:literal) => {
        $crate::export_plugin!(@export $crate::abi::SL_KIND_INPUT, $crate::input_vtable::<$ty>(), $name, $description, $crate::abi::SlInputVtable);
    };
    (filter, $ty:ty, $name:literal, $description:literal) => {
        $crate::export_plugin!(@export $crate::abi::SL_KIND_FILTER, $crate::filter_vtable::<$ty>(), $name, $description, $crate::abi::SlFilterVtable);
    };
    (output, $ty:ty, $name:literal, $description:literal) => {
        $crate::export_plugin!(@export $crate::abi::SL_KIND_OUTPUT, $crate::output_vtable::<$ty>(), $name, $description, $crate::abi::SlOutputVtable);
    };
    (@export $kind:expr, $vtable:expr, $name:literal, $description:literal, $vty:ty) => {
        static SYSLANE_VTABLE: $vty = $vtable;
        static SYSLANE_DESCRIPTOR: $crate::abi::SlPluginDescriptor = $crate::abi::SlPluginDescriptor {
            magic: $crate::abi::SL_MAGIC,
            abi_major: $crate::abi::SL_ABI_MAJOR,
            abi_minor: $crate::abi::SL_ABI_MINOR,
            struct_size: ::core::mem::size_of::<$crate::abi::SlPluginDescriptor>() as u32,
            kind: $kind,
            name: concat!($name, "\0").as_ptr() as *const ::core::ffi::c_char,
            version: concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const ::core::ffi::c_char,
            description: concat!($description, "\0").as_ptr() as *const ::core::ffi::c_char,
            capabilities: $crate::abi::SL_CAP_NONE,
            vtable: &SYSLANE_VTABLE as *const $vty as *const ::core::ffi::c_void,
        };
        /// The plugin's descriptor, read by the syslane host when it loads this library.
        #[no_mangle]
        pub extern "C" fn syslane_plugin_descriptor() -> *const $crate::abi::SlPluginDescriptor {
            &SYSLANE_DESCRIPTOR
        }
    };
}
