//! The UDP listener: one datagram is one message.

use super::{FrameBatch, ListenContext};
use crate::metrics::Metrics;
use crate::system::now_ns;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use syslane_abi::{SL_FRAME_TRUNCATED, SL_TRANSPORT_UDP};
use tokio::net::UdpSocket;

/// Datagrams gathered into one batch at most.
const BATCH_DATAGRAMS: usize = 512;
/// How long a UDP batch may wait for room before it is dropped.
const UDP_PATIENCE: Duration = Duration::from_millis(200);

pub(super) fn bind(addr: SocketAddr, receive_buffer: usize) -> std::io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // A large receive buffer rides out bursts while the pipeline catches up; the
    // kernel caps it at net.core.rmem_max.
    let _ = socket.set_recv_buffer_size(receive_buffer);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

fn trim_trailer(d: &[u8]) -> &[u8] {
    let mut end = d.len();
    while end > 0 && matches!(d[end - 1], b'\n' | b'\r' | 0) {
        end -= 1;
    }
    &d[..end]
}

pub(super) async fn run(socket: UdpSocket, listener: usize, ctx: Arc<ListenContext>) {
    let max = ctx.max_message_size;
    let mut buf = vec![0u8; max + 1];
    let mut shutdown = ctx.shutdown.clone();
    let mut worker = 0usize;
    loop {
        let first = tokio::select! {
            r = socket.recv_from(&mut buf) => r,
            _ = shutdown.changed() => break,
        };
        let mut batch = FrameBatch::new(listener, SL_TRANSPORT_UDP, 64 * 1024);
        let now = now_ns();
        let mut result = first;
        loop {
            match result {
                Ok((n, peer)) => add(&mut batch, &buf[..n], max, peer, now, &ctx.metrics),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::warn!(error = %e, "UDP receive failed");
                    break;
                }
            }
            if batch.frames.len() >= BATCH_DATAGRAMS {
                break;
            }
            result = socket.try_recv_from(&mut buf);
        }
        if batch.is_empty() {
            continue;
        }
        let count = batch.frames.len() as u64;
        worker = worker.wrapping_add(1);
        match ctx.router.send(worker, batch, Some(UDP_PATIENCE)).await {
            Ok(None) => {}
            Ok(Some(_dropped)) => {
                Metrics::add(&ctx.metrics.udp_dropped, count);
                tracing::warn!(datagrams = count, "pipeline full; UDP datagrams dropped");
            }
            Err(_) => break,
        }
    }
}

fn add(
    batch: &mut FrameBatch,
    datagram: &[u8],
    max: usize,
    peer: SocketAddr,
    now: i64,
    metrics: &Metrics,
) {
    let truncated = datagram.len() > max;
    let data = trim_trailer(&datagram[..datagram.len().min(max)]);
    if data.is_empty() {
        return;
    }
    Metrics::add(&metrics.frames_received, 1);
    Metrics::add(&metrics.bytes_received, data.len() as u64);
    if truncated {
        Metrics::add(&metrics.frames_truncated, 1);
    }
    batch.push(
        data,
        if truncated { SL_FRAME_TRUNCATED } else { 0 },
        peer.ip(),
        now,
    );
}
