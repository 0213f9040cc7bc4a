//! The sockets, their connections, the counters socket and `/metrics`.

use crate::config::Config;
use crate::listen::{self, Feed, ListenContext, Router};
use crate::metrics::Metrics;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub(super) struct Listeners {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    stats: tokio::task::JoinHandle<()>,
    metrics_http: Option<tokio::task::JoinHandle<()>>,
    pub(super) ctx: Arc<ListenContext>,
}

impl Listeners {
    /// Binds every listener in `config`, feeding `feed`.
    pub(super) async fn open(
        config: &Config,
        feed: Feed,
        metrics: &Arc<Metrics>,
    ) -> Result<Listeners, String> {
        let (stop, stopped) = watch::channel(false);
        let settings = &config.listeners;
        let ctx = Arc::new(ListenContext {
            router: Router::new(feed),
            metrics: Arc::clone(metrics),
            max_message_size: settings.max_message_size,
            idle_timeout: settings.idle_timeout,
            max_connections: settings.max_connections,
            udp_receive_buffer: settings.udp_receive_buffer,
            tcp_receive_buffer: settings.tcp_receive_buffer,
            shutdown: stopped,
        });
        let opened = match listen::start(config, Arc::clone(&ctx)).await {
            Ok(tasks) => crate::metrics::socket::serve(
                &config.state_dir,
                Arc::clone(metrics),
                stop.subscribe(),
            )
            .map(|stats| (tasks, stats)),
            Err(e) => Err(e),
        };
        let opened = match (opened, settings.metrics_address) {
            (Ok(o), Some(address)) => {
                crate::metrics::http::serve(address, Arc::clone(metrics), stop.subscribe())
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

    /// Stops reading (connections drain what is in flight), then closes the workers' queues.
    pub(super) async fn stop(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        let _ = (&mut self.stats).await;
        if let Some(http) = self.metrics_http.take() {
            let _ = http.await;
        }
        self.ctx.router.close();
    }
}
