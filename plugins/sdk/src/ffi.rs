//! The exported C functions behind every SDK plugin. Each one catches panics, so
//! no unwind ever crosses the ABI.

use crate::record::{Edits, Frame, Payload, RecordView};
use crate::{Decoder, Filter, Host, Outcome, Output, Record};
use std::ffi::c_void;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use syslane_abi::*;

struct Instance<T> {
    plugin: T,
    host: Host,
    scratch: Vec<SlField>,
}

fn guard(f: impl FnOnce() -> SlStatus) -> SlStatus {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(SL_PANICKED)
}

/// # Safety
/// `host` must be valid for the instance's life, `out` writable.
unsafe fn create<T>(
    host: *const SlHostApi,
    config: SlStr,
    out: *mut *mut c_void,
    make: fn(Host, &str) -> Result<T, String>,
) -> SlStatus {
    if host.is_null() || out.is_null() {
        return SL_ERROR;
    }
    // SAFETY: the host passes an API table valid until destroy.
    let handle = unsafe { Host::new(host) };
    guard(|| {
        // SAFETY: the config view is valid for this call.
        let raw = unsafe { config.as_bytes() }.unwrap_or(b"{}");
        let Ok(text) = std::str::from_utf8(raw) else {
            handle.set_error("plugin config is not UTF-8");
            return SL_ERROR;
        };
        match make(handle, if text.trim().is_empty() { "{}" } else { text }) {
            Ok(plugin) => {
                let instance = Box::new(Instance {
                    plugin,
                    host: handle,
                    scratch: Vec::new(),
                });
                // SAFETY: `out` was checked to be non-null and the host owns the slot.
                unsafe { *out = Box::into_raw(instance).cast() };
                SL_OK
            }
            Err(message) => {
                handle.set_error(&message);
                SL_ERROR
            }
        }
    })
}

unsafe extern "C" fn destroy<T>(instance: *mut c_void) {
    if instance.is_null() {
        return;
    }
    let _ = guard(|| {
        // SAFETY: the pointer came from `Box::into_raw` in `create` and the host
        // destroys an instance once.
        drop(unsafe { Box::from_raw(instance.cast::<Instance<T>>()) });
        SL_OK
    });
}

/// # Safety
/// `instance` must come from `create::<T>` and not be in use elsewhere.
unsafe fn instance<'a, T>(instance: *mut c_void) -> Option<&'a mut Instance<T>> {
    // SAFETY: see the function's contract.
    unsafe { instance.cast::<Instance<T>>().as_mut() }
}

/// Hands decoded records to the host.
pub struct Emitter<'a> {
    emit: SlEmitFn,
    ctx: *mut c_void,
    scratch: &'a mut Vec<SlField>,
    _frames: PhantomData<&'a ()>,
}

impl Emitter<'_> {
    /// Emits `record` for frame `frame_index`. `false` when the host refused it.
    pub fn emit(&mut self, frame_index: usize, record: &Record<'_>) -> bool {
        self.scratch.clear();
        self.scratch.extend(record.fields.iter().map(|f| SlField {
            name: SlStr::from_bytes(f.name.as_bytes()),
            value: SlStr::from_bytes(f.value),
            kind: f.kind.code(),
        }));
        let abi = (*record).to_abi(self.scratch);
        // SAFETY: the host's callback and context for this call; the record and
        // its fields are alive until the callback returns.
        unsafe { (self.emit)(self.ctx, frame_index, &abi) == SL_OK }
    }
}

unsafe extern "C" fn input_create<T: Decoder>(
    host: *const SlHostApi,
    config: SlStr,
    out: *mut *mut c_void,
) -> SlStatus {
    // SAFETY: forwarded from the host under the ABI's contract.
    unsafe { create(host, config, out, T::create) }
}

unsafe extern "C" fn input_decode<T: Decoder>(
    inst: *mut c_void,
    frames: *const SlFrame,
    count: usize,
    emit: SlEmitFn,
    emit_ctx: *mut c_void,
) -> SlStatus {
    guard(|| {
        // SAFETY: the host passes the instance it created, used by one thread at a time.
        let Some(inst) = (unsafe { instance::<T>(inst) }) else {
            return SL_ERROR;
        };
        // SAFETY: the host passes `count` frames valid for this call.
        let frames = unsafe { Frame::slice(frames, count) };
        let mut out = Emitter {
            emit,
            ctx: emit_ctx,
            scratch: &mut inst.scratch,
            _frames: PhantomData,
        };
        inst.plugin.decode(frames, &mut out);
        SL_OK
    })
}

unsafe extern "C" fn filter_create<T: Filter>(
    host: *const SlHostApi,
    config: SlStr,
    out: *mut *mut c_void,
) -> SlStatus {
    // SAFETY: forwarded from the host under the ABI's contract.
    unsafe { create(host, config, out, T::create) }
}

