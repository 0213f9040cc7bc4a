//! `syslane run`: start every stage, wait for signals, reload or drain, exit.
//!
//! Start-up order puts the failure-prone parts first (config, plugins, their
//! configs, sockets) so a mistake ends the process before anything is accepted.
//! Shutdown runs the other way: listeners stop reading (connections drain what is
//! already in flight), workers finish their queues, and the shipper delivers what
//! is journaled until `shutdown_timeout` passes; the rest stays journaled.
//!
//! SIGHUP re-reads the configuration and checks all of it (plugins included)
//! before touching anything: a bad one is refused with the reason and the running
//! one stays. A good one replaces the running stages; the journal, on disk, carries
//! every accepted record across. Listeners are reopened, so a UDP datagram that
//! arrives in the few milliseconds between is not received.

use super::components::Components;
use crate::config::Config;
use crate::journal;
use crate::listen::{self, ListenContext, Router};
use crate::metrics::Metrics;
use crate::pipeline::serialize::Serializer;
use crate::pipeline::Worker;
use crate::ship::{DeadLetters, Deadline, Shipper};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinSet;

fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(f)
        .map_err(|e| format!("cannot start thread {name}: {e}"))
}

/// One running set of stages built from one configuration.
struct Generation {
    stop: watch::Sender<bool>,
    listeners: JoinSet<()>,
    stats: tokio::task::JoinHandle<()>,
    workers: Vec<JoinHandle<()>>,
    shipper: JoinHandle<()>,
    deadline: Deadline,
}

impl Generation {
    fn start(
        config: &Config,
        metrics: &Arc<Metrics>,
    ) -> Result<(Generation, ListenerStart), String> {
        std::fs::create_dir_all(&config.state_dir).map_err(|e| {
            format!(
                "{}: state_dir: cannot create {}: {e}; create it, writable by the agent's user",
                config.file.display(),
                config.state_dir.display()
            )
        })?;
        let components = Components::load(config)?;
        let dead_letters = DeadLetters::new(config.state_dir.join("dead-letter"));
        let current_batch = Arc::new(AtomicU64::new(0));
        let output = components.output(
            config,
            Some(dead_letters.sink(Arc::clone(metrics), Arc::clone(&current_batch))),
        )?;
        let journal_config = journal::JournalConfig {
            dir: config.state_dir.join("journal"),
            max_bytes: config.journal_max_bytes,
            when_full: config.when_full,
            fsync: config.fsync,
        };
        let (journal_writer, journal_reader) = journal::open(journal_config, Arc::clone(metrics))?;
        let deadline = Deadline::default();
        let shipper = Shipper {
            output,
            journal: journal_reader,
            metrics: Arc::clone(metrics),
            batch_max_bytes: config.batch_max_bytes,
            dead_letters,
            deadline: Arc::clone(&deadline),
            current_batch,
        };
        let shipper = spawn("shipper".into(), move || shipper.run())?;

        let per_worker_queue = (config.queue_batches / config.workers).max(4);
        let mut senders = Vec::new();
        let mut workers = Vec::new();
        for i in 0..config.workers {
            let worker = Worker {
                decoders: components.decoders(config)?,
                filters: components.filters(config)?,
                serializer: Serializer::new(&components.info.host_name),
                journal: journal_writer.clone(),
                metrics: Arc::clone(metrics),
                local_ip: components.local_ip.clone(),
            };
            let (tx, rx) = crossbeam_channel::bounded(per_worker_queue);
            senders.push(tx);
            workers.push(spawn(format!("worker-{i}"), move || worker.run(rx))?);
        }
        drop(journal_writer);
        let (stop, stopped) = watch::channel(false);
        let ctx = Arc::new(ListenContext {
            router: Router::new(senders),
            metrics: Arc::clone(metrics),
            max_message_size: config.max_message_size,
            idle_timeout: config.idle_timeout,
            max_connections: config.max_connections,
            udp_receive_buffer: config.udp_receive_buffer,
            shutdown: stopped,
        });
        let generation = Generation {
            stop,
            listeners: JoinSet::new(),
            stats: tokio::spawn(async {}),
            workers,
            shipper,
            deadline,
        };
        Ok((generation, ListenerStart(ctx)))
    }

    /// Opens the sockets and the counters socket.
    async fn listen(
        &mut self,
        config: &Config,
        starter: ListenerStart,
        metrics: &Arc<Metrics>,
    ) -> Result<(), String> {
        self.listeners = listen::start(config, starter.0).await?;
        self.stats = super::stats::serve(
            &config.state_dir,
            Arc::clone(metrics),
            self.stop.subscribe(),
        )?;
        Ok(())
    }

    /// Stops every stage; the shipper keeps delivering for at most `drain`.
    async fn stop(mut self, drain: Duration) {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + drain);
        let _ = self.stop.send(true);
        while self.listeners.join_next().await.is_some() {}
        let _ = self.stats.await;
        let (workers, shipper) = (self.workers, self.shipper);
        let _ = tokio::task::spawn_blocking(move || {
            for w in workers {
                let _ = w.join();
            }
            let _ = shipper.join();
        })
        .await;
    }
}

