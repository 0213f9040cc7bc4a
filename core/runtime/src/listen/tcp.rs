//! The TCP listener: LF/NUL-delimited and octet-counted frames on one port; the
//! same connection loop serves unix stream sockets (`unixstream://`).
//!
//! A connection keeps its slot only while it completes messages: one that has
//! completed none within `idle_timeout` (idle, or trickling a message byte by
//! byte) is closed, and at `max_connections` the one longest without a completed
//! message is closed to admit a new one ([`super::slots`]). While the journal
//! cannot be written, connections stop reading, so the sender's own queue holds
//! its messages.

use super::slots::{Admission, ByteStream, Held, RateLimited, ReadBuffer, Table, READ_SIZE};
use super::{FrameBatch, ListenContext};
use crate::journal::WriteState;
use crate::metrics::{Metrics, Waiting};
use crate::system::now_ns;
use socket2::{Domain, Protocol, Socket, Type};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use syslane_abi::{SL_FRAME_INCOMPLETE, SL_FRAME_TRUNCATED, SL_TRANSPORT_TCP};
use syslane_syslog::{FrameFlags, Framer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// At shutdown, a connection keeps reading until it has been quiet this long…
const DRAIN_QUIET: Duration = Duration::from_millis(300);
/// …but no longer than this, so a sender that never pauses cannot hold the agent.
const DRAIN_MAX: Duration = Duration::from_secs(2);
/// The connection-limit warning comes at most this often, with a count.
const LIMIT_WARNING_EVERY: Duration = Duration::from_secs(10);

/// Binds a TCP or RELP listener. A `receive_buffer` other than 0 is set on the
/// listening socket, so every connection accepted from it starts with it (and the
/// window scale it implies) instead of the kernel's autotuned buffer: what a
/// paused connection holds in the kernel, and a kill -9 loses, is then bounded.
pub(super) fn bind(addr: SocketAddr, receive_buffer: usize) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if receive_buffer > 0 {
        socket.set_recv_buffer_size(receive_buffer)?;
    }
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

fn warn_limit(ctx: &ListenContext, closed: u64) {
    tracing::warn!(
        max_connections = ctx.max_connections,
        closed,
        "connection limit reached: closed the connections longest without a complete message to admit new ones; raise max_connections if these were real senders"
    );
}

pub(super) async fn run(
    listener: TcpListener,
    index: usize,
    ctx: Arc<ListenContext>,
    speaks: Speaks,
) {
    let mut connections = Connections::new(&ctx);
    let mut shutdown = ctx.shutdown.clone();
    loop {
        connections.tidy();
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "accepting a TCP connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(held) = connections.admit(&mut shutdown).await else {
            break;
        };
        let ctx = Arc::clone(&ctx);
        connections.spawn(async move {
            match speaks {
                Speaks::Syslog => {
                    let _ = stream.set_nodelay(true);
                    connection(stream, peer, index, SL_TRANSPORT_TCP, &ctx, &held).await
                }
                Speaks::Relp => super::relp::session(stream, peer, index, &ctx, &held).await,
            }
        });
    }
    drop(listener);
    connections.close().await;
}

/// The connections of one stream listener (TCP, RELP or unix stream): their slots
/// in the connection table, their tasks, and the connection-limit warning.
pub(super) struct Connections {
    table: Arc<Table>,
    tasks: JoinSet<()>,
    limit_warning: RateLimited,
    ctx: Arc<ListenContext>,
}

impl Connections {
    pub(super) fn new(ctx: &Arc<ListenContext>) -> Connections {
        Connections {
            table: Table::new(ctx.max_connections),
            tasks: JoinSet::new(),
            limit_warning: RateLimited::new(LIMIT_WARNING_EVERY),
            ctx: Arc::clone(ctx),
        }
    }

    /// Reaps the connections that ended, and gives the limit warning when due.
    pub(super) fn tidy(&mut self) {
        while self.tasks.try_join_next().is_some() {}
        if let Some(closed) = self.limit_warning.due() {
            warn_limit(&self.ctx, closed);
        }
    }

