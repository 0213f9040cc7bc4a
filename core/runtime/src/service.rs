//! The service manager's side channel (sd_notify): READY once listening, RELOADING
//! around a SIGHUP, STOPPING while draining, STATUS lines, and the watchdog. Without
//! `NOTIFY_SOCKET` (not started by systemd) every call does nothing.

use sd_notify::NotifyState;
use std::time::Duration;

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::debug!(error = %e, "could not notify the service manager");
    }
}

pub(crate) fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub(crate) fn reloading() {
    // Type=notify-reload wants the monotonic time with RELOADING.
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub(crate) fn stopping(status: &str) {
    send(&[NotifyState::Stopping, NotifyState::Status(status)]);
}

/// The interval at which to pet the watchdog (half of `WatchdogSec`), if it is on.
pub(crate) fn watchdog_interval() -> Option<Duration> {
    let mut usec = 0;
    sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec / 2))
}

pub(crate) fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// Sends a STATUS line alone.
pub(crate) fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

/// What `run` tells the supervisor: its own STATUS text and the stall limit.
#[derive(Debug, Clone)]
pub(crate) struct Base {
    pub status: String,
    pub stall_limit: std::time::Duration,
}

/// Keeps STATUS true and pets the watchdog only while every pipeline stage makes
/// progress (see [`crate::health`]): a stalled or dead stage is logged and shown,
/// and the pets stop so the service manager restarts the agent. Known conditions
/// (journal full, disk failing) are shown and the pets go on: the agent recovers
/// from them by itself. Runs on the listener runtime until the process ends.
pub(crate) async fn supervise(
    health: std::sync::Arc<crate::health::Health>,
    base: tokio::sync::watch::Receiver<Base>,
) {
    let pet_every = watchdog_interval();
    let check_every = pet_every.map_or(Duration::from_secs(1), |p| p.min(Duration::from_secs(1)));
    let mut tick = tokio::time::interval(check_every);
    let mut last_pet: Option<std::time::Instant> = None;
    let mut shown = String::new();
    let mut stalled_before: Vec<String> = Vec::new();
    loop {
        tick.tick().await;
        let Base {
            status: base_status,
            stall_limit,
        } = base.borrow().clone();
        let stalls = health.stalled(stall_limit);
        let names: Vec<String> = stalls.iter().map(|s| s.stage.clone()).collect();
        for stall in stalls.iter().filter(|s| !stalled_before.contains(&s.stage)) {
            tracing::error!(stage = %stall.stage, stall_timeout_secs = stall_limit.as_secs(), "pipeline wedged: {stall}; the service manager's watchdog is no longer petted, so it restarts the agent (the journal keeps what was accepted)");
        }
        if stalls.is_empty() && !stalled_before.is_empty() {
            tracing::info!("pipeline makes progress again; petting the watchdog");
        }
        stalled_before = names;
        let conditions = health.conditions_now();
        let text = if !stalls.is_empty() {
            let what: Vec<String> = stalls.iter().map(ToString::to_string).collect();
            format!("wedged: {}; not petting the watchdog", what.join("; "))
        } else if conditions.is_empty() {
            base_status
        } else {
            format!("{base_status}; {}", conditions.join("; "))
        };
        if text != shown {
            status(&text);
            shown = text;
        }
        if let Some(every) = pet_every {
            if stalls.is_empty() && last_pet.is_none_or(|t| t.elapsed() + check_every / 2 >= every)
            {
                watchdog();
                last_pet = Some(std::time::Instant::now());
            }
        }
    }
}
