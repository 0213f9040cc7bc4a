//! `syslane run`: start every stage, wait for a signal, drain, exit.
//!
//! Start-up order puts the failure-prone parts first (config, plugins, their
//! configs, sockets) so a mistake ends the process before anything is accepted.
//! Shutdown runs the other way: listeners stop reading (connections drain what is
//! already in flight), workers finish their queues, and the shipper delivers what
//! is journaled until `shutdown_timeout` passes.

use super::components::Components;
use crate::config::Config;
use crate::journal;
use crate::listen::{self, ListenContext, Router};
use crate::metrics::Metrics;
use crate::pipeline::serialize::Serializer;
use crate::pipeline::Worker;
use crate::ship::{DeadLetters, Deadline, Shipper};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(f)
        .map_err(|e| format!("cannot start thread {name}: {e}"))
}

pub fn run(path: &Path) -> Result<(), String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&config.state_dir).map_err(|e| {
        format!(
            "{}: state_dir: cannot create {}: {e}; create it, writable by the agent's user",
            config.file.display(),
            config.state_dir.display()
        )
    })?;
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
    let components = Components::load(&config)?;
    let metrics = Arc::new(Metrics::default());
    let output = components.output(&config)?;
    let journal_config = journal::JournalConfig {
        dir: config.state_dir.join("journal"),
        max_bytes: config.journal_max_bytes,
        when_full: config.when_full,
        fsync: config.fsync,
    };
    let (journal_writer, journal_reader) = journal::open(journal_config, Arc::clone(&metrics))?;
    let deadline = Deadline::default();

    let shipper = Shipper {
        output,
        journal: journal_reader,
        metrics: Arc::clone(&metrics),
        batch_max_bytes: config.batch_max_bytes,
        dead_letters: DeadLetters::new(config.state_dir.join("dead-letter")),
        deadline: Arc::clone(&deadline),
    };
    let shipper = spawn("shipper".into(), move || shipper.run())?;

    let per_worker_queue = (config.queue_batches / config.workers).max(4);
    let mut senders = Vec::new();
    let mut workers = Vec::new();
    for i in 0..config.workers {
        let worker = Worker {
            decoders: components.decoders(&config)?,
            filters: components.filters(&config)?,
            serializer: Serializer::new(&components.info.host_name),
            journal: journal_writer.clone(),
            metrics: Arc::clone(&metrics),
            local_ip: components.local_ip.clone(),
        };
        let (tx, rx) = crossbeam_channel::bounded(per_worker_queue);
        senders.push(tx);
        workers.push(spawn(format!("worker-{i}"), move || worker.run(rx))?);
    }
    drop(journal_writer);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("listener")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the listener runtime: {e}"))?;
    let served = runtime.block_on(serve(&config, senders, Arc::clone(&metrics), &deadline));
    drop(runtime);
    for w in workers {
        let _ = w.join();
    }
    let _ = shipper.join();
    let summary: Vec<String> = metrics
        .snapshot()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    tracing::info!(counters = %summary.join(" "), "syslane stopped");
    served
}

async fn serve(
    config: &Config,
    senders: Vec<crossbeam_channel::Sender<listen::FrameBatch>>,
    metrics: Arc<Metrics>,
    deadline: &Deadline,
) -> Result<(), String> {
    let (stop, stopped) = watch::channel(false);
    let metrics_for_stats = Arc::clone(&metrics);
    let ctx = Arc::new(ListenContext {
        router: Router::new(senders),
        metrics,
        max_message_size: config.max_message_size,
        idle_timeout: config.idle_timeout,
        max_connections: config.max_connections,
        udp_receive_buffer: config.udp_receive_buffer,
        shutdown: stopped,
    });
    let mut tasks = listen::start(config, ctx).await?;
    let stats = super::stats::serve(
        &config.state_dir,
        Arc::clone(&metrics_for_stats),
        stop.subscribe(),
    )?;
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
    let mut int =
        signal(SignalKind::interrupt()).map_err(|e| format!("cannot watch SIGINT: {e}"))?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| format!("cannot watch SIGHUP: {e}"))?;
    tracing::info!(
        version = crate::VERSION,
        workers = config.workers,
        "syslane ready"
    );
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: draining and stopping"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: draining and stopping"); break; }
            _ = hup.recv() => {
                tracing::warn!("SIGHUP: reloading the configuration is not available in this version; restart the service to apply changes");
            }
        }
    }
    *deadline.lock().unwrap_or_else(|e| e.into_inner()) =
        Some(Instant::now() + config.shutdown_timeout);
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
    let _ = stats.await;
    Ok(())
}
