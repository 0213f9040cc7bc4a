//! Plugin instances: creation from JSON config, calls, and recovery from panics.

use super::{LoadedPlugin, PluginError};
use std::ffi::c_void;
use std::sync::{Arc, Mutex};
use syslane_abi::*;

/// Facts every instance may ask the host for. Shared; the strings must not move
/// while instances point to them, hence the `Arc`.
#[derive(Debug)]
pub struct HostInfo {
    pub host_name: String,
    pub config_dir: String,
    pub state_dir: String,
}

/// Where an output's refused records go: `(table, record_count, reason, JSON lines)`.
pub type DeadLetterSink = Arc<dyn Fn(u32, u32, &str, &[u8]) + Send + Sync>;

/// What the host's callbacks see for one instance.
struct HostCtx {
    plugin: String,
    error: Mutex<Option<String>>,
    dead_letters: Option<DeadLetterSink>,
}

unsafe extern "C" fn host_log(ctx: *mut c_void, level: u32, message: SlStr) {
    // SAFETY: `ctx` is the `HostCtx` boxed in the instance, alive until destroy returns;
    // the message view is valid for this call.
    let (ctx, text) = unsafe { (&*ctx.cast::<HostCtx>(), message.as_bytes().unwrap_or(b"")) };
    let text = String::from_utf8_lossy(text);
    let plugin = ctx.plugin.as_str();
    match level {
        SL_LOG_ERROR => tracing::error!(plugin, "{text}"),
        SL_LOG_WARN => tracing::warn!(plugin, "{text}"),
        SL_LOG_INFO => tracing::info!(plugin, "{text}"),
        _ => tracing::debug!(plugin, "{text}"),
    }
}

unsafe extern "C" fn host_set_error(ctx: *mut c_void, message: SlStr) {
    // SAFETY: as in `host_log`.
    let (ctx, text) = unsafe { (&*ctx.cast::<HostCtx>(), message.as_bytes().unwrap_or(b"")) };
    let text = String::from_utf8_lossy(text).into_owned();
    *ctx.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(text);
}

unsafe extern "C" fn host_dead_letter(
    ctx: *mut c_void,
    table: u32,
    record_count: u32,
    reason: SlStr,
    data: SlStr,
) -> SlStatus {
    // SAFETY: as in `host_log`; both views are valid for this call.
    let (ctx, reason, data) = unsafe {
        (
            &*ctx.cast::<HostCtx>(),
            reason.as_bytes().unwrap_or(b""),
            data.as_bytes().unwrap_or(b""),
        )
    };
    match &ctx.dead_letters {
        Some(sink) => {
            sink(table, record_count, &String::from_utf8_lossy(reason), data);
            SL_OK
        }
        None => SL_ERROR,
    }
}

/// The fields every vtable starts with.
#[repr(C)]
struct VtableHead {
    struct_size: u32,
    create: SlCreateFn,
    destroy: SlDestroyFn,
}

/// One live instance of a plugin. Used by one thread at a time.
pub struct PluginInstance {
    plugin: &'static LoadedPlugin,
    config_json: String,
    // Kept alive for the strings `api` points to.
    _info: Arc<HostInfo>,
    ctx: Box<HostCtx>,
    api: Box<SlHostApi>,
    ptr: *mut c_void,
}

// SAFETY: the ABI lets an instance be called from any thread as long as calls do not
// overlap; `&mut self` on every call guarantees that.
unsafe impl Send for PluginInstance {}

impl std::fmt::Debug for PluginInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginInstance")
            .field("plugin", &self.plugin.name)
            .finish()
    }
}

