//! The UDP listener: one datagram is one message.

use super::slots::RateLimited;
use super::{FrameBatch, ListenContext};
use crate::metrics::Metrics;
use crate::system::now_ns;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use syslane_abi::SL_TRANSPORT_UDP;
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

/// The socket's inode, which names it in /proc/net/udp.
pub(super) fn inode(socket: &UdpSocket) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).ok()?;
    link.to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The kernel's count of datagrams dropped at the socket with `inode` (receive
/// buffer full), from a /proc/net/udp or udp6 table: its last column.
fn socket_drops(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(9)?.parse::<u64>().ok()? != inode {
            return None;
        }
        fields.last()?.parse().ok()
    })
}

fn read_drops(inode: u64) -> Option<u64> {
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .find_map(|t| socket_drops(&std::fs::read_to_string(t).ok()?, inode))
}

/// Adds what the kernel dropped at the socket (its receive buffer was full while
/// the pipeline could not keep up) to `udp_receive_buffer_drops`, every second and
/// at shutdown, and says how to make room.
pub(super) async fn watch_drops(inode: u64, address: SocketAddr, ctx: Arc<ListenContext>) {
    let mut shutdown = ctx.shutdown.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut seen = 0u64;
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = shutdown.changed() => true,
        };
        if let Some(now) = read_drops(inode) {
            let new = now.saturating_sub(seen);
            if new > 0 {
                Metrics::add(&ctx.metrics.udp_receive_buffer_drops, new);
                tracing::warn!(%address, datagrams = new, "the kernel dropped UDP datagrams: the socket's receive buffer was full; raise udp_receive_buffer (and the net.core.rmem_max sysctl that caps it), or send over TCP or RELP, which push back instead");
            }
            seen = now;
        }
        if stopping {
            return;
        }
    }
}

pub(super) async fn run(socket: UdpSocket, listener: usize, ctx: Arc<ListenContext>) {
    let max = ctx.max_message_size;
    let mut buf = vec![0u8; max + 1];
    let mut shutdown = ctx.shutdown.clone();
    let mut worker = 0usize;
    let mut dropped_warning = RateLimited::new(Duration::from_secs(10));
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
                Ok((n, peer)) => batch.push_datagram(&buf[..n], max, peer.ip(), now, &ctx.metrics),
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
        if let Some(datagrams) = dropped_warning.due() {
            tracing::warn!(datagrams, "pipeline full; UDP datagrams dropped (counted in syslane_udp_dropped_total); send over TCP or RELP, which push back instead");
        }
        if ctx.journal_failing() {
            // The journal cannot take them and a UDP sender cannot be paused.
            Metrics::add(&ctx.metrics.records_refused_journal_write, count);
            continue;
        }
        worker = worker.wrapping_add(1);
        match ctx
            .router
            .send(
                worker,
                batch,
                Some(UDP_PATIENCE),
                &ctx.metrics.listeners_paused,
            )
            .await
        {
            Ok(None) => {}
            Ok(Some(_dropped)) => {
                Metrics::add(&ctx.metrics.udp_dropped, count);
                if let Some(datagrams) = dropped_warning.add(count) {
                    tracing::warn!(datagrams, "pipeline full; UDP datagrams dropped (counted in syslane_udp_dropped_total); send over TCP or RELP, which push back instead");
                }
            }
            Err(_) => break,
        }
    }
    if let Some(datagrams) = dropped_warning.rest() {
        tracing::warn!(datagrams, "pipeline full; UDP datagrams dropped (counted in syslane_udp_dropped_total); send over TCP or RELP, which push back instead");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_are_read_from_the_row_of_our_inode() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
             \x20 10: 0100007F:627C 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4711 2 0000000000000000 0\n\
             \x20 11: 0100007F:627D 00000000:0000 07 00000000:00034000 00:00000000 00000000     0        0 4712 2 0000000000000000 1234\n";
        assert_eq!(socket_drops(table, 4712), Some(1234));
        assert_eq!(socket_drops(table, 4711), Some(0));
        assert_eq!(socket_drops(table, 99), None);
        assert_eq!(socket_drops("", 4712), None);
    }

    #[test]
    fn a_bound_socket_is_found_in_proc() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let socket = bind("127.0.0.1:0".parse().unwrap(), 1 << 16).unwrap();
            let ino = inode(&socket).unwrap();
            assert_eq!(read_drops(ino), Some(0));
        });
    }
}