    /// A slot for a new connection, closing the one longest without a complete
    /// message when the table is full; `None` when the agent stops meanwhile.
    pub(super) async fn admit(
        &mut self,
        shutdown: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Option<Held> {
        loop {
            match self.table.admit() {
                Admission::Admitted { held, evicted } => {
                    if evicted {
                        Metrics::add(&self.ctx.metrics.connections_evicted, 1);
                        if let Some(closed) = self.limit_warning.hit() {
                            warn_limit(&self.ctx, closed);
                        }
                    }
                    return Some(held);
                }
                // Connections told to close are still handing on what they read.
                Admission::Full => tokio::select! {
                    _ = self.tasks.join_next() => {}
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                    _ = shutdown.changed() => return None,
                },
            }
        }
    }

    /// Runs an admitted connection.
    pub(super) fn spawn(&mut self, connection: impl Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(connection);
    }

    /// Waits for every connection to end (the listener is closed), then gives
    /// the last limit warning.
    pub(super) async fn close(mut self) {
        while self.tasks.join_next().await.is_some() {}
        if let Some(closed) = self.limit_warning.rest() {
            warn_limit(&self.ctx, closed);
        }
    }
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

/// Waits while journal writes fail (the connection stops reading); `false` when
/// the agent starts stopping meanwhile.
pub(super) async fn wait_for_journal(
    ctx: &ListenContext,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    let _paused = Waiting::new(&ctx.metrics.listeners_paused);
    loop {
        let mut journal = ctx.router.journal_state();
        let working = async {
            journal
                .wait_for(|s| *s == WriteState::Working)
                .await
                .is_ok()
        };
        tokio::select! {
            working = working => match working {
                true => return true,
                // That journal is gone (a reload): look at the next one.
                false => tokio::time::sleep(Duration::from_millis(100)).await,
            },
            _ = shutdown.changed() => return false,
        }
    }
}

/// Why a connection's loop ended.
enum End {
    /// The peer closed, or a read failed.
    Closed,
    /// Told to make room for a new connection: what the socket already holds is
    /// still read and handed on.
    Evicted,
    /// The pipeline is gone.
    Gone,
}

/// Reads LF/NUL-delimited or octet-counted frames from a TCP or unix stream
/// connection until it closes, times out, is evicted or the agent stops.
pub(super) async fn connection<S: ByteStream>(
    stream: S,
    peer: SocketAddr,
    listener: usize,
    transport: u32,
    ctx: &ListenContext,
    held: &Held,
) {
    let _open = OpenConnection::new(&ctx.metrics);
    let what = if transport == SL_TRANSPORT_TCP {
        "TCP"
    } else {
        "unix stream"
    };
    let worker = ctx.router.pick();
    let mut framer = Framer::new(ctx.max_message_size);
    let mut buf = ReadBuffer::new(&ctx.metrics);
    let mut shutdown = ctx.shutdown.clone();
    let mut draining = *shutdown.borrow();
    let mut drain_started: Option<Instant> = None;
    // A message must complete within idle_timeout of the last one (or the accept).
    let mut last_message = Instant::now();
    let end = loop {
        if draining && drain_started.get_or_insert_with(Instant::now).elapsed() > DRAIN_MAX {
            break End::Closed;
        }
        if !draining && ctx.journal_failing() {
            if !wait_for_journal(ctx, &mut shutdown).await {
                draining = true;
            }
            last_message = Instant::now();
            continue;
        }
        let read = if draining {
            tokio::time::timeout(DRAIN_QUIET, buf.read_from(&stream, READ_SIZE)).await
        } else {
            let deadline = tokio::time::Instant::from_std(last_message + ctx.idle_timeout);
            tokio::select! {
                r = tokio::time::timeout_at(deadline, buf.read_from(&stream, READ_SIZE)) => r,
                _ = shutdown.changed() => { draining = true; continue; }
                _ = held.slot.evicted() => break End::Evicted,
            }
        };
        match read {
            Err(_) => {
                if !draining {
                    Metrics::add(&ctx.metrics.connections_timed_out, 1);
                    tracing::info!(%peer, timeout_secs = ctx.idle_timeout.as_secs(), unfinished_bytes = buf.data.len(), "closing idle {what} connection: no complete message within idle_timeout_secs");
                }
                break End::Closed;
            }
            Ok(Ok(0)) => break End::Closed,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "{what} read failed");
                break End::Closed;
            }
        }
        let now = now_ns();
        let mut batch = FrameBatch::new(listener, transport, buf.data.len());
        let used = framer.feed(&buf.data, |frame, f| {
            batch.push(frame, flags(f), peer.ip(), now)
        });
        buf.consume(used, READ_SIZE);
        if batch.is_empty() {
            continue;
        }
        held.completed();
        if !forward(batch, worker, ctx).await {
            break End::Gone;
        }
        // Time spent waiting for the pipeline is not the sender's.
        last_message = Instant::now();
    };
    if let End::Gone = end {
        return;
    }
    if let End::Evicted = end {
        tracing::debug!(%peer, "closing a {what} connection to admit a new one (max_connections)");
        let at = Place {
            listener,
            transport,
            peer,
            worker,
        };
        read_what_arrived(&stream, &mut framer, &mut buf, at, ctx).await;
    }
    let mut batch = FrameBatch::new(listener, transport, buf.data.len());
    framer.finish(&buf.data, |frame, f| {
        batch.push(frame, flags(f), peer.ip(), now_ns())
    });
    forward(batch, worker, ctx).await;
}

