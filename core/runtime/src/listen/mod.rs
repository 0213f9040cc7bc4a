//! Listeners: sockets in, frame batches out.
//!
//! Each read becomes one [`FrameBatch`] (all complete frames of that read, copied
//! once into one buffer), so the pipeline pays per batch, not per message. Batches
//! go to the pipeline workers over bounded channels: a TCP connection always feeds
//! the same worker, which keeps its messages in order, and when that worker's queue
//! is full the connection stops reading, so the sender's TCP window closes. UDP
//! cannot be paused: a UDP batch that finds the queues full past a short wait is
//! dropped and counted.

mod busy;
mod datagram;
mod relp;
mod slots;
mod tcp;
mod udp;
mod unix;

use crate::config::{escape, Config, ListenAddress};
use crate::journal::WriteState;
use crate::metrics::{Metrics, Waiting};
use crossbeam_channel::{Sender, TrySendError};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Where one frame lies in its batch's buffer, and where it came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameMeta {
    pub start: u32,
    pub len: u32,
    /// `SL_FRAME_*` bits.
    pub flags: u32,
    pub peer: IpAddr,
    pub receive_time_ns: i64,
}

/// Frames from one read of one listener.
#[derive(Debug)]
pub(crate) struct FrameBatch {
    /// Index of the `[[listen]]` entry (selects the decoder).
    pub listener: usize,
    /// `SL_TRANSPORT_*`.
    pub transport: u32,
    pub data: Vec<u8>,
    pub frames: Vec<FrameMeta>,
    /// Told `true` once every record of the batch is in the journal (or was
    /// filtered out), `false` when it could not be journaled. RELP answers by it.
    pub ack: Option<tokio::sync::oneshot::Sender<bool>>,
}

impl FrameBatch {
    pub(crate) fn new(listener: usize, transport: u32, capacity: usize) -> FrameBatch {
        FrameBatch {
            listener,
            transport,
            data: Vec::with_capacity(capacity),
            frames: Vec::new(),
            ack: None,
        }
    }

    pub(crate) fn push(&mut self, frame: &[u8], flags: u32, peer: IpAddr, receive_time_ns: i64) {
        let start = self.data.len() as u32;
        self.data.extend_from_slice(frame);
        self.frames.push(FrameMeta {
            start,
            len: frame.len() as u32,
            flags,
            peer,
            receive_time_ns,
        });
    }

    /// Adds one datagram (UDP or unix socket): cut at `max` bytes (marked
    /// truncated), its trailer trimmed, counted; an empty one carries nothing.
    pub(crate) fn push_datagram(
        &mut self,
        datagram: &[u8],
        max: usize,
        peer: IpAddr,
        receive_time_ns: i64,
        metrics: &Metrics,
    ) {
        let truncated = datagram.len() > max;
        let data = syslane_syslog::trim_trailer(&datagram[..datagram.len().min(max)]);
        if data.is_empty() {
            return;
        }
        Metrics::add(&metrics.frames_received, 1);
        Metrics::add(&metrics.bytes_received, data.len() as u64);
        if truncated {
            Metrics::add(&metrics.frames_truncated, 1);
        }
        let flags = if truncated {
            syslane_abi::SL_FRAME_TRUNCATED
        } else {
            0
        };
        self.push(data, flags, peer, receive_time_ns);
    }

