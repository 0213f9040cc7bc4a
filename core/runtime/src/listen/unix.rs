//! Unix socket listeners: `unix://` (datagrams, one message each, as rsyslog's
//! `omuxsock` and syslog-ng's `unix-dgram()` send them, as to the Azure Monitor
//! Agent before its version 1.28)
//! and `unixstream://` (framed like TCP).
//!
//! The rules are those of the network listeners: a datagram batch that finds the
//! pipeline full past a short wait is dropped and counted (`unix_dropped`), as
//! with UDP; a stream connection stops reading, so its sender waits, as with TCP.
//! Senders are local: records get this host's address.

use super::datagram::DatagramSocket;
use super::ListenContext;
use crate::config::UnixSocket;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use syslane_abi::SL_TRANSPORT_UNIX;
use tokio::net::{UnixDatagram, UnixListener};

/// The sender's address as records see it: local.
const LOCAL: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// Makes room for the socket: creates its directory, and removes a socket file
/// left by an earlier run (never a file of another kind, nor a socket that a
/// running process still answers on).
fn prepare(path: &Path, stream: bool) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        return Err(std::io::Error::other(
            "the path exists and is not a socket; remove it or choose another path",
        ));
    }
    let in_use = if stream {
        std::os::unix::net::UnixStream::connect(path).is_ok()
    } else {
        std::os::unix::net::UnixDatagram::unbound()
            .and_then(|s| s.connect(path))
            .is_ok()
    };
    if in_use {
        return Err(std::io::Error::other(
            "another process listens on this socket (a second agent?); stop it or choose another path",
        ));
    }
    std::fs::remove_file(path)
}

/// The group's id: a number, or a name looked up in the system's group database.
fn group_id(group: &str) -> std::io::Result<u32> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(gid);
    }
    match nix::unistd::Group::from_name(group) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(std::io::Error::other(format!(
            "socket_group: there is no group `{}`; create it or name an existing one",
            crate::config::escape(group)
        ))),
        Err(e) => Err(std::io::Error::other(format!(
            "socket_group: cannot look up group `{}`: {e}",
            crate::config::escape(group)
        ))),
    }
}

/// Gives the socket file its mode and group.
fn set_access(path: &Path, socket: &UnixSocket) -> std::io::Result<()> {
    if let Some(group) = &socket.group {
        let gid = group_id(group)?;
        std::os::unix::fs::chown(path, None, Some(gid)).map_err(|e| {
            std::io::Error::other(format!(
                "socket_group: cannot give the socket to group {} ({e}); the agent's user must be a member of that group",
                crate::config::escape(group)
            ))
        })?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(socket.mode))
}

pub(super) fn bind_datagram(
    path: &Path,
    socket: &UnixSocket,
    receive_buffer: usize,
) -> std::io::Result<UnixDatagram> {
    prepare(path, false)?;
    let s = std::os::unix::net::UnixDatagram::bind(path)?;
    let _ = socket2::SockRef::from(&s).set_recv_buffer_size(receive_buffer);
    s.set_nonblocking(true)?;
    set_access(path, socket)?;
    UnixDatagram::from_std(s)
}

pub(super) fn bind_stream(path: &Path, socket: &UnixSocket) -> std::io::Result<UnixListener> {
    prepare(path, true)?;
    let s = std::os::unix::net::UnixListener::bind(path)?;
    s.set_nonblocking(true)?;
    set_access(path, socket)?;
    UnixListener::from_std(s)
}

/// Removes the socket file when the listener stops, so senders see at once that
/// nobody listens (and a later run finds the path free).
struct RemoveOnDrop<'a>(&'a Path);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}

/// Runs the datagram socket at `path` (see [`super::datagram`]); removes the
/// socket file when it stops.
pub(super) async fn run_datagram(
    socket: UnixDatagram,
    path: std::path::PathBuf,
    listener: usize,
    ctx: Arc<ListenContext>,
) {
    let _remove = RemoveOnDrop(&path);
    super::datagram::run(DatagramSocket::Unix(socket), listener, ctx).await;
}

pub(super) async fn run_stream(
    listener: UnixListener,
    path: std::path::PathBuf,
    index: usize,
    ctx: Arc<ListenContext>,
) {
    let remove = RemoveOnDrop(&path);
    // The same slots as TCP: a connection that completes no message within
    // idle_timeout is closed, and a full table makes room for a new one.
    let mut connections = super::tcp::Connections::new(&ctx);
    let mut shutdown = ctx.shutdown.clone();
    loop {
        connections.tidy();
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a unix socket connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(held) = connections.admit(&mut shutdown).await else {
            break;
        };
        let ctx = Arc::clone(&ctx);
        connections.spawn(async move {
            super::tcp::connection(stream, LOCAL, index, SL_TRANSPORT_UNIX, &ctx, &held).await;
        });
    }
    drop(listener);
    drop(remove);
    connections.close().await;
}
