//! A port that another program holds when the agent starts is waited for rather
//! than a reason not to start: while the retired Log Analytics agent (omsagent)
//! still runs during a swap it holds udp/25224 and tcp/25226, and the agent must
//! come up beside it (its other listeners serving) and take those ports over the
//! moment the old agent is stopped. The wait is logged once with what to do, and
//! the port is tried again every [`RETRY`].

use std::time::Duration;
use tokio::sync::watch;

pub(super) const RETRY: Duration = Duration::from_secs(2);

/// Calls `bind` every [`RETRY`] while it fails with "address in use", until it
/// succeeds (`Some`), fails otherwise (logged, `None`) or the agent stops (`None`).
pub(super) async fn wait_for<T>(
    address: String,
    mut bind: impl FnMut() -> std::io::Result<T>,
    mut shutdown: watch::Receiver<bool>,
) -> Option<T> {
    tracing::warn!(
        %address,
        retry_secs = RETRY.as_secs(),
        "the port is in use by another program: listening on it as soon as it is free (the other listeners serve meanwhile). During a swap from the Log Analytics agent (omsagent), which holds 25224 and 25226 while it runs, this ends when it is stopped; otherwise stop the program that holds it (`ss -lnp` names it) or choose another port"
    );
    loop {
        if *shutdown.borrow() {
            return None;
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = shutdown.changed() => return None,
        }
        match bind() {
            Ok(bound) => {
                tracing::info!(%address, "the port is free now: listening");
                return Some(bound);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {}
            Err(e) => {
                tracing::error!(%address, error = %e, "cannot listen on the port that was in use; this listener stays closed until the agent restarts");
                return None;
            }
        }
    }
}
