//! The agent's lifecycle: start every stage, reload a new configuration, drain.
//!
//! Start-up order puts the failure-prone parts first (config, plugins, their
//! configs, sockets) so a mistake ends the process before anything is accepted.
//! Shutdown runs the other way: listeners stop reading (connections drain what is
//! already in flight), workers finish their queues, and the shipper delivers what
//! is journaled until `shutdown_timeout` passes; the rest stays journaled.
//!
//! Every plugin instance is created before anything starts
//! ([`Components::instantiate`] makes a [`Prepared`]: the output with its
//! dead-letter sink, and each worker's decoders and filters); starting a
//! pipeline then only opens the journal and spawns threads. A reload prepares
//! the new configuration first, without touching anything: a bad one is refused
//! with the reason and the running one stays. A good one's very instances
//! replace the pipeline (decoders, filters, journal, output); the journal, on
//! disk, carries every accepted record across. When the new pipeline cannot
//! start (the journal cannot be opened, a thread or a socket fails), the old
//! configuration is instantiated again (its instances went with its pipeline)
//! and runs on. When
//! [`crate::config::diff`] finds the sockets fit the new configuration they and
//! their connections stay open, and senders wait during the swap; otherwise they
//! are reopened, and UDP datagrams arriving in those milliseconds are not received.
//! TCP records a worker had read but could not journal yet (the disk is full)
//! are handed to the new pipeline ([`crate::pipeline::carry`]), never refused.

pub(crate) mod components;
mod listeners;
mod pipeline;
#[cfg(test)]
mod tests;

use crate::config::diff::Diff;
use crate::config::Config;
use crate::health::Health;
use crate::metrics::Metrics;
use crate::pipeline::carry::Carry;
use components::{Components, Prepared};
use listeners::Listeners;
use pipeline::Pipeline;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// One running configuration: its sockets and the stages behind them.
pub(crate) struct Generation {
    listeners: Listeners,
    pipeline: Pipeline,
    /// Shared with the generations before and after this one.
    carry: Arc<Carry>,
}

/// What a reload did.
pub(crate) struct Reloaded {
    /// Whether the sockets stayed open.
    pub kept_sockets: bool,
    /// The top-level keys and tables that differ, for the log.
    pub changed: Vec<&'static str>,
    /// `Err` when the new configuration could not start and the old one runs again.
    pub outcome: Result<(), String>,
}

/// The running configuration's instances again, after its replacement failed
/// to start (`why`).
fn again(old: &Config, metrics: &Arc<Metrics>, why: &str) -> Result<Prepared, String> {
    Components::instantiate(old, metrics).map_err(|e| {
        format!("the new configuration could not start ({why}), nor the running one again: {e}")
    })
}

impl Generation {
    /// Starts `prepared` (made from `config`) and its sockets; a pipeline whose
    /// sockets fail is stopped.
    pub(crate) async fn launch(
        config: &Config,
        prepared: Prepared,
        metrics: &Arc<Metrics>,
        health: &Arc<Health>,
    ) -> Result<Generation, String> {
        Generation::launch_with(config, prepared, metrics, health, Arc::default()).await
    }

    async fn launch_with(
        config: &Config,
        prepared: Prepared,
        metrics: &Arc<Metrics>,
        health: &Arc<Health>,
        carry: Arc<Carry>,
    ) -> Result<Generation, String> {
        let (pipeline, feed) = Pipeline::start(config, prepared, metrics, health, &carry).await?;
        match Listeners::open(config, feed, metrics).await {
            Ok(listeners) => Ok(Generation {
                listeners,
                pipeline,
                carry,
            }),
            Err(e) => {
                // Records handed to it go on to the next try.
                carry.set_reloading(true);
                pipeline.stop(Duration::ZERO, true).await;
                carry.set_reloading(false);
                Err(e)
            }
        }
    }

    /// Stops within `drain`. The deadline comes first: listeners may be waiting
    /// on workers that wait on a full journal, which only the shipper's stop frees.
    pub(crate) async fn stop(self, drain: Duration) {
        self.stop_as(drain, false).await;
    }

    /// Stops, for a reload when `reload` (held records are then handed over).
    async fn stop_as(self, drain: Duration, reload: bool) -> Arc<Carry> {
        self.carry.set_reloading(reload);
        self.pipeline.deadline(drain, reload);
        self.listeners.stop().await;
        self.pipeline.join().await;
        self.carry.set_reloading(false);
        self.carry
    }

    /// Replaces this generation, running `old`, with one running `new`'s
    /// instances, `prepared` by [`prepare`]. When they cannot start, `old` is
    /// instantiated and starts again; `Err` only when neither could.
    pub(crate) async fn reload(
        self,
        old: &Config,
        new: &Config,
        prepared: Prepared,
        metrics: &Arc<Metrics>,
        health: &Arc<Health>,
    ) -> Result<(Generation, Reloaded), String> {
        let Diff {
            keep_sockets,
            changed,
        } = Diff::new(old, new);
        let (generation, outcome) = if keep_sockets {
            self.swap_pipeline(old, new, prepared, metrics, health)
                .await?
        } else {
            let carry = self.stop_as(Duration::ZERO, true).await;
            match Generation::launch_with(new, prepared, metrics, health, Arc::clone(&carry)).await
            {
                Ok(g) => (g, Ok(())),
                Err(e) => {
                    let prepared = again(old, metrics, &e)?;
                    (
                        Generation::launch_with(old, prepared, metrics, health, carry).await?,
                        Err(e),
                    )
                }
            }
        };
        Ok((
            generation,
            Reloaded {
                kept_sockets: keep_sockets,
                changed,
                outcome,
            },
        ))
    }

    /// Replaces the pipeline behind running listeners: senders wait meanwhile, so
    /// connections stay open and UDP datagrams wait in the socket buffers. Falls
    /// back to `old` when `new` cannot start (the inner error says why).
    async fn swap_pipeline(
        self,
        old: &Config,
        new: &Config,
        prepared: Prepared,
        metrics: &Arc<Metrics>,
        health: &Arc<Health>,
    ) -> Result<(Generation, Result<(), String>), String> {
        let Generation {
            listeners,
            pipeline,
            carry,
        } = self;
        listeners.ctx.router.pause();
        carry.set_reloading(true);
        pipeline.stop(Duration::ZERO, true).await;
        carry.set_reloading(false);
        let (outcome, (pipeline, feed)) =
            match Pipeline::start(new, prepared, metrics, health, &carry).await {
                Ok(started) => (Ok(()), started),
                Err(e) => {
                    let prepared = again(old, metrics, &e)?;
                    let started = Pipeline::start(old, prepared, metrics, health, &carry).await?;
                    (Err(e), started)
                }
            };
        listeners.ctx.router.replace(feed);
        Ok((
            Generation {
                listeners,
                pipeline,
                carry,
            },
            outcome,
        ))
    }
}

/// Reads a new configuration for `running` and creates its instances, checking
/// it as `check-config` would; a reload then starts these very instances.
pub(crate) fn prepare(
    path: &Path,
    running: &Config,
    metrics: &Arc<Metrics>,
) -> Result<(Config, Prepared), String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    if config.state_dir != running.state_dir {
        return Err(format!(
            "{}: state_dir: cannot change while running (the journal lives there); restart the service to move it",
            config.file.display()
        ));
    }
    let prepared = Components::instantiate(&config, metrics)?;
    Ok((config, prepared))
}
