//! Output instances: offering a serialized batch, and the output's own setup check.

use super::instance::Instance;
use super::{DeadLetterSink, HostInfo, LoadedPlugin, PluginError};
use std::ffi::c_void;
use std::sync::Arc;
use std::time::Duration;
use syslane_abi::*;

/// What an output did with a batch, as the SDK's `Outcome` tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SendOutcome {
    /// Taken; the batch is settled.
    Delivered,
    /// Not taken this time: offer it again, after `after` when the output asked
    /// for a delay. `panicked` when the output panicked (it was recreated).
    Retry {
        after: Option<Duration>,
        reason: String,
        panicked: bool,
    },
    /// Refused for good: the batch goes to the dead-letter file.
    Reject(String),
}

impl SendOutcome {
    /// The outcome of a send call that returned `status`.
    fn from_status(status: SlStatus, retry_after_ms: u64, reason: Option<String>) -> SendOutcome {
        match status {
            SL_OK => SendOutcome::Delivered,
            SL_REJECT => {
                SendOutcome::Reject(reason.unwrap_or_else(|| "rejected without a reason".into()))
            }
            other => SendOutcome::Retry {
                after: (retry_after_ms > 0).then(|| Duration::from_millis(retry_after_ms)),
                reason: reason.unwrap_or_else(|| format!("status {other}")),
                panicked: other == SL_PANICKED,
            },
        }
    }
}

/// One live output instance. Used by one thread at a time.
pub(crate) struct OutputInstance(Instance);

impl std::fmt::Debug for OutputInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputInstance")
            .field("plugin", &self.name())
            .finish()
    }
}

impl OutputInstance {
    /// Creates an output from `config_json`; records it refuses for good within a
    /// batch go to `dead_letters` (without one, the output is told it cannot).
    pub(crate) fn create(
        plugin: &'static LoadedPlugin,
        config_json: &str,
        info: Arc<HostInfo>,
        dead_letters: Option<DeadLetterSink>,
    ) -> Result<OutputInstance, PluginError> {
        Instance::create(plugin, SL_KIND_OUTPUT, config_json, info, dead_letters)
            .map(OutputInstance)
    }

    /// The plugin's name.
    pub(crate) fn name(&self) -> &str {
        &self.0.plugin().name
    }

    /// Offers `data` (`records` JSON lines of `table`) as batch `batch_id`, for the
    /// `attempt`-th time (from 0).
    pub(crate) fn send(
        &mut self,
        data: &Arc<Vec<u8>>,
        table: Table,
        batch_id: u64,
        records: u32,
        attempt: u32,
    ) -> SendOutcome {
        if !self.0.recover(SL_OK) {
            return SendOutcome::Retry {
                after: None,
                reason: "the output plugin could not be created".into(),
                panicked: false,
            };
        }
        unsafe extern "C" fn release(ctx: *mut c_void) {
            // SAFETY: `ctx` is the `Arc` leaked below for this payload, released once.
            drop(unsafe { Arc::from_raw(ctx.cast_const().cast::<Vec<u8>>()) });
        }
        let payload = SlPayload {
            struct_size: min_size::PAYLOAD,
            table: table.code(),
            batch_id,
            record_count: records,
            attempt,
            data: SlStr::from_bytes(data),
            release,
            release_ctx: Arc::into_raw(Arc::clone(data)).cast_mut().cast(),
        };
        let mut retry_after_ms = 0u64;
        let _ = self.0.take_error();
        self.0.set_batch(batch_id);
        let vt = self.0.plugin().vtable.cast::<SlOutputVtable>();
        // SAFETY: `Instance::create` checked this is an output plugin, whose vtable
        // the loader checked is at least the 1.0 output vtable, which holds `send`;
        // the field is read through the pointer, with no reference to the whole
        // (possibly older, smaller) struct.
        let send = unsafe { std::ptr::addr_of!((*vt).send).read() };
        // SAFETY: the instance is live and calls do not overlap (`&mut self`); the
        // payload's bytes are kept alive by the Arc clone until the plugin releases it.
        let status = unsafe { send(self.0.ptr(), &payload, &mut retry_after_ms) };
        let reason = self.0.take_error();
        self.0.recover(status);
        SendOutcome::from_status(status, retry_after_ms, reason)
    }

