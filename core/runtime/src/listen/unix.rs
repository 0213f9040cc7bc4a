//! Unix socket listeners: `unix://` (datagrams, one message each, as rsyslog's
//! `omuxsock` and syslog-ng's `unix-dgram()` send them, as to the Azure Monitor
//! Agent before its version 1.28)
//! and `unixstream://` (framed like TCP).
//!
//! The rules are those of the network listeners: a datagram batch that finds the
//! pipeline full past a short wait is dropped and counted (`unix_dropped`), as
//! with UDP; a stream connection stops reading, so its sender waits, as with TCP.
//! Senders are local: records get this host's address.

use super::slots::RateLimited;
use super::{FrameBatch, ListenContext};
use crate::config::UnixSocket;
use crate::metrics::Metrics;
use crate::system::now_ns;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use syslane_abi::SL_TRANSPORT_UNIX;
use tokio::net::{UnixDatagram, UnixListener};

/// Datagrams gathered into one batch at most.
const BATCH_DATAGRAMS: usize = 512;
/// How long a datagram batch may wait for room before it is dropped (as UDP).
const PATIENCE: Duration = Duration::from_millis(200);
/// The dropped-datagrams warning comes at most this often, with a count.
const DROPPED_WARNING_EVERY: Duration = Duration::from_secs(10);
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

pub(super) async fn run_datagram(
    socket: UnixDatagram,
    path: std::path::PathBuf,
    listener: usize,
    ctx: Arc<ListenContext>,
) {
    let _remove = RemoveOnDrop(&path);
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
        let mut batch = FrameBatch::new(listener, SL_TRANSPORT_UNIX, 64 * 1024);
        let now = now_ns();
        let mut result = first;
        loop {
            match result {
                Ok(n) => batch.push_datagram(&buf[..n], max, LOCAL.ip(), now, &ctx.metrics),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::warn!(error = %e, "unix socket receive failed");
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
            tracing::warn!(datagrams, "pipeline full; unix socket datagrams dropped (counted in syslane_unix_dropped_total); use unixstream://, which pushes back instead");
        }
        if ctx.journal_failing() {
            // The journal cannot take them and a datagram sender cannot be paused.
            Metrics::add(&ctx.metrics.records_refused_journal_write, count);
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
                Metrics::add(&ctx.metrics.unix_dropped, count);
                if let Some(datagrams) = dropped_warning.add(count) {
                    tracing::warn!(datagrams, "pipeline full; unix socket datagrams dropped (counted in syslane_unix_dropped_total); use unixstream://, which pushes back instead");
                }
            }
            Err(_) => break,
        }
    }
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
