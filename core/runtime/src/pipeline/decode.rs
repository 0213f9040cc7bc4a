//! Turning a decoder's records into rows of the batch: the host's record policy.
//!
//! A record takes the frame's receive time when the decoder left it out, and the
//! frame's truncation mark. A frame the decoder emitted nothing for (it panicked,
//! failed or skipped it) is kept whole as a parse failure, `user.notice`:
//! nothing accepted is lost.
//!
//! HostIP is decided here, for every decoder alike: this host's address for a
//! local (loopback) sender, else the address the decoder gave (a relay's
//! original sender), else the sender's. HostName and Computer are the message's
//! own host name; without one, the serializer writes the sender's name from the
//! same facts (this host's name for a local sender, else HostIP).

use super::arena::view;
use super::batch::{Column, Rec, RecordBatch};
use crate::listen::FrameBatch;
use crate::plugin_host::{DecoderInstance, Emitted, FrameIn, FrameViews};
use std::io::Write;
use std::net::IpAddr;
use syslane_abi::*;

/// Reused buffers for decoding, kept by each worker.
#[derive(Default)]
pub struct DecodeScratch {
    views: FrameViews,
    peers: Vec<u8>,
    peer_spans: Vec<(u32, u32)>,
    emitted: Vec<bool>,
}

/// What a decode call produced.
#[derive(Debug, Default, Clone, Copy)]
pub struct DecodeReport {
    pub status: SlStatus,
    /// Records the decoder emitted that the host could not accept.
    pub malformed: u64,
    /// Frames kept whole because the decoder emitted nothing for them.
    pub kept_whole: u64,
}

/// Writes `ip` as text to the end of `out`; returns its span (as `arena::put`).
fn write_ip(out: &mut Vec<u8>, ip: IpAddr) -> (u32, u32) {
    let start = out.len();
    let _ = write!(out, "{ip}");
    (start as u32, (out.len() - start) as u32)
}

/// The HostIP of a record: the decoder's for a remote sender that gave one, this
/// host's for a local sender, else the sender's address.
fn host_ip<'a>(
    local: bool,
    decoded: Option<&'a [u8]>,
    local_ip: &'a [u8],
    peer: &'a [u8],
) -> &'a [u8] {
    match decoded {
        _ if local => local_ip,
        Some(ip) => ip,
        None => peer,
    }
}

fn truncated(frame_flags: u32) -> u32 {
    if frame_flags & SL_FRAME_TRUNCATED != 0 {
        SL_RECORD_TRUNCATED
    } else {
        0
    }
}

/// Copies one emitted record of frame `i` into the batch.
fn accept(
    b: &mut RecordBatch,
    frames: &FrameBatch,
    i: usize,
    peer: &[u8],
    local_ip: &[u8],
    emitted: &Emitted<'_>,
) -> bool {
    let r = &emitted.columns;
    let Some(meta) = frames.frames.get(i) else {
        return false;
    };
    let local = meta.peer.is_loopback();
    let fields_start = b.fields.len() as u32;
    for (name, value, kind) in emitted.fields() {
        if name.is_empty() || Column::from_name(name) != Some(Column::Extra) {
            continue;
        }
        b.push_field(name, value, kind);
    }
    let rec = Rec {
        table: r.table,
        flags: r.flags | truncated(meta.flags),
        facility: r.facility,
        severity: r.severity,
        dropped: false,
        local,
        event_time_ns: r.event_time_ns,
        receive_time_ns: if r.receive_time_ns == 0 {
            meta.receive_time_ns
        } else {
            r.receive_time_ns
        },
        host_name: b.put_opt(r.host_name),
        host_ip: b.put_opt(Some(host_ip(local, r.host_ip, local_ip, peer))),
        process_name: b.put_opt(r.process_name),
        proc_id: b.put_opt(r.proc_id),
        msg_id: b.put_opt(r.msg_id),
        structured_data: b.put_opt(r.structured_data),
        message: Some(b.put(r.message.unwrap_or(b""))),
        fields: (fields_start, b.fields.len() as u32 - fields_start),
    };
    b.recs.push(rec);
    true
}

/// Runs a decoder over a frame batch, appending records to `batch`; frames it
/// emitted nothing for are kept whole as parse failures.
pub fn decode(
    decoder: &mut DecoderInstance,
    frames: &FrameBatch,
    batch: &mut RecordBatch,
    scratch: &mut DecodeScratch,
    local_ip: &[u8],
) -> DecodeReport {
    let DecodeScratch {
        views,
        peers,
        peer_spans,
        emitted,
    } = scratch;
    peers.clear();
    peer_spans.clear();
    let mut last: Option<(IpAddr, (u32, u32))> = None;
    for meta in &frames.frames {
        let span = match last {
            Some((ip, span)) if ip == meta.peer => span,
            _ => write_ip(peers, meta.peer),
        };
        last = Some((meta.peer, span));
        peer_spans.push(span);
    }
    emitted.clear();
    emitted.resize(frames.frames.len(), false);
    let inputs = frames
        .frames
        .iter()
        .zip(peer_spans.iter())
        .map(|(meta, span)| FrameIn {
            data: frames.frame(meta),
            peer: view(peers, *span),
            transport: frames.transport,
            flags: meta.flags,
            receive_time_ns: meta.receive_time_ns,
        });
    let call = decoder.decode(views, inputs, |i, r| {
        let peer = view(peers, peer_spans[i]);
        let ok = accept(batch, frames, i, peer, local_ip, r);
        if ok {
            emitted[i] = true;
        }
        ok
    });
    let mut report = DecodeReport {
        status: call.status,
        malformed: call.malformed,
        kept_whole: 0,
    };
    for (i, meta) in frames.frames.iter().enumerate() {
        if emitted[i] {
            continue;
        }
        report.kept_whole += 1;
        let local = meta.peer.is_loopback();
        let message = Some(batch.put(frames.frame(meta)));
        let ip = host_ip(local, None, local_ip, view(peers, peer_spans[i]));
        let host_ip = batch.put_opt(Some(ip));
        batch.recs.push(Rec {
            flags: SL_RECORD_PARSE_FAILED | truncated(meta.flags),
            facility: syslane_syslog::NO_PRI_FACILITY,
            severity: syslane_syslog::NO_PRI_SEVERITY,
            local,
            event_time_ns: SL_TIME_NONE,
            receive_time_ns: meta.receive_time_ns,
            host_ip,
            message,
            fields: (batch.fields.len() as u32, 0),
            ..Rec::default()
        });
    }
    report
}