/// The listener context, handed from `start` (threads) to `listen` (sockets).
struct ListenerStart(Arc<ListenContext>);

/// Starts a generation and its sockets; a generation that fails half-way is stopped.
async fn launch(config: &Config, metrics: &Arc<Metrics>) -> Result<Generation, String> {
    let (mut generation, starter) = Generation::start(config, metrics)?;
    if let Err(e) = generation.listen(config, starter, metrics).await {
        generation.stop(Duration::ZERO).await;
        return Err(e);
    }
    Ok(generation)
}

/// Reads and checks a new configuration as `check-config` would.
fn prepare(path: &Path, running: &Config) -> Result<Config, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    if config.state_dir != running.state_dir {
        return Err(format!(
            "{}: state_dir: cannot change while running (the journal lives there); restart the service to move it",
            config.file.display()
        ));
    }
    let components = Components::load(&config)?;
    components.decoders(&config)?;
    components.filters(&config)?;
    components.output(&config, None)?;
    Ok(config)
}

/// The top-level keys and tables that differ, for the log.
fn changes(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let listen = |c: &Config| {
        c.listen
            .iter()
            .map(|l| {
                (
                    l.address.to_string(),
                    l.input.clone(),
                    l.options_json.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    let plugins = |v: &[crate::config::PluginRef]| {
        v.iter()
            .map(|p| (p.plugin.clone(), p.options_json.clone()))
            .collect::<Vec<_>>()
    };
    if listen(old) != listen(new) {
        changed.push("listen");
    }
    if plugins(&old.filters) != plugins(&new.filters) {
        changed.push("filter");
    }
    if plugins(std::slice::from_ref(&old.output)) != plugins(std::slice::from_ref(&new.output)) {
        changed.push("output");
    }
    if (
        old.workers,
        old.max_message_size,
        old.max_connections,
        old.idle_timeout,
        old.batch_max_bytes,
        old.queue_batches,
    ) != (
        new.workers,
        new.max_message_size,
        new.max_connections,
        new.idle_timeout,
        new.batch_max_bytes,
        new.queue_batches,
    ) || (
        old.journal_max_bytes,
        old.when_full,
        old.fsync,
        old.shutdown_timeout,
        &old.hostname,
        &old.plugin_dir,
    ) != (
        new.journal_max_bytes,
        new.when_full,
        new.fsync,
        new.shutdown_timeout,
        &new.hostname,
        &new.plugin_dir,
    ) {
        changed.push("settings");
    }
    changed
}

pub fn run(path: &Path) -> Result<(), String> {
    let mut config = Config::load(path).map_err(|e| e.to_string())?;
    // Every connection is a file descriptor: use all the service manager allows.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < config.max_connections as u64 + 64 => tracing::warn!(
            limit,
            max_connections = config.max_connections,
            "the open-file limit is below max_connections; raise LimitNOFILE or lower max_connections"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    let metrics = Arc::new(Metrics::default());
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
        let mut generation = launch(&config, &metrics).await?;
        tracing::info!(version = crate::VERSION, workers = config.workers, "syslane ready");
        let listening = |c: &Config| format!("listening on {} addresses", c.listen.len());
        crate::service::ready(&listening(&config));
        if let Some(every) = crate::service::watchdog_interval() {
            // Petted from the listener runtime: a stuck runtime stops the pets and
            // systemd restarts the service.
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    crate::service::watchdog();
                }
            });
        }
        loop {
            let reload = tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM: draining and stopping"); None }
                _ = int.recv() => { tracing::info!("SIGINT: draining and stopping"); None }
                _ = hup.recv() => {
                    crate::service::reloading();
                    match prepare(path, &config) {
                        Ok(new) => Some(new),
                        Err(e) => {
                            tracing::error!(error = %e, "SIGHUP: the new configuration is refused; the running one stays");
                            crate::service::ready(&format!("{}; the last reload was refused: {e}", listening(&config)));
                            continue;
                        }
                    }
                }
            };
            let Some(new) = reload else {
                crate::service::stopping("draining: delivering what is journaled");
                generation.stop(config.shutdown_timeout).await;
                return Ok(());
            };
            let changed = changes(&config, &new).join(", ");
            generation.stop(Duration::ZERO).await;
            generation = match launch(&new, &metrics).await {
                Ok(g) => {
                    tracing::info!(changed = %if changed.is_empty() { "nothing".into() } else { changed }, "SIGHUP: configuration reloaded; the journal carried every accepted record across");
                    config = new;
                    crate::service::ready(&listening(&config));
                    g
                }
                Err(e) => {
                    tracing::error!(error = %e, "SIGHUP: the new configuration could not start; going back to the running one");
                    let g = launch(&config, &metrics).await?;
                    crate::service::ready(&format!("{}; the last reload failed: {e}", listening(&config)));
                    g
                }
            };
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
