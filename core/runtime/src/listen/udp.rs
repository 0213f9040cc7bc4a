//! The UDP socket and the kernel's count of what it dropped; the receive loop is
//! [`super::datagram`]'s.

use super::ListenContext;
use crate::metrics::Metrics;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;

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