impl PluginInstance {
    /// Creates an instance with `config_json` (a JSON object).
    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.plugin.name
    }

    pub fn create(
        plugin: &'static LoadedPlugin,
        config_json: &str,
        info: Arc<HostInfo>,
    ) -> Result<PluginInstance, PluginError> {
        PluginInstance::create_with(plugin, config_json, info, None)
    }

    /// Creates an instance whose `dead_letter` callback writes to `dead_letters`.
    pub fn create_with(
        plugin: &'static LoadedPlugin,
        config_json: &str,
        info: Arc<HostInfo>,
        dead_letters: Option<DeadLetterSink>,
    ) -> Result<PluginInstance, PluginError> {
        let has_sink = dead_letters.is_some();
        let ctx = Box::new(HostCtx {
            plugin: plugin.name.clone(),
            error: Mutex::new(None),
            dead_letters,
        });
        let api = Box::new(SlHostApi {
            struct_size: std::mem::size_of::<SlHostApi>() as u32,
            abi_major: SL_ABI_MAJOR,
            abi_minor: SL_ABI_MINOR,
            host_ctx: (&*ctx as *const HostCtx).cast_mut().cast(),
            log: host_log,
            set_error: host_set_error,
            host_name: SlStr::from_bytes(info.host_name.as_bytes()),
            config_dir: SlStr::from_bytes(info.config_dir.as_bytes()),
            state_dir: SlStr::from_bytes(info.state_dir.as_bytes()),
            dead_letter: if has_sink {
                Some(host_dead_letter)
            } else {
                None
            },
        });
        let mut instance = PluginInstance {
            plugin,
            config_json: config_json.to_string(),
            _info: info,
            ctx,
            api,
            ptr: std::ptr::null_mut(),
        };
        instance.ptr = instance.create_raw()?;
        Ok(instance)
    }

    pub fn plugin(&self) -> &'static LoadedPlugin {
        self.plugin
    }

    fn head(&self) -> &VtableHead {
        // SAFETY: the loader checked the vtable is non-null and at least as large as
        // the kind's 1.0 vtable, which starts with these fields.
        unsafe { &*self.plugin.vtable.cast::<VtableHead>() }
    }

    /// The reason the plugin gave for its last failure, if any.
    pub fn take_error(&self) -> Option<String> {
        self.ctx
            .error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    fn create_raw(&mut self) -> Result<*mut c_void, PluginError> {
        let mut out: *mut c_void = std::ptr::null_mut();
        let config = SlStr::from_bytes(self.config_json.as_bytes());
        // SAFETY: the host API and config outlive the call; `out` is writable.
        let status = unsafe { (self.head().create)(&*self.api, config, &mut out) };
        let error = |message: String| PluginError::Create {
            name: self.plugin.name.clone(),
            path: self.plugin.path.display().to_string(),
            message,
        };
        match status {
            SL_OK if !out.is_null() => Ok(out),
            SL_OK => Err(error("create returned OK without an instance".into())),
            SL_PANICKED => Err(error("panicked while reading its configuration".into())),
            _ => Err(error(self.take_error().unwrap_or_else(|| {
                "refused its configuration without saying why".into()
            }))),
        }
    }

    fn destroy_raw(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: the instance was created by this vtable and is destroyed once.
            unsafe { (self.head().destroy)(self.ptr) };
            self.ptr = std::ptr::null_mut();
        }
    }

    /// After a call returned `status`: a panicked instance is destroyed and created
    /// again from the same config. Returns whether the instance is usable.
    fn recover(&mut self, status: SlStatus) -> bool {
        if status == SL_PANICKED {
            tracing::error!(plugin = %self.plugin.name, "plugin panicked; destroying and recreating the instance");
            self.destroy_raw();
        }
        if self.ptr.is_null() {
            match self.create_raw() {
                Ok(ptr) => self.ptr = ptr,
                Err(e) => {
                    tracing::error!(plugin = %self.plugin.name, error = %e, "could not recreate the plugin instance");
                    return false;
                }
            }
        }
        true
    }

    /// Calls a decoder's `decode`.
    ///
    /// # Safety
    /// `emit_ctx` must be what `emit` expects, valid for the call.
    pub unsafe fn decode(
        &mut self,
        frames: &[SlFrame],
        emit: SlEmitFn,
        emit_ctx: *mut c_void,
    ) -> SlStatus {
        if !self.recover(SL_OK) {
            return SL_ERROR;
        }
        // SAFETY: the loader checked this is an input plugin with a full 1.0 vtable.
        let vt = unsafe { &*self.plugin.vtable.cast::<SlInputVtable>() };
        // SAFETY: frames are valid for the call; the caller vouches for emit_ctx.
        let status =
            unsafe { (vt.decode)(self.ptr, frames.as_ptr(), frames.len(), emit, emit_ctx) };
        self.recover(status);
        status
    }

    /// Calls a filter's `filter`.
    ///
    /// # Safety
    /// `records` and the edit API must be valid for the call.
    pub unsafe fn filter(&mut self, records: &[SlRecord], edits: &SlEditApi) -> SlStatus {
        if !self.recover(SL_OK) {
            return SL_ERROR;
        }
        // SAFETY: the loader checked this is a filter plugin with a full 1.0 vtable.
        let vt = unsafe { &*self.plugin.vtable.cast::<SlFilterVtable>() };
        // SAFETY: the caller vouches for the views and the edit API.
        let status = unsafe { (vt.filter)(self.ptr, records.as_ptr(), records.len(), edits) };
        self.recover(status);
        status
    }

    /// Offers `data` to an output. Returns the status, the requested delay and the
    /// plugin's reason (for RETRY, REJECT, ERROR).
    pub fn send(
        &mut self,
        data: &Arc<Vec<u8>>,
        table: u32,
        batch_id: u64,
        records: u32,
        attempt: u32,
    ) -> (SlStatus, u64, Option<String>) {
        if !self.recover(SL_OK) {
            return (
                SL_RETRY,
                0,
                Some("the output plugin could not be created".into()),
            );
        }
        unsafe extern "C" fn release(ctx: *mut c_void) {
            // SAFETY: `ctx` is the `Arc` leaked below for this payload, released once.
            drop(unsafe { Arc::from_raw(ctx.cast_const().cast::<Vec<u8>>()) });
        }
        let payload = SlPayload {
            struct_size: min_size::PAYLOAD,
            table,
            batch_id,
            record_count: records,
            attempt,
            data: SlStr::from_bytes(data),
            release,
            release_ctx: Arc::into_raw(Arc::clone(data)).cast_mut().cast(),
        };
        let mut retry_after_ms = 0u64;
        let _ = self.take_error();
        // SAFETY: the loader checked this is an output plugin; the payload's bytes are
        // kept alive by the Arc clone until the plugin releases it.
        let vt = unsafe { &*self.plugin.vtable.cast::<SlOutputVtable>() };
        // SAFETY: as above.
        let status = unsafe { (vt.send)(self.ptr, &payload, &mut retry_after_ms) };
        let reason = self.take_error();
        self.recover(status);
        (status, retry_after_ms, reason)
    }
}

