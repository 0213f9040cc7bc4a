//! The host's services as seen by a plugin instance.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use syslane_abi::{SlHostApi, SlStr, SL_LOG_DEBUG, SL_LOG_ERROR, SL_LOG_INFO, SL_LOG_WARN};

/// Log levels for [`Host::log`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

/// Handle to the host for one instance: logging, errors, paths.
#[derive(Clone, Copy)]
pub struct Host {
    api: *const SlHostApi,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("host_name", &self.host_name())
            .finish()
    }
}

// SAFETY: the host guarantees the API table and its callbacks stay valid and may be
// called from any thread until the instance is destroyed.
unsafe impl Send for Host {}

impl Host {
    /// # Safety
    /// `api` must point to a valid `SlHostApi` that outlives the instance.
    pub(crate) unsafe fn new(api: *const SlHostApi) -> Host {
        Host { api }
    }

    fn api(&self) -> &SlHostApi {
        // SAFETY: `new` requires a pointer valid for the instance's life.
        unsafe { &*self.api }
    }

    fn text(s: SlStr) -> Cow<'static, str> {
        // SAFETY: host strings live as long as the host API (the instance's life);
        // copying them out keeps the borrow short.
        match unsafe { s.as_bytes() } {
            Some(b) => Cow::Owned(String::from_utf8_lossy(b).into_owned()),
            None => Cow::Borrowed(""),
        }
    }

    /// Writes a line to the agent's log, attributed to this plugin.
    pub fn log(&self, level: Level, message: &str) {
        let level = match level {
            Level::Error => SL_LOG_ERROR,
            Level::Warn => SL_LOG_WARN,
            Level::Info => SL_LOG_INFO,
            Level::Debug => SL_LOG_DEBUG,
        };
        let api = self.api();
        // SAFETY: the callback and context come from the host for this instance.
        unsafe { (api.log)(api.host_ctx, level, SlStr::from_bytes(message.as_bytes())) }
    }

    pub(crate) fn set_error(&self, message: &str) {
        let api = self.api();
        // SAFETY: as in `log`.
        unsafe { (api.set_error)(api.host_ctx, SlStr::from_bytes(message.as_bytes())) }
    }

    /// Writes records the destination refused for good to the agent's dead-letter
    /// file and counts them (ABI 1.1, outputs only). `data` is JSON lines as in the
    /// payload. `false` when the host cannot take them: then answer the whole
    /// payload with `Outcome::Reject`.
    pub fn dead_letter(
        &self,
        table: syslane_abi::Table,
        record_count: u32,
        reason: &str,
        data: &[u8],
    ) -> bool {
        let api = self.api();
        if (api.struct_size as usize) < std::mem::size_of::<SlHostApi>() {
            return false;
        }
        let Some(callback) = api.dead_letter else {
            return false;
        };
        // SAFETY: the callback and context come from the host; the views live for the call.
        let status = unsafe {
            callback(
                api.host_ctx,
                table.code(),
                record_count,
                SlStr::from_bytes(reason.as_bytes()),
                SlStr::from_bytes(data),
            )
        };
        status == syslane_abi::SL_OK
    }

    /// This host's name.
    pub fn host_name(&self) -> String {
        Host::text(self.api().host_name).into_owned()
    }

    /// The directory of the agent's configuration file.
    pub fn config_dir(&self) -> PathBuf {
        PathBuf::from(Host::text(self.api().config_dir).into_owned())
    }

    /// The agent's state directory.
    pub fn state_dir(&self) -> PathBuf {
        PathBuf::from(Host::text(self.api().state_dir).into_owned())
    }

    /// Resolves a path from the plugin's config against the config file's directory.
    pub fn resolve_path(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.config_dir().join(path)
        }
    }
}
