//! The live instance behind every typed handle: creation from JSON config, the
//! host API it is given, and recovery from panics. The typed handles
//! ([`super::DecoderInstance`], [`super::FilterInstance`], [`super::OutputInstance`])
//! wrap it with the calls of their kind.

use super::{with_article, LoadedPlugin, PluginError};
use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use syslane_abi::*;

/// Facts every instance may ask the host for. Shared; the strings must not move
/// while instances point to them, hence the `Arc`.
#[derive(Debug)]
pub(crate) struct HostInfo {
    pub host_name: String,
    pub config_dir: String,
    pub state_dir: String,
}

/// Records an output refused for good within a batch it was offered (ABI 1.1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeadLetter<'a> {
    pub table: Table,
    /// The batch the output was offered when it refused them.
    pub batch_id: u64,
    pub records: u32,
    pub reason: &'a str,
    /// The refused records, as JSON lines.
    pub data: &'a [u8],
}

/// Where an output's refused records go.
pub(crate) type DeadLetterSink = Arc<dyn Fn(DeadLetter<'_>) + Send + Sync>;

/// What the host's callbacks see for one instance.
struct HostCtx {
    plugin: String,
    error: Mutex<Option<String>>,
    dead_letters: Option<DeadLetterSink>,
    /// The batch being offered to an output, for its dead letters.
    batch_id: AtomicU64,
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
            sink(DeadLetter {
                table: Table::from_code_or_syslog(table),
                batch_id: ctx.batch_id.load(Ordering::Relaxed),
                records: record_count,
                reason: &String::from_utf8_lossy(reason),
                data,
            });
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
pub(super) struct Instance {
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
unsafe impl Send for Instance {}

impl Instance {
    /// Creates an instance of `plugin`, which must be of kind `expected`, with
    /// `config_json` (a JSON object); its `dead_letter` callback writes to
    /// `dead_letters`.
    pub(super) fn create(
        plugin: &'static LoadedPlugin,
        expected: SlKind,
        config_json: &str,
        info: Arc<HostInfo>,
        dead_letters: Option<DeadLetterSink>,
    ) -> Result<Instance, PluginError> {
        if plugin.kind != expected {
            return Err(PluginError::WrongKind {
                path: plugin.path.display().to_string(),
                name: plugin.name.clone(),
                actual: with_article(plugin.kind),
                expected: with_article(expected),
            });
        }
        let has_sink = dead_letters.is_some();
        let ctx = Box::new(HostCtx {
            plugin: plugin.name.clone(),
            error: Mutex::new(None),
            dead_letters,
            batch_id: AtomicU64::new(0),
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
        let mut instance = Instance {
            plugin,
            config_json: config_json.to_string(),
            _info: info,
            ctx,
            api,
            ptr: std::ptr::null_mut(),
        };
        instance.ptr = instance.create_raw()?;
        #[cfg(test)]
        created::note(&instance._info.state_dir, &plugin.name);
        Ok(instance)
    }

    pub(super) fn plugin(&self) -> &'static LoadedPlugin {
        self.plugin
    }

    /// The plugin's own instance pointer.
    pub(super) fn ptr(&self) -> *mut c_void {
        self.ptr
    }

    /// The size of the plugin's vtable, which tells which ABI minor's calls it has.
    pub(super) fn vtable_size(&self) -> usize {
        self.head().struct_size as usize
    }

    /// Whether the plugin's vtable reaches past the pointer-sized field at
    /// `offset` (a field a later minor version added).
    pub(super) fn has_field(&self, offset: usize) -> bool {
        self.vtable_size() >= offset + std::mem::size_of::<usize>()
    }

    /// Sets the batch id the `dead_letter` callback reports.
    pub(super) fn set_batch(&self, batch_id: u64) {
        self.ctx.batch_id.store(batch_id, Ordering::Relaxed);
    }

    fn head(&self) -> &VtableHead {
        // SAFETY: the loader checked the vtable is non-null and at least as large as
        // the kind's 1.0 vtable, which starts with these fields.
        unsafe { &*self.plugin.vtable.cast::<VtableHead>() }
    }

    /// The reason the plugin gave for its last failure, if any.
    pub(super) fn take_error(&self) -> Option<String> {
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
    pub(super) fn recover(&mut self, status: SlStatus) -> bool {
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
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.destroy_raw();
    }
}

/// Instances created, by state_dir and plugin, so tests (each with a state_dir of
/// its own) can tell how often a configuration's instances are created.
#[cfg(test)]
pub(crate) mod created {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    static COUNTS: Mutex<BTreeMap<(String, String), usize>> = Mutex::new(BTreeMap::new());

    pub(super) fn note(state_dir: &str, plugin: &str) {
        let mut counts = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
        *counts
            .entry((state_dir.to_string(), plugin.to_string()))
            .or_default() += 1;
    }

    /// Instances of `plugin` created so far for `state_dir`.
    pub(crate) fn count(state_dir: &str, plugin: &str) -> usize {
        let counts = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .get(&(state_dir.to_string(), plugin.to_string()))
            .copied()
            .unwrap_or(0)
    }
}
