//! `syslane run`: the process around the agent ([`crate::agent`]): the state_dir
//! lock, the open-file limit, signals (SIGTERM and SIGINT drain and stop, SIGHUP
//! reloads) and the service manager's notifications.

use crate::agent::components::Components;
use crate::agent::{self, Generation};
use crate::config::Config;
use crate::health::Health;
use crate::metrics::Metrics;
use std::path::Path;
use std::sync::Arc;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

pub(super) fn run(path: &Path) -> Result<(), String> {
    let mut config = Config::load(path).map_err(|e| e.to_string())?;
    // One agent per state_dir, for this process's whole life (reloads included).
    let _lock = crate::state_dir::lock(
        &config.state_dir,
        "Stop that agent first, or give this configuration a state_dir of its own.",
    )
    .map_err(|e| format!("{}: {e}", config.file.display()))?;
    // Every connection is a file descriptor: use all the service manager allows.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < config.listeners.max_connections as u64 + 64 => tracing::warn!(
            limit,
            max_connections = config.listeners.max_connections,
            "the open-file limit is below max_connections; raise LimitNOFILE or lower max_connections"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("listener")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the listener runtime: {e}"))?;
    let result = runtime.block_on(async {
        let mut term = signal(SignalKind::terminate()).map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
        let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("cannot watch SIGINT: {e}"))?;
        let mut hup = signal(SignalKind::hangup()).map_err(|e| format!("cannot watch SIGHUP: {e}"))?;
        let prepared = Components::instantiate(&config, &metrics)?;
        let mut generation = Generation::launch(&config, prepared, &metrics, &health).await?;
        tracing::info!(version = crate::VERSION, workers = config.pipeline.workers, "syslane ready");
        let listening = |c: &Config| format!("listening on {} addresses", c.listen.len());
        crate::service::ready(&listening(&config));
        // STATUS and the watchdog follow the pipeline's progress (crate::health);
        // the pets come from the listener runtime, so a stuck runtime stops them too.
        let (status, status_rx) = watch::channel(crate::service::Base {
            status: listening(&config),
            stall_limit: config.pipeline.stall_timeout,
        });
        tokio::spawn(crate::service::supervise(Arc::clone(&health), status_rx));
        loop {
            let reload = tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM: draining and stopping"); None }
                _ = int.recv() => { tracing::info!("SIGINT: draining and stopping"); None }
                _ = hup.recv() => {
                    crate::service::reloading();
                    match agent::prepare(path, &config, &metrics) {
                        Ok(new) => Some(new),
                        Err(e) => {
                            tracing::error!(error = %e, "SIGHUP: the new configuration is refused; the running one stays");
                            let text = format!("{}; the last reload was refused: {e}", listening(&config));
                            crate::service::ready(&text);
                            status.send_modify(|b| b.status = text);
                            continue;
                        }
                    }
                }
            };
            let Some((new, prepared)) = reload else {
                crate::service::stopping("draining: delivering what is journaled");
                generation.stop(config.pipeline.shutdown_timeout).await;
                return Ok(());
            };
            let (next, reloaded) = generation
                .reload(&config, &new, prepared, &metrics, &health)
                .await?;
            generation = next;
            let changed = if reloaded.changed.is_empty() {
                "nothing".to_string()
            } else {
                reloaded.changed.join(", ")
            };
            let text = match reloaded.outcome {
                Ok(()) => {
                    let sockets = if reloaded.kept_sockets { "kept open" } else { "reopened" };
                    tracing::info!(%changed, listeners = sockets, "SIGHUP: configuration reloaded; the journal carried every accepted record across");
                    config = new;
                    listening(&config)
                }
                Err(e) => {
                    tracing::error!(error = %e, "SIGHUP: the new configuration could not start; going back to the running one");
                    format!("{}; the last reload failed: {e}", listening(&config))
                }
            };
            crate::service::ready(&text);
            status.send_replace(crate::service::Base {
                status: text,
                stall_limit: config.pipeline.stall_timeout,
            });
        }
    });
    drop(runtime);
    let summary: Vec<String> = metrics
        .snapshot()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    tracing::info!(counters = %summary.join(" "), "syslane stopped");
    result
}
