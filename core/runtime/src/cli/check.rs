//! `check-config` and `plugins`.

use crate::agent::components::Components;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::plugin_host::{kind_name, PluginHost};
use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;

/// Validates everything `run` would, without changing anything: the file, the
/// state directory, every plugin's own config, that every listen address can be
/// bound, and the output's own checks (unless `offline`, with the network).
/// Returns a summary.
pub(super) fn check_config(path: &Path, offline: bool) -> Result<String, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let running = super::check_env::state_dir(&config)?;
    // Every instance `run` would create, the output with its dead-letter sink
    // (nothing is written there unless a batch is sent, and none is).
    let mut output = Components::instantiate(&config, &Arc::new(Metrics::default()))?.output;
    let agent = crate::state_dir::holder(&config.state_dir).flatten();
    let held = super::check_env::listen_addresses(&config, agent)?;
    let checked = output.check(!offline).map_err(|e| {
        config.section_error(config.output.section, &config.output.plugin, &e.to_string())
    })?;
    let mut summary = format!("{}: OK\n", config.file.display());
    let _ = writeln!(summary, "  state_dir {}", config.state_dir.display());
    for note in running.iter().chain(&held) {
        let _ = writeln!(summary, "  note: {note}");
    }
    for l in &config.listen {
        let _ = writeln!(summary, "  listen {} -> {}", l.address, l.input);
    }
    for f in &config.filters {
        let _ = writeln!(summary, "  filter {}", f.plugin);
    }
    let _ = write!(summary, "  output {}", config.output.plugin);
    if checked {
        summary.push_str(if offline {
            " (own checks passed, network skipped)"
        } else {
            " (own checks passed, network included)"
        });
    }
    Ok(summary)
}

/// A table of the plugins in plugin_dir, with the files that were refused and why.
pub(super) fn list_plugins(path: &Path) -> Result<String, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let host = PluginHost::new(&config.plugin_dir).map_err(|e| e.to_string())?;
    let mut out = format!(
        "{:<16} {:<16} {:<10} {:<5} FILE\n",
        "NAME", "KIND", "VERSION", "ABI"
    );
    let mut refused = String::new();
    for found in host.discover() {
        match found {
            Ok(p) => {
                let _ = writeln!(
                    out,
                    "{:<16} {:<16} {:<10} {:<5} {}",
                    p.name,
                    kind_name(p.kind),
                    p.version,
                    format!("{}.{}", p.abi_major, p.abi_minor),
                    p.path.display()
                );
            }
            Err(e) => {
                let _ = writeln!(refused, "refused: {e}");
            }
        }
    }
    out.push_str(&refused);
    Ok(out)
}