    pub(crate) fn frame(&self, meta: &FrameMeta) -> &[u8] {
        let start = meta.start as usize;
        self.data
            .get(start..start + meta.len as usize)
            .unwrap_or(&[])
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

/// The pipeline is gone (shutdown): stop reading.
#[derive(Debug)]
pub(crate) struct Closed;

/// What the listeners feed, from one pipeline: its workers' queues, and its
/// journal's write state (while that is `Failing`, TCP stops reading, RELP
/// answers 500 and datagrams are dropped and counted).
pub(crate) struct Feed {
    pub workers: Vec<Sender<FrameBatch>>,
    pub journal: watch::Receiver<WriteState>,
}

/// Hands batches to the pipeline workers. A reload that keeps the listeners
/// replaces the pipeline behind it: in between, senders wait (TCP is paused by
/// back-pressure, UDP datagrams queue in the socket buffer), and no wait then
/// counts towards a UDP give-up.
pub(crate) struct Router {
    /// Without workers while the pipeline is being replaced.
    feed: RwLock<Feed>,
    next: AtomicUsize,
    closed: AtomicBool,
}

enum Attempt {
    Sent,
    Full(FrameBatch),
    Paused(FrameBatch),
    Gone,
}

impl Router {
    pub(crate) fn new(feed: Feed) -> Router {
        Router {
            feed: RwLock::new(feed),
            next: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        }
    }

    fn feed(&self) -> std::sync::RwLockReadGuard<'_, Feed> {
        self.feed.read().unwrap_or_else(|e| e.into_inner())
    }

    /// A worker for a new connection (round robin; taken modulo the number of
    /// workers at each send, so it stays valid across reloads).
    pub(crate) fn pick(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Puts a new pipeline behind the router; the old workers' queues close, so
    /// they finish what they hold and stop.
    pub(crate) fn replace(&self, feed: Feed) {
        *self.feed.write().unwrap_or_else(|e| e.into_inner()) = feed;
    }

    /// Takes the workers away, so senders wait (the old workers' queues close);
    /// the journal's last state stays until [`Router::replace`].
    pub(crate) fn pause(&self) {
        self.feed
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .workers
            .clear();
    }

    /// No more sends: the listeners stop and the workers' queues close.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.pause();
    }

    /// Whether the journal behind the router refuses writes now.
    pub(crate) fn journal_failing(&self) -> bool {
        *self.feed().journal.borrow() == WriteState::Failing
    }

    /// The journal's write state, to wait on; a reload replaces the journal, and
    /// the old one's channel then closes.
    pub(crate) fn journal_state(&self) -> watch::Receiver<WriteState> {
        self.feed().journal.clone()
    }

    fn try_send(&self, index: usize, batch: FrameBatch) -> Attempt {
        let feed = self.feed();
        let workers = &feed.workers;
        if workers.is_empty() {
            return match self.closed.load(Ordering::Relaxed) {
                true => Attempt::Gone,
                false => Attempt::Paused(batch),
            };
        }
        match workers[index % workers.len()].try_send(batch) {
            Ok(()) => Attempt::Sent,
            Err(TrySendError::Full(b)) => Attempt::Full(b),
            Err(TrySendError::Disconnected(_)) => Attempt::Gone,
        }
    }

    /// Sends to worker `index`, waiting while its queue is full (back-pressure) or
    /// the pipeline is being replaced, counted in `paused` meanwhile. With
    /// `give_up_after`, returns the batch when the queue stayed full longer.
    pub(crate) async fn send(
        &self,
        index: usize,
        mut batch: FrameBatch,
        give_up_after: Option<Duration>,
        paused: &AtomicU64,
    ) -> Result<Option<FrameBatch>, Closed> {
        let mut waited = Duration::ZERO;
        let mut pause = Duration::from_micros(200);
        let mut _waiting = None;
        loop {
            match self.try_send(index, batch) {
                Attempt::Sent => return Ok(None),
                Attempt::Gone => return Err(Closed),
                Attempt::Paused(b) => {
                    _waiting.get_or_insert_with(|| Waiting::new(paused));
                    batch = b;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Attempt::Full(b) => {
                    if give_up_after.is_some_and(|limit| waited >= limit) {
                        return Ok(Some(b));
                    }
                    _waiting.get_or_insert_with(|| Waiting::new(paused));
                    batch = b;
                    tokio::time::sleep(pause).await;
                    waited += pause;
                    pause = (pause * 2).min(Duration::from_millis(10));
                }
            }
        }
    }
}

/// What listeners share.
pub(crate) struct ListenContext {
    pub router: Router,
    pub metrics: Arc<Metrics>,
    pub max_message_size: usize,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub udp_receive_buffer: usize,
    /// 0: the kernel's autotuning.
    pub tcp_receive_buffer: usize,
    pub shutdown: watch::Receiver<bool>,
}

impl ListenContext {
    /// Journal writes fail now (disk full, …): TCP stops reading, RELP answers 500,
    /// UDP drops and counts, until the journal has recovered.
    pub(crate) fn journal_failing(&self) -> bool {
        self.router.journal_failing()
    }
}

/// Serves a bound UDP socket: its datagrams, and the kernel's drops on it.
async fn serve_udp(
    socket: tokio::net::UdpSocket,
    bound: std::net::SocketAddr,
    index: usize,
    ctx: Arc<ListenContext>,
) {
    let drops = match udp::inode(&socket) {
        Some(inode) => Some(udp::watch_drops(inode, bound, Arc::clone(&ctx))),
        None => {
            tracing::warn!(address = %bound, "cannot find the UDP socket in /proc; datagrams the kernel drops will not be counted");
            None
        }
    };
    let run = datagram::run(datagram::DatagramSocket::Udp(socket), index, ctx);
    match drops {
        Some(drops) => {
            tokio::join!(drops, run);
        }
        None => run.await,
    }
}

/// Binds every configured listener; fails with the address and the reason. A
/// TCP or UDP port in use by another program is waited for (`busy`).
pub(crate) async fn start(config: &Config, ctx: Arc<ListenContext>) -> Result<JoinSet<()>, String> {
    let mut tasks = JoinSet::new();
    for (index, listen) in config.listen.iter().enumerate() {
        let fail = |e: std::io::Error| {
            format!(
                "{}: cannot listen on {}: {e}",
                listen.section,
                escape(&listen.address.to_string())
            )
        };
        let in_use = |e: &std::io::Error| e.kind() == std::io::ErrorKind::AddrInUse;
        let bound = match &listen.address {
            ListenAddress::Udp(addr) => match udp::bind(*addr, ctx.udp_receive_buffer) {
                Ok(socket) => {
                    let bound = socket.local_addr().map_err(fail)?;
                    tasks.spawn(serve_udp(socket, bound, index, Arc::clone(&ctx)));
                    Some(bound)
                }
                Err(e) if in_use(&e) => {
                    let (addr, ctx) = (*addr, Arc::clone(&ctx));
                    let address = listen.address.to_string();
                    tasks.spawn(async move {
                        let buffer = ctx.udp_receive_buffer;
                        let shutdown = ctx.shutdown.clone();
                        let bind = || udp::bind(addr, buffer);
                        if let Some(socket) = busy::wait_for(address, bind, shutdown).await {
                            if let Ok(bound) = socket.local_addr() {
                                serve_udp(socket, bound, index, ctx).await;
                            }
                        }
                    });
                    continue;
                }
                Err(e) => return Err(fail(e)),
            },
            ListenAddress::Tcp(addr) | ListenAddress::Relp(addr) => {
                let speaks = match listen.address {
                    ListenAddress::Relp(_) => tcp::Speaks::Relp,
                    _ => tcp::Speaks::Syslog,
                };
                match tcp::bind(*addr, ctx.tcp_receive_buffer) {
                    Ok(listener) => {
                        let bound = listener.local_addr().map_err(fail)?;
                        tasks.spawn(tcp::run(listener, index, Arc::clone(&ctx), speaks));
                        Some(bound)
                    }
                    Err(e) if in_use(&e) => {
                        let (addr, ctx) = (*addr, Arc::clone(&ctx));
                        let address = listen.address.to_string();
                        tasks.spawn(async move {
                            let shutdown = ctx.shutdown.clone();
                            let bind = || tcp::bind(addr, ctx.tcp_receive_buffer);
                            if let Some(listener) = busy::wait_for(address, bind, shutdown).await {
                                tcp::run(listener, index, ctx, speaks).await;
                            }
                        });
                        continue;
                    }
                    Err(e) => return Err(fail(e)),
                }
            }
            ListenAddress::Unix(path) => {
                let socket = unix::bind_datagram(path, &listen.unix, ctx.udp_receive_buffer)
                    .map_err(fail)?;
                tasks.spawn(unix::run_datagram(
                    socket,
                    path.clone(),
                    index,
                    Arc::clone(&ctx),
                ));
                None
            }
            ListenAddress::UnixStream(path) => {
                let listener = unix::bind_stream(path, &listen.unix).map_err(fail)?;
                tasks.spawn(unix::run_stream(
                    listener,
                    path.clone(),
                    index,
                    Arc::clone(&ctx),
                ));
                None
            }
        };
        if !listen.address.is_local() {
            tracing::warn!(address = %listen.address, "listening beyond loopback: any host that can reach this port can send records");
        }
        match (bound, listen.address.socket_addr()) {
            (Some(bound), Some(asked)) if asked.port() == 0 => {
                let scheme = listen.address.to_string();
                let scheme = scheme.split("://").next().unwrap_or("tcp");
                tracing::info!(address = %format!("{scheme}://{bound}"), configured = %listen.address, input = %listen.input, "listening on the port the system chose (port 0 was configured); senders must be told this port");
            }
            _ => {
                tracing::info!(address = %listen.address, input = %listen.input, "listening");
            }
        }
    }
    Ok(tasks)
}
