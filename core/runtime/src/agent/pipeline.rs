//! The stages behind the listeners, started from one configuration's
//! [`Prepared`] instances: workers (decoders, filters), the journal and the
//! shipper (output). Starting creates no plugin instance: it opens the journal
//! and spawns the threads.

use super::components::Prepared;
use crate::config::Config;
use crate::health::Health;
use crate::journal;
use crate::listen::Feed;
use crate::metrics::Metrics;
use crate::pipeline::carry::Carry;
use crate::pipeline::serialize::Serializer;
use crate::pipeline::Worker;
use crate::ship::{Deadline, Shipper, Stop};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(f)
        .map_err(|e| format!("cannot start thread {name}: {e}"))
}

pub(super) struct Pipeline {
    workers: Vec<JoinHandle<()>>,
    shipper: JoinHandle<()>,
    deadline: Deadline,
}

impl Pipeline {
    /// Opens the journal and starts the threads, running `prepared`'s instances;
    /// returns them with what feeds the workers. When a thread cannot start,
    /// those already started are stopped before the error returns (records
    /// handed to the workers go on to the next pipeline through `carry`).
    pub(super) async fn start(
        config: &Config,
        prepared: Prepared,
        metrics: &Arc<Metrics>,
        health: &Arc<Health>,
        carry: &Arc<Carry>,
    ) -> Result<(Pipeline, Feed), String> {
        let Prepared {
            output,
            dead_letters,
            workers: plugins,
            this_host,
            host_name,
        } = prepared;
        #[cfg(test)]
        super::tests::injected_start_failure(config)?;
        let journal_config = journal::JournalConfig {
            dir: config.state_dir.join("journal"),
            max_bytes: config.journal.max_bytes,
            when_full: config.journal.when_full,
            fsync: config.journal.fsync,
            health: Arc::clone(health),
        };
        let (journal_writer, journal_reader) = journal::open(journal_config, Arc::clone(metrics))?;
        let journal_state = journal_writer.write_state();
        let deadline = Deadline::default();
        let shipper = Shipper {
            output,
            journal: journal_reader,
            metrics: Arc::clone(metrics),
            batch_max_bytes: config.pipeline.batch_max_bytes,
            dead_letters,
            deadline: Arc::clone(&deadline),
            health: Arc::clone(health),
        };
        let shipper = spawn("shipper".into(), move || shipper.run())?;
        let mut pipeline = Pipeline {
            workers: Vec::new(),
            shipper,
            deadline,
        };

        let per_worker_queue = (config.pipeline.queue_batches / plugins.len().max(1)).max(4);
        let mut senders = Vec::new();
        for (i, plugins) in plugins.into_iter().enumerate() {
            let worker = Worker {
                name: format!("worker-{i}"),
                health: Arc::clone(health),
                decoders: plugins.decoders,
                filters: plugins.filters,
                serializer: Serializer::new(&host_name),
                journal: journal_writer.clone(),
                metrics: Arc::clone(metrics),
                this_host: this_host.clone(),
                carry: Arc::clone(carry),
            };
            let (tx, rx) = crossbeam_channel::bounded(per_worker_queue);
            match spawn(format!("worker-{i}"), move || worker.run(rx)) {
                Ok(thread) => {
                    senders.push(tx);
                    pipeline.workers.push(thread);
                }
                Err(e) => {
                    drop((senders, journal_writer));
                    carry.set_reloading(true);
                    pipeline.stop(Duration::ZERO, true).await;
                    carry.set_reloading(false);
                    return Err(e);
                }
            }
        }
        drop(journal_writer);
        Ok((
            pipeline,
            Feed {
                workers: senders,
                journal: journal_state,
            },
        ))
    }

    /// Lets the shipper settle (deliver or dead-letter) for at most `drain` more (`reload`: because a
    /// reload replaces this pipeline, which its log lines say). Once it stops,
    /// the journal no longer blocks workers when it is full, so their queues empty.
    pub(super) fn deadline(&self, drain: Duration, reload: bool) {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner()) = Some(Stop {
            at: Instant::now() + drain,
            reload,
        });
    }

    /// Stops within `drain`: see [`Pipeline::join`].
    pub(super) async fn stop(self, drain: Duration, reload: bool) {
        self.deadline(drain, reload);
        self.join().await;
    }

    /// Waits for the workers to finish their queues (their senders must be gone)
    /// and for the shipper to reach its deadline.
    pub(super) async fn join(self) {
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
