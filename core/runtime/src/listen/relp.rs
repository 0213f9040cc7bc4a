//! RELP sessions, as rsyslog's `omrelp` speaks them: `open`, `syslog`, `close`,
//! answered with `rsp`. A message is answered `200 OK` only after the pipeline has
//! put it in the journal (durable with `fsync = "batch"`); until then the sender
//! keeps it, so a crash between the two loses nothing (the sender resends).
//!
//! A session keeps its slot only while it completes frames and reads its answers:
//! one that has completed no frame within `idle_timeout`, or has not read its
//! responses within it (a write deadline), is closed. While the journal cannot be
//! written, messages are answered 500 and counted as refused; the sender keeps them.

use super::slots::{Held, ReadBuffer};
use super::tcp::{forward, OpenConnection};
use super::{FrameBatch, ListenContext};
use crate::metrics::Metrics;
use crate::system::now_ns;
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Instant;
use syslane_abi::{SL_FRAME_TRUNCATED, SL_TRANSPORT_RELP};
use syslane_syslog::{RelpEvent, RelpReader};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// Bytes asked of the socket per read.
const READ_SIZE: usize = 64 * 1024;

fn rsp(out: &mut Vec<u8>, txnr: u64, data: &str) {
    if data.is_empty() {
        let _ = writeln!(out, "{txnr} rsp 0");
    } else {
        let _ = writeln!(out, "{txnr} rsp {} {data}", data.len());
    }
}

/// Messages read but not yet answered.
struct Pending {
    batch: FrameBatch,
    txnrs: Vec<u64>,
}

impl Pending {
    fn new(listener: usize) -> Pending {
        Pending {
            batch: FrameBatch::new(listener, SL_TRANSPORT_RELP, READ_SIZE),
            txnrs: Vec::new(),
        }
    }
}

/// Hands the pending messages to the pipeline and answers each once journaled.
/// `false` when the pipeline is gone.
async fn commit(
    pending: &mut Pending,
    listener: usize,
    worker: usize,
    ctx: &ListenContext,
    out: &mut Vec<u8>,
) -> bool {
    if pending.txnrs.is_empty() {
        return true;
    }
    let Pending { mut batch, txnrs } = std::mem::replace(pending, Pending::new(listener));
    if ctx.journal_failing() {
        Metrics::add(
            &ctx.metrics.records_refused_journal_write_relp,
            txnrs.len() as u64,
        );
        for txnr in txnrs {
            rsp(
                out,
                txnr,
                "500 not journaled (journal writes fail); retry later",
            );
        }
        return false;
    }
    let (tx, rx) = oneshot::channel();
    batch.ack = Some(tx);
    let sent = forward(batch, worker, ctx).await;
    let journaled = sent && rx.await.unwrap_or(false);
    for txnr in txnrs {
        rsp(
            out,
            txnr,
            if journaled {
                "200 OK"
            } else {
                "500 not journaled; retry later"
            },
        );
    }
    journaled
}

pub(super) async fn session(
    mut stream: TcpStream,
    peer: SocketAddr,
    listener: usize,
    ctx: &ListenContext,
    held: &Held,
) {
    let _open = OpenConnection::new(&ctx.metrics);
    let _ = stream.set_nodelay(true);
    let worker = ctx.router.pick();
    let max = ctx.max_message_size;
    let mut buf = ReadBuffer::new(&ctx.metrics);
    let mut out: Vec<u8> = Vec::new();
    let mut shutdown = ctx.shutdown.clone();
    let mut pending = Pending::new(listener);
    let mut reader = RelpReader::new(max);
    let offer = format!(
        "200 OK\nrelp_version=0\nrelp_software=syslane,{},\ncommands=syslog",
        crate::VERSION
    );
    // A frame must complete within idle_timeout of the last one (or the accept).
    let mut last_frame = Instant::now();
    'session: loop {
        let deadline = tokio::time::Instant::from_std(last_frame + ctx.idle_timeout);
        let read = tokio::select! {
            r = tokio::time::timeout_at(deadline, buf.read_from(&stream, READ_SIZE)) => r,
            _ = shutdown.changed() => break,
            _ = held.slot.evicted() => {
                tracing::debug!(%peer, "closing a RELP session to admit a new connection (max_connections)");
                break;
            }
        };
        match read {
            Ok(Ok(n)) if n > 0 => {}
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "RELP read failed");
                return;
            }
            Ok(Ok(_)) => return,
            Err(_) => {
                Metrics::add(&ctx.metrics.connections_timed_out, 1);
                tracing::info!(%peer, timeout_secs = ctx.idle_timeout.as_secs(), "closing idle RELP session: no complete frame within idle_timeout_secs");
                break;
            }
        }
        let now = now_ns();
        let mut close = false;
        let mut close_txnr = None;
        let fed = reader.feed(&buf.data, |event| {
            last_frame = Instant::now();
            held.completed();
            match event {
                RelpEvent::Message {
                    txnr,
                    data,
                    truncated,
                } => {
                    let flags = if truncated {
                        tracing::warn!(%peer, txnr, kept = max, "RELP message larger than max_message_size; kept its start, marked Truncated");
                        SL_FRAME_TRUNCATED
                    } else {
                        0
                    };
                    pending.batch.push(data, flags, peer.ip(), now);
                    pending.txnrs.push(txnr);
                }
                RelpEvent::Open { txnr } => rsp(&mut out, txnr, &offer),
                RelpEvent::Close { txnr } => close_txnr = Some(txnr),
                RelpEvent::Refused { txnr, reason } => rsp(&mut out, txnr, &format!("500 {reason}")),
            }
        });
        let used = match fed {
            Ok(used) => used,
            Err(e) => {
                tracing::warn!(%peer, reason = %e, "RELP protocol error; closing the session (the sender will resend)");
                close = true;
                buf.data.len()
            }
        };
        if let Some(txnr) = close_txnr {
            if !commit(&mut pending, listener, worker, ctx, &mut out).await {
                break 'session;
            }
            rsp(&mut out, txnr, "");
            close = true;
        }
        buf.consume(used, READ_SIZE);
        let answered = !out.is_empty() || !pending.txnrs.is_empty();
        let ok = commit(&mut pending, listener, worker, ctx, &mut out).await;
        if !answer(&mut stream, &out, peer, ctx).await {
            return;
        }
        out.clear();
        if answered {
            // Time spent waiting for the pipeline or for the peer to read is not
            // counted against the next frame.
            last_frame = Instant::now();
        }
        if close || !ok {
            break;
        }
    }
    // Tell the sender we are going; what it has not seen answered it sends again.
    out.extend_from_slice(b"0 serverclose 0\n");
    let _ = answer(&mut stream, &out, peer, ctx).await;
}

/// Writes the answers, giving the peer `idle_timeout` to read them; `false` when
/// it did not (the session is closed: a peer that does not read its answers
/// must not hold a slot) or the connection failed.
async fn answer(stream: &mut TcpStream, out: &[u8], peer: SocketAddr, ctx: &ListenContext) -> bool {
    if out.is_empty() {
        return true;
    }
    match tokio::time::timeout(ctx.idle_timeout, stream.write_all(out)).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "RELP write failed");
            false
        }
        Err(_) => {
            Metrics::add(&ctx.metrics.connections_timed_out, 1);
            tracing::warn!(%peer, timeout_secs = ctx.idle_timeout.as_secs(), "closing RELP session: the peer has not read its responses within idle_timeout_secs (what it has not seen answered it sends again)");
            false
        }
    }
}
