//! Counters of a running agent over a unix socket in `state_dir`: the agent writes
//! them in the Prometheus text format to every connection and closes it, so
//! `syslane stats`, `socat` or a node-exporter textfile job can read them.

use crate::metrics::Metrics;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;
use tokio::sync::watch;

/// Where a running agent serves its counters.
pub(crate) fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("syslane.sock")
}

/// Serves the counters until shutdown. A stale socket file is replaced; one a
/// live agent answers on is never taken from it. The socket is 0600: the agent's
/// user and root read the counters.
pub(crate) fn serve(
    state_dir: &Path,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let path = socket_path(state_dir);
    if std::os::unix::net::UnixStream::connect(&path).is_ok() {
        return Err(format!(
            "another agent answers on {}; one agent per state_dir: stop it, or give this configuration a state_dir of its own",
            path.display()
        ));
    }
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)
        .map_err(|e| format!("cannot serve counters on {}: {e}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot make {} private: {e}", path.display()))?;
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    if let Ok((mut stream, _)) = accepted {
                        let _ = stream.write_all(metrics.prometheus().as_bytes()).await;
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
        let _ = std::fs::remove_file(&path);
    }))
}
