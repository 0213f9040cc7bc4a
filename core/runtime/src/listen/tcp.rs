//! The TCP listener: LF/NUL-delimited and octet-counted frames on one port.

use super::{FrameBatch, ListenContext};
use crate::metrics::Metrics;
use crate::system::now_ns;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use syslane_abi::{SL_FRAME_INCOMPLETE, SL_FRAME_TRUNCATED, SL_TRANSPORT_TCP};
use syslane_syslog::{FrameFlags, Framer};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Bytes asked of the socket per read.
const READ_SIZE: usize = 32 * 1024;
/// At shutdown, a connection keeps reading until it has been quiet this long…
const DRAIN_QUIET: Duration = Duration::from_millis(300);
/// …but no longer than this, so a sender that never pauses cannot hold the agent.
const DRAIN_MAX: Duration = Duration::from_secs(2);

pub(super) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

/// What a TCP listener speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Speaks {
    /// Plain syslog: LF/NUL-delimited or octet-counted frames, no acknowledgements.
    Syslog,
    /// RELP: every message acknowledged once journaled.
    Relp,
}

pub(super) async fn run(
    listener: TcpListener,
    index: usize,
    ctx: Arc<ListenContext>,
    speaks: Speaks,
) {
    let permits = Arc::new(Semaphore::new(ctx.max_connections));
    let mut connections = JoinSet::new();
    let mut shutdown = ctx.shutdown.clone();
    let mut warned_full = false;
    loop {
        while connections.try_join_next().is_some() {}
        if permits.available_permits() == 0 && !warned_full {
            tracing::warn!(
                max_connections = ctx.max_connections,
                "connection limit reached; new connections wait in the backlog"
            );
            warned_full = true;
        }
        let permit = tokio::select! {
            p = Arc::clone(&permits).acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.changed() => break,
        };
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                warned_full = false;
                let ctx = Arc::clone(&ctx);
                connections.spawn(async move {
                    let _ = stream.set_nodelay(true);
                    match speaks {
                        Speaks::Syslog => {
                            connection(stream, peer, index, SL_TRANSPORT_TCP, &ctx).await
                        }
                        Speaks::Relp => super::relp::session(stream, peer, index, &ctx).await,
                    }
                    drop(permit);
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "accepting a TCP connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

fn flags(f: FrameFlags) -> u32 {
    (if f.truncated { SL_FRAME_TRUNCATED } else { 0 })
        | (if f.incomplete { SL_FRAME_INCOMPLETE } else { 0 })
}

/// Counts a connection as open while it lives.
pub(super) struct OpenConnection<'a>(&'a Metrics);

impl<'a> OpenConnection<'a> {
    pub(super) fn new(metrics: &'a Metrics) -> OpenConnection<'a> {
        Metrics::add(&metrics.connections_accepted, 1);
        metrics.connections_open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(metrics)
    }
}

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Reads LF/NUL-delimited or octet-counted frames from a TCP or unix stream
/// connection until it closes, idles out or the agent stops.
pub(super) async fn connection<S: AsyncRead + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    listener: usize,
    transport: u32,
    ctx: &ListenContext,
) {
    let _open = OpenConnection::new(&ctx.metrics);
    let worker = ctx.router.pick();
    let mut framer = Framer::new(ctx.max_message_size);
    let mut buf: Vec<u8> = Vec::with_capacity(READ_SIZE);
    let mut shutdown = ctx.shutdown.clone();
    let mut draining = *shutdown.borrow();
    let mut drain_started: Option<std::time::Instant> = None;
    loop {
        if draining
            && drain_started
                .get_or_insert_with(std::time::Instant::now)
                .elapsed()
                > DRAIN_MAX
        {
            break;
        }
        if buf.capacity() - buf.len() < READ_SIZE / 2 {
            buf.reserve(READ_SIZE);
        }
        let wait = if draining {
            DRAIN_QUIET
        } else {
            ctx.idle_timeout
        };
        let read = if draining {
            tokio::time::timeout(wait, stream.read_buf(&mut buf)).await
        } else {
            tokio::select! {
                r = tokio::time::timeout(wait, stream.read_buf(&mut buf)) => r,
                _ = shutdown.changed() => { draining = true; continue; }
            }
        };
        match read {
            Err(_) => {
                if !draining {
                    if transport == SL_TRANSPORT_TCP {
                        tracing::info!(%peer, timeout_secs = wait.as_secs(), "closing idle TCP connection");
                    } else {
                        tracing::info!(
                            timeout_secs = wait.as_secs(),
                            "closing idle unix stream connection"
                        );
                    }
                }
                break;
            }
            Ok(Ok(0)) => break,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TCP read failed");
                break;
            }
        }
        let now = now_ns();
        let mut batch = FrameBatch::new(listener, transport, buf.len());
        let used = framer.feed(&buf, |frame, f| batch.push(frame, flags(f), peer.ip(), now));
        buf.drain(..used);
        if buf.is_empty() && buf.capacity() > 4 * READ_SIZE {
            buf.shrink_to(READ_SIZE);
        }
        if !forward(batch, worker, ctx).await {
            return;
        }
    }
    let mut batch = FrameBatch::new(listener, transport, buf.len());
    framer.finish(&buf, |frame, f| {
        batch.push(frame, flags(f), peer.ip(), now_ns())
    });
    forward(batch, worker, ctx).await;
}

/// Counts and sends a batch; `false` when the pipeline is gone.
pub(super) async fn forward(batch: FrameBatch, worker: usize, ctx: &ListenContext) -> bool {
    if batch.is_empty() {
        return true;
    }
    let m = &*ctx.metrics;
    Metrics::add(&m.frames_received, batch.frames.len() as u64);
    Metrics::add(&m.bytes_received, batch.data.len() as u64);
    let truncated = batch
        .frames
        .iter()
        .filter(|f| f.flags & SL_FRAME_TRUNCATED != 0)
        .count();
    Metrics::add(&m.frames_truncated, truncated as u64);
    ctx.router.send(worker, batch, None).await.is_ok()
}
