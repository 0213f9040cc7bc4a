//! `syslane stats`: reads the counters a running agent serves on its socket in
//! `state_dir` ([`crate::metrics::socket`]), twice, and prints a summary (see
//! [`summary`]), or once as the Prometheus text with `--prometheus`.

#[path = "stats_summary.rs"]
mod summary;

use crate::config::Config;
use crate::metrics::socket::socket_path;
use std::io::Read;
use std::path::Path;

/// `--interval`: seconds, more than 0 and at most an hour.
pub(crate) fn parse_interval(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 3600.0 => Ok(s),
        _ => Err(format!(
            "`{text}` is not a number of seconds from 0.1 to 3600"
        )),
    }
}

/// `syslane stats`: the summary, or with `prometheus` the text as served.
pub(crate) fn show(path: &Path, prometheus: bool, interval: f64) -> Result<String, String> {
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