    /// Runs the output's own setup check (ABI 1.1). `Ok(false)` when it has none.
    pub(crate) fn check(&mut self, online: bool) -> Result<bool, String> {
        if !self.0.recover(SL_OK) {
            return Err("the plugin instance could not be created".into());
        }
        if !self
            .0
            .has_field(std::mem::offset_of!(SlOutputVtable, check))
        {
            return Ok(false);
        }
        let vt = self.0.plugin().vtable.cast::<SlOutputVtable>();
        // SAFETY: the vtable is an output vtable that holds the 1.1 `check` field,
        // read through the pointer (as in `send`).
        let Some(check) = (unsafe { std::ptr::addr_of!((*vt).check).read() }) else {
            return Ok(false);
        };
        let _ = self.0.take_error();
        let flags = if online { SL_CHECK_ONLINE } else { 0 };
        // SAFETY: the instance is live and calls do not overlap (`&mut self`).
        let status = unsafe { check(self.0.ptr(), flags) };
        self.0.recover(status);
        match status {
            SL_OK => Ok(true),
            SL_PANICKED => Err("the plugin panicked while checking its setup".into()),
            _ => Err(self
                .0
                .take_error()
                .unwrap_or_else(|| "the check failed without saying why".into())),
        }
    }
}

/// What an output asked of its batches (ABI 1.2); zero fields ask nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct OutputPreferences {
    pub batch_bytes: usize,
    pub flush_interval: Duration,
}

impl OutputInstance {
    /// The output's batching preferences; an output built for ABI 1.0 or 1.1, or
    /// one without the function, asks nothing.
    pub(crate) fn preferences(&mut self) -> OutputPreferences {
        if !self.0.recover(SL_OK)
            || !self
                .0
                .has_field(std::mem::offset_of!(SlOutputVtable, preferences))
        {
            return OutputPreferences::default();
        }
        let vt = self.0.plugin().vtable.cast::<SlOutputVtable>();
        // SAFETY: the vtable is an output vtable that holds the 1.2 `preferences`
        // field, read through the pointer (as in `send`).
        let Some(preferences) = (unsafe { std::ptr::addr_of!((*vt).preferences).read() }) else {
            return OutputPreferences::default();
        };
        let mut prefs = SlOutputPreferences {
            struct_size: std::mem::size_of::<SlOutputPreferences>() as u32,
            ..SlOutputPreferences::default()
        };
        // SAFETY: the instance is live and calls do not overlap (`&mut self`);
        // `prefs` is a writable struct of the size it says.
        unsafe { preferences(self.0.ptr(), &mut prefs) };
        OutputPreferences {
            batch_bytes: usize::try_from(prefs.batch_bytes).unwrap_or(usize::MAX),
            flush_interval: Duration::from_millis(prefs.flush_interval_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_become_outcomes() {
        assert_eq!(
            SendOutcome::from_status(SL_OK, 0, None),
            SendOutcome::Delivered
        );
        assert_eq!(
            SendOutcome::from_status(SL_REJECT, 0, Some("bad column".into())),
            SendOutcome::Reject("bad column".into())
        );
        assert_eq!(
            SendOutcome::from_status(SL_REJECT, 0, None),
            SendOutcome::Reject("rejected without a reason".into())
        );
        assert_eq!(
            SendOutcome::from_status(SL_RETRY, 1500, Some("429".into())),
            SendOutcome::Retry {
                after: Some(Duration::from_millis(1500)),
                reason: "429".into(),
                panicked: false
            }
        );
        assert_eq!(
            SendOutcome::from_status(SL_ERROR, 0, None),
            SendOutcome::Retry {
                after: None,
                reason: format!("status {SL_ERROR}"),
                panicked: false
            }
        );
        assert!(matches!(
            SendOutcome::from_status(SL_PANICKED, 0, None),
            SendOutcome::Retry {
                panicked: true,
                after: None,
                ..
            }
        ));
    }
}