impl PluginInstance {
    /// Runs an output's own setup check (ABI 1.1). `Ok(false)` when the plugin has none.
    pub fn check(&mut self, online: bool) -> Result<bool, String> {
        if !self.recover(SL_OK) {
            return Err("the plugin instance could not be created".into());
        }
        if self.plugin.kind != SL_KIND_OUTPUT {
            return Ok(false);
        }
        let size = self.head().struct_size as usize;
        if size < std::mem::size_of::<SlOutputVtable>() {
            return Ok(false);
        }
        // SAFETY: the vtable is an output vtable at least as large as the 1.1 struct.
        let vt = unsafe { &*self.plugin.vtable.cast::<SlOutputVtable>() };
        let Some(check) = vt.check else {
            return Ok(false);
        };
        let _ = self.take_error();
        let flags = if online { SL_CHECK_ONLINE } else { 0 };
        // SAFETY: the instance is live and calls do not overlap (`&mut self`).
        let status = unsafe { check(self.ptr, flags) };
        self.recover(status);
        match status {
            SL_OK => Ok(true),
            SL_PANICKED => Err("the plugin panicked while checking its setup".into()),
            _ => Err(self
                .take_error()
                .unwrap_or_else(|| "the check failed without saying why".into())),
        }
    }
}

impl Drop for PluginInstance {
    fn drop(&mut self) {
        self.destroy_raw();
    }
}
