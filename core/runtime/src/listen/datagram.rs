//! The receive loop of the datagram listeners (UDP and `unix://`): one datagram
//! is one message. Datagrams that arrive together are read as one batch; a batch
//! that finds the pipeline full past a short wait is dropped and counted, since a
//! datagram sender cannot be paused; while the journal cannot be written they
//! are refused and counted.

use super::slots::RateLimited;
use super::{FrameBatch, ListenContext};
use crate::metrics::Metrics;
use crate::system::now_ns;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use syslane_abi::{SL_TRANSPORT_UDP, SL_TRANSPORT_UNIX};
use tokio::net::{UdpSocket, UnixDatagram};

/// Datagrams gathered into one batch at most.
const BATCH_DATAGRAMS: usize = 512;
/// How long a datagram batch may wait for room before it is dropped.
const PATIENCE: Duration = Duration::from_millis(200);
/// The dropped-datagrams warning comes at most this often, with a count.
const DROPPED_WARNING_EVERY: Duration = Duration::from_secs(10);

/// A bound datagram socket.
pub(super) enum DatagramSocket {
    Udp(UdpSocket),
    /// Its senders are local: records get this host's address.
    Unix(UnixDatagram),
}

impl DatagramSocket {
    /// Waits for a datagram: its length and sender.
    async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, IpAddr)> {
        match self {
            DatagramSocket::Udp(s) => s.recv_from(buf).await.map(|(n, p)| (n, p.ip())),
            DatagramSocket::Unix(s) => s.recv(buf).await.map(|n| (n, LOCAL)),
        }
    }

    /// The next datagram if one is waiting (`WouldBlock` if not).
    fn try_recv(&self, buf: &mut [u8]) -> io::Result<(usize, IpAddr)> {
        match self {
            DatagramSocket::Udp(s) => s.try_recv_from(buf).map(|(n, p)| (n, p.ip())),
            DatagramSocket::Unix(s) => s.try_recv(buf).map(|n| (n, LOCAL)),
        }
    }

    fn transport(&self) -> u32 {
        match self {
            DatagramSocket::Udp(_) => SL_TRANSPORT_UDP,
            DatagramSocket::Unix(_) => SL_TRANSPORT_UNIX,
        }
    }

    /// The counter of datagrams refused while the journal cannot be written.
    fn refused<'m>(&self, m: &'m Metrics) -> &'m AtomicU64 {
        match self {
            DatagramSocket::Udp(_) => &m.records_refused_journal_write_udp,
            DatagramSocket::Unix(_) => &m.records_refused_journal_write_unix,
        }
    }

    /// The counter of datagrams dropped at a full pipeline.
    fn dropped<'m>(&self, m: &'m Metrics) -> &'m AtomicU64 {
        match self {
            DatagramSocket::Udp(_) => &m.udp_dropped,
            DatagramSocket::Unix(_) => &m.unix_dropped,
        }
    }

    fn warn_dropped(&self, datagrams: u64) {
        match self {
            DatagramSocket::Udp(_) => tracing::warn!(datagrams, "pipeline full; UDP datagrams dropped (counted in syslane_udp_dropped_total); send over TCP or RELP, which push back instead"),
            DatagramSocket::Unix(_) => tracing::warn!(datagrams, "pipeline full; unix socket datagrams dropped (counted in syslane_unix_dropped_total); use unixstream://, which pushes back instead"),
        }
    }

    fn warn_failed(&self, error: &io::Error) {
        match self {
            DatagramSocket::Udp(_) => tracing::warn!(%error, "UDP receive failed"),
            DatagramSocket::Unix(_) => tracing::warn!(%error, "unix socket receive failed"),
        }
    }
}

/// The sender's address of a unix socket datagram.
const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Reads datagrams into batches for the workers until shutdown.
pub(super) async fn run(socket: DatagramSocket, listener: usize, ctx: Arc<ListenContext>) {
    let max = ctx.max_message_size;
    let mut buf = vec![0u8; max + 1];
    let mut shutdown = ctx.shutdown.clone();
    let mut worker = 0usize;
    let mut dropped_warning = RateLimited::new(DROPPED_WARNING_EVERY);
    loop {
        let first = tokio::select! {
            r = socket.recv(&mut buf) => r,
            _ = shutdown.changed() => break,
        };
        let mut batch = FrameBatch::new(listener, socket.transport(), 64 * 1024);
        let now = now_ns();
        let mut result = first;
        loop {
            match result {
                Ok((n, peer)) => batch.push_datagram(&buf[..n], max, peer, now, &ctx.metrics),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    socket.warn_failed(&e);
                    break;
                }
            }
            if batch.frames.len() >= BATCH_DATAGRAMS {
                break;
            }
            result = socket.try_recv(&mut buf);
        }
        if batch.is_empty() {
            continue;
        }
        let count = batch.frames.len() as u64;
        if let Some(datagrams) = dropped_warning.due() {
            socket.warn_dropped(datagrams);
        }
        if ctx.journal_failing() {
            // The journal cannot take them and a datagram sender cannot be paused.
            Metrics::add(socket.refused(&ctx.metrics), count);
            continue;
        }
        worker = worker.wrapping_add(1);
        match ctx
            .router
            .send(worker, batch, Some(PATIENCE), &ctx.metrics.listeners_paused)
            .await
        {
            Ok(None) => {}
            Ok(Some(_dropped)) => {
                Metrics::add(socket.dropped(&ctx.metrics), count);
                if let Some(datagrams) = dropped_warning.add(count) {
                    socket.warn_dropped(datagrams);
                }
            }
            Err(_) => break,
        }
    }
    if let Some(datagrams) = dropped_warning.rest() {
        socket.warn_dropped(datagrams);
    }
}