unsafe extern "C" fn filter_run<T: Filter>(
    inst: *mut c_void,
    records: *const SlRecord,
    count: usize,
    edits: *const SlEditApi,
) -> SlStatus {
    guard(|| {
        // SAFETY: as in `input_decode`.
        let Some(inst) = (unsafe { instance::<T>(inst) }) else {
            return SL_ERROR;
        };
        // SAFETY: the host's edit API, valid for this call.
        let Some(api) = (unsafe { edits.as_ref() }) else {
            return SL_ERROR;
        };
        // SAFETY: the host passes `count` records valid for this call.
        let records = unsafe { RecordView::slice(records, count) };
        inst.plugin.filter(records, &mut Edits { api });
        SL_OK
    })
}

unsafe extern "C" fn output_create<T: Output>(
    host: *const SlHostApi,
    config: SlStr,
    out: *mut *mut c_void,
) -> SlStatus {
    // SAFETY: forwarded from the host under the ABI's contract.
    unsafe { create(host, config, out, T::create) }
}

unsafe extern "C" fn output_send<T: Output>(
    inst: *mut c_void,
    payload: *const SlPayload,
    retry_after_ms: *mut u64,
) -> SlStatus {
    // SAFETY: the host's payload, valid until released below.
    let Some(payload) = (unsafe { payload.as_ref() }) else {
        return SL_ERROR;
    };
    let status = guard(|| {
        // SAFETY: as in `input_decode`.
        let Some(inst) = (unsafe { instance::<T>(inst) }) else {
            return SL_ERROR;
        };
        match inst.plugin.send(&Payload::from_abi(payload)) {
            Outcome::Ok => SL_OK,
            Outcome::Retry { after, reason } => {
                inst.host.set_error(&reason);
                if let (Some(after), false) = (after, retry_after_ms.is_null()) {
                    // SAFETY: the host passes a writable u64.
                    unsafe { *retry_after_ms = after.as_millis().min(u128::from(u64::MAX)) as u64 };
                }
                SL_RETRY
            }
            Outcome::Reject { reason } => {
                inst.host.set_error(&reason);
                SL_REJECT
            }
        }
    });
    // The SDK never keeps the payload past the call; release it whatever happened.
    // SAFETY: the host's release callback, called exactly once.
    unsafe { (payload.release)(payload.release_ctx) };
    status
}

unsafe extern "C" fn output_check<T: Output>(inst: *mut c_void, flags: u32) -> SlStatus {
    guard(|| {
        // SAFETY: as in `input_decode`.
        let Some(inst) = (unsafe { instance::<T>(inst) }) else {
            return SL_ERROR;
        };
        match inst.plugin.check(flags & SL_CHECK_ONLINE != 0) {
            Ok(()) => SL_OK,
            Err(reason) => {
                inst.host.set_error(&reason);
                SL_ERROR
            }
        }
    })
}

unsafe extern "C" fn output_preferences<T: Output>(
    inst: *mut c_void,
    prefs: *mut SlOutputPreferences,
) {
    // SAFETY: the host passes a writable struct whose `struct_size` says how much
    // of it exists, or null.
    let Some(prefs) = (unsafe { prefs.as_mut() }) else {
        return;
    };
    let _ = guard(|| {
        // SAFETY: as in `input_decode`.
        let Some(inst) = (unsafe { instance::<T>(inst) }) else {
            return SL_ERROR;
        };
        let wanted = inst.plugin.preferences();
        if prefs.struct_size as usize >= std::mem::size_of::<SlOutputPreferences>() {
            prefs.batch_bytes = wanted.batch_bytes;
            prefs.flush_interval_ms =
                wanted.flush_interval.as_millis().min(u128::from(u64::MAX)) as u64;
        }
        SL_OK
    });
}

pub const fn input_vtable<T: Decoder>() -> SlInputVtable {
    SlInputVtable {
        struct_size: std::mem::size_of::<SlInputVtable>() as u32,
        create: input_create::<T>,
        destroy: destroy::<T>,
        decode: input_decode::<T>,
    }
}

pub const fn filter_vtable<T: Filter>() -> SlFilterVtable {
    SlFilterVtable {
        struct_size: std::mem::size_of::<SlFilterVtable>() as u32,
        create: filter_create::<T>,
        destroy: destroy::<T>,
        filter: filter_run::<T>,
    }
}

pub const fn output_vtable<T: Output>() -> SlOutputVtable {
    SlOutputVtable {
        struct_size: std::mem::size_of::<SlOutputVtable>() as u32,
        create: output_create::<T>,
        destroy: destroy::<T>,
        send: output_send::<T>,
        check: Some(output_check::<T>),
        preferences: Some(output_preferences::<T>),
    }
}
