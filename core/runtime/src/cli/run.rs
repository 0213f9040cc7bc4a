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
//! one stays. A good one replaces the pipeline (decoders, filters, journal,
//! output); the journal, on disk, carries every accepted record across. When the
//! listen addresses and listener settings are unchanged the sockets and their
//! connections stay open, and senders wait during the swap; otherwise they are
//! reopened, and UDP datagrams arriving in those milliseconds are not received.

use super::components::Components;
use crate::config::Config;
use crate::health::Health;
use crate::journal;
use crate::listen::{self, FrameBatch, ListenContext, Router};
use crate::metrics::Metrics;
use crate::pipeline::serialize::Serializer;
use crate::pipeline::Worker;
use crate::ship::{DeadLetters, Deadline, Shipper};
use std::path::Path;
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

/// The stages behind the listeners, built from one configuration: workers
/// (decoders, filters), the journal and the shipper (output).
struct Pipeline {
    workers: Vec<JoinHandle<()>>,
    shipper: JoinHandle<()>,
    deadline: Deadline,
}

impl Pipeline {
    /// Starts the stages; returns them with the senders that feed the workers.
    fn start(
        config: &Config,
        metrics: &Arc<Metrics>,
        health: &Arc<Health>,
    ) -> Result<(Pipeline, Vec<crossbeam_channel::Sender<FrameBatch>>), String> {
        let components = Components::load(config)?;
        let dead_letters = DeadLetters::new(config.state_dir.join("dead-letter"));
        let output = components.output(config, Some(dead_letters.sink(Arc::clone(metrics))))?;
        let journal_config = journal::JournalConfig {
            dir: config.state_dir.join("journal"),
            max_bytes: config.journal_max_bytes,
            when_full: config.when_full,
            fsync: config.fsync,
            health: Arc::clone(health),
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
            health: Arc::clone(health),
        };
        let shipper = spawn("shipper".into(), move || shipper.run())?;

        let per_worker_queue = (config.queue_batches / config.workers).max(4);
        let mut senders = Vec::new();
        let mut workers = Vec::new();
        for i in 0..config.workers {
            let worker = Worker {
                name: format!("worker-{i}"),
                health: Arc::clone(health),
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
        Ok((
            Pipeline {
                workers,
                shipper,
                deadline,
            },
            senders,
        ))
    }

    /// Lets the shipper deliver for at most `drain` more. Once it stops, the
    /// journal no longer blocks workers when it is full, so their queues empty.
    fn deadline(&self, drain: Duration) {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + drain);
    }

    /// Stops within `drain`: see [`Pipeline::join`].
    async fn stop(self, drain: Duration) {
        self.deadline(drain);
        self.join().await;
    }

    /// Waits for the workers to finish their queues (their senders must be gone)
    /// and for the shipper to reach its deadline.
    async fn join(self) {
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

/// The sockets, their connections, the counters socket and `/metrics`.
struct Listeners {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    stats: tokio::task::JoinHandle<()>,
    metrics_http: Option<tokio::task::JoinHandle<()>>,
    ctx: Arc<ListenContext>,
}

impl Listeners {
    /// Binds every listener in `config`, feeding `senders`.
    async fn open(
        config: &Config,
        senders: Vec<crossbeam_channel::Sender<FrameBatch>>,
        metrics: &Arc<Metrics>,
    ) -> Result<Listeners, String> {
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
        let opened = match listen::start(config, Arc::clone(&ctx)).await {
            Ok(tasks) => {
                super::stats::serve(&config.state_dir, Arc::clone(metrics), stop.subscribe())
                    .map(|stats| (tasks, stats))
            }
            Err(e) => Err(e),
        };
        let opened = match (opened, config.metrics_address) {
            (Ok(o), Some(address)) => {
                crate::metrics_http::serve(address, Arc::clone(metrics), stop.subscribe())
                    .await
                    .map(|(_, http)| (o, Some(http)))
            }
            (opened, _) => opened.map(|o| (o, None)),
        };
        match opened {
            Ok(((tasks, stats), metrics_http)) => Ok(Listeners {
                stop,
                tasks,
                stats,
                metrics_http,
                ctx,
            }),
            Err(e) => {
                let _ = stop.send(true);
                ctx.router.close();
                Err(e)
            }
        }
    }

    /// Whether `new` can keep these sockets: the same addresses in the same order
    /// (decoders are chosen by position) and the same listener settings.
    fn fit(old: &Config, new: &Config) -> bool {
        let addresses = |c: &Config| {
            c.listen
                .iter()
                .map(|l| l.address.to_string())
                .collect::<Vec<_>>()
        };
        addresses(old) == addresses(new)
            && old.metrics_address == new.metrics_address
            && old
                .listen
                .iter()
                .map(|l| &l.unix)
                .eq(new.listen.iter().map(|l| &l.unix))
            && (
                old.max_message_size,
                old.idle_timeout,
                old.max_connections,
                old.udp_receive_buffer,
            ) == (
                new.max_message_size,
                new.idle_timeout,
                new.max_connections,
                new.udp_receive_buffer,
            )
    }

    /// Stops reading (connections drain what is in flight), then closes the workers' queues.
    async fn stop(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        let _ = (&mut self.stats).await;
        if let Some(http) = self.metrics_http.take() {
            let _ = http.await;
        }
        self.ctx.router.close();
    }
}

/// One running configuration.
struct Generation {
    listeners: Listeners,
    pipeline: Pipeline,
}

impl Generation {
    /// The deadline comes first: listeners may be waiting on workers that wait on
    /// a full journal, which only the shipper's stop frees.
    async fn stop(self, drain: Duration) {
        self.pipeline.deadline(drain);
        self.listeners.stop().await;
        self.pipeline.join().await;
    }
}

/// Starts a pipeline and its sockets; a pipeline whose sockets fail is stopped.
async fn launch(
    config: &Config,
    metrics: &Arc<Metrics>,
    health: &Arc<Health>,
) -> Result<Generation, String> {
    let (pipeline, senders) = Pipeline::start(config, metrics, health)?;
    match Listeners::open(config, senders, metrics).await {
        Ok(listeners) => Ok(Generation {
            listeners,
            pipeline,
        }),
        Err(e) => {
            pipeline.stop(Duration::ZERO).await;
            Err(e)
        }
    }
}

/// Replaces the pipeline behind running listeners: senders wait meanwhile, so
/// connections stay open and UDP datagrams wait in the socket buffers. Falls
/// back to `old` when `new` cannot start (the inner error says why).
async fn swap_pipeline(
    generation: Generation,
    old: &Config,
    new: &Config,
    metrics: &Arc<Metrics>,
    health: &Arc<Health>,
) -> Result<(Generation, Result<(), String>), String> {
    let Generation {
        listeners,
        pipeline,
    } = generation;
    listeners.ctx.router.replace(Vec::new());
    pipeline.stop(Duration::ZERO).await;
    let (outcome, (pipeline, senders)) = match Pipeline::start(new, metrics, health) {
        Ok(started) => (Ok(()), started),
        Err(e) => (Err(e), Pipeline::start(old, metrics, health)?),
    };
    listeners.ctx.router.replace(senders);
    Ok((
        Generation {
            listeners,
            pipeline,
        },
        outcome,
    ))
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
        old.stall_timeout,
        &old.hostname,
        &old.plugin_dir,
    ) != (
        new.journal_max_bytes,
        new.when_full,
        new.fsync,
        new.shutdown_timeout,
        new.stall_timeout,
        &new.hostname,
        &new.plugin_dir,
    ) {
        changed.push("settings");
    }
    changed
}

pub fn run(path: &Path) -> Result<(), String> {
    let mut config = Config::load(path).map_err(|e| e.to_string())?;
    // One agent per state_dir, for this process's whole life (reloads included).
    let _lock = crate::state_dir::lock(
        &config.state_dir,
        "Stop that agent first, or give this configuration a state_dir of its own.",
    )
    .map_err(|e| format!("{}: {e}", config.file.display()))?;
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
        let mut generation = launch(&config, &metrics, &health).await?;
        tracing::info!(version = crate::VERSION, workers = config.workers, "syslane ready");
        let listening = |c: &Config| format!("listening on {} addresses", c.listen.len());
        crate::service::ready(&listening(&config));
        // STATUS and the watchdog follow the pipeline's progress (crate::health);
        // the pets come from the listener runtime, so a stuck runtime stops them too.
        let (status, status_rx) = watch::channel(crate::service::Base {
            status: listening(&config),
            stall_limit: config.stall_timeout,
        });
        tokio::spawn(crate::service::supervise(Arc::clone(&health), status_rx));
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
                            let text = format!("{}; the last reload was refused: {e}", listening(&config));
                            crate::service::ready(&text);
                            status.send_modify(|b| b.status = text);
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
            let changed = if changed.is_empty() { "nothing".to_string() } else { changed };
            let keep_sockets = Listeners::fit(&config, &new);
            let (next, outcome) = if keep_sockets {
                swap_pipeline(generation, &config, &new, &metrics, &health).await?
            } else {
                generation.stop(Duration::ZERO).await;
                match launch(&new, &metrics, &health).await {
                    Ok(g) => (g, Ok(())),
                    Err(e) => (launch(&config, &metrics, &health).await?, Err(e)),
                }
            };
            generation = next;
            let text = match outcome {
                Ok(()) => {
                    let sockets = if keep_sockets { "kept open" } else { "reopened" };
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
                stall_limit: config.stall_timeout,
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