/// Where a connection's frames come from and go.
struct Place {
    listener: usize,
    transport: u32,
    peer: SocketAddr,
    worker: usize,
}

/// Hands on what the socket already holds, without waiting for more.
async fn read_what_arrived<S: ByteStream>(
    stream: &S,
    framer: &mut Framer,
    buf: &mut ReadBuffer<'_>,
    at: Place,
    ctx: &ListenContext,
) {
    let Place {
        listener,
        transport,
        peer,
        worker,
    } = at;
    // A sender that never pauses cannot keep the connection open this way.
    let mut budget = 4 * ctx.max_message_size.max(READ_SIZE);
    while budget > 0 {
        buf.make_room(READ_SIZE);
        let len = buf.data.len();
        buf.data.resize(len + READ_SIZE, 0);
        let n = stream.try_read(&mut buf.data[len..]).unwrap_or_default();
        buf.data.truncate(len + n);
        if n == 0 {
            return;
        }
        budget = budget.saturating_sub(n);
        let now = now_ns();
        let mut batch = FrameBatch::new(listener, transport, buf.data.len());
        let used = framer.feed(&buf.data, |frame, f| {
            batch.push(frame, flags(f), peer.ip(), now)
        });
        buf.consume(used, READ_SIZE);
        if !forward(batch, worker, ctx).await {
            return;
        }
    }
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
    ctx.router
        .send(worker, batch, None, &m.listeners_paused)
        .await
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The receive buffer a connection accepted from a listener bound with
    /// `receive_buffer` has, as `SO_RCVBUF` reads it (Linux reports twice what
    /// was asked, for its bookkeeping).
    fn accepted_buffer(receive_buffer: usize) -> usize {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = bind("127.0.0.1:0".parse().unwrap(), receive_buffer).unwrap();
            let addr = listener.local_addr().unwrap();
            let _client = std::net::TcpStream::connect(addr).unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            socket2::SockRef::from(&stream).recv_buffer_size().unwrap()
        })
    }

    #[test]
    fn tcp_receive_buffer_reaches_every_accepted_connection() {
        assert_eq!(accepted_buffer(24_576), 2 * 24_576);
        assert_eq!(accepted_buffer(40_960), 2 * 40_960);
        // 0 leaves the kernel's own size (net.ipv4.tcp_rmem), which autotuning grows.
        let kernel = accepted_buffer(0);
        assert!(kernel != 2 * 24_576 && kernel != 2 * 40_960, "{kernel}");
    }
}
