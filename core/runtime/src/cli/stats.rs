//! Counters of a running agent over a unix socket in `state_dir`: the agent writes
//! them in the Prometheus text format to every connection and closes it, so
//! `syslane stats`, `socat` or a node-exporter textfile job can read them.
//! `syslane stats` reads them twice and prints a summary (see [`summary`]).

#[path = "stats_summary.rs"]
mod summary;

use crate::config::Config;
use crate::metrics::Metrics;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;
use tokio::sync::watch;

/// Where a running agent serves its counters.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("syslane.sock")
}

/// Serves the counters until shutdown. A stale socket file is replaced; one a
/// live agent answers on is never taken from it. The socket is 0600: the agent's
/// user and root read the counters.
pub fn serve(
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

/// `--interval`: seconds, more than 0 and at most an hour.
pub fn parse_interval(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 3600.0 => Ok(s),
        _ => Err(format!(
            "`{text}` is not a number of seconds from 0.1 to 3600"
        )),
    }
}

/// `syslane stats`: the summary, or with `prometheus` the text as served.
pub fn show(path: &Path, prometheus: bool, interval: f64) -> Result<String, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let first = read_socket(&config, path)?;
    if prometheus {
        return Ok(first);
    }
    let started = std::time::Instant::now();
    std::thread::sleep(std::time::Duration::from_secs_f64(interval));
    let second = read_socket(&config, path)?;
    Ok(summary::render(
        &summary::Sample::parse(&first),
        &summary::Sample::parse(&second),
        started.elapsed().as_secs_f64(),
        std::time::SystemTime::now(),
    ))
}

/// Reads the counters of the agent running with the configuration at `path`.
pub fn read(path: &Path) -> Result<String, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    read_socket(&config, path)
}

fn read_socket(config: &Config, path: &Path) -> Result<String, String> {
    let socket = socket_path(&config.state_dir);
    let mut stream = std::os::unix::net::UnixStream::connect(&socket).map_err(|e| {
        format!(
            "no agent answers on {} ({e}); is `syslane run {}` running?",
            socket.display(),
            if path == Path::new(crate::config::EMBEDDED) {
                "--embedded-config".to_string()
            } else {
                format!("--config {}", path.display())
            }
        )
    })?;
    let mut text = String::new();
    stream
        .read_to_string(&mut text)
        .map_err(|e| format!("reading {}: {e}", socket.display()))?;
    Ok(text)
}
