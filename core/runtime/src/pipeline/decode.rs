//! Turning a decoder's records into rows of the batch: the host's record policy.
//!
//! A record takes the frame's receive time when the decoder left it out, and the
//! frame's truncation mark. A frame the decoder emitted nothing for (it panicked,
//! failed or skipped it) is kept whole as a parse failure, `user.notice`:
//! nothing accepted is lost.
//!
//! Who sent a record (its HostIP and HostName, and so Computer) is decided here
//! and only here, for every decoder alike, by [`sender`]: filters see and the
//! serializer writes what it decided.

use super::arena::{Arena, Span};
use super::batch::{Rec, RecordBatch};
use crate::columns::Column;
use crate::listen::FrameBatch;
use crate::plugin_host::{CallOutcome, Columns, DecoderInstance, Emitted, FrameIn, FrameViews};
use std::net::IpAddr;
use syslane_abi::*;

/// Reused buffers for decoding, kept by each worker.
#[derive(Default)]
pub(crate) struct DecodeScratch {
    views: FrameViews,
    peers: Arena,
    peer_spans: Vec<Span>,
    emitted: Vec<bool>,
}

/// What a decode call produced.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct DecodeReport {
    pub outcome: CallOutcome,
    /// Records the decoder emitted that the host could not accept.
    pub malformed: u64,
    /// Frames kept whole because the decoder emitted nothing for them.
    pub kept_whole: u64,
}

/// This host, as records from local (loopback) senders name it.
#[derive(Debug, Clone)]
pub(crate) struct ThisHost {
    pub name: String,
    /// Its address, as text.
    pub ip: String,
}

/// What the decoder read of the sender (`None` where the message does not say).
#[derive(Clone, Copy, Default)]
struct Decoded<'a> {
    host_name: Option<&'a [u8]>,
    host_ip: Option<&'a [u8]>,
}

/// Where a record's HostName comes from (see [`sender`]).
enum Name<'a> {
    Own(&'a [u8]),
    /// The record's HostIP stands for its name.
    Ip,
}

/// A record's HostIP and HostName.
///
/// HostIP: this host's address for a local sender (the relaying daemon on this
/// host), else the address the decoder read (a relay's original sender), else the
/// sender's. HostName (and Computer): the message's own host name, else this
/// host's name for a local sender, else the HostIP.
fn sender<'a>(
    local: bool,
    decoded: Decoded<'a>,
    this: &'a ThisHost,
    peer: &'a [u8],
) -> (&'a [u8], Name<'a>) {
    let ip = match decoded.host_ip {
        _ if local => this.ip.as_bytes(),
        Some(ip) => ip,
        None => peer,
    };
    let name = match decoded.host_name {
        Some(name) => Name::Own(name),
        None if local => Name::Own(this.name.as_bytes()),
        None => Name::Ip,
    };
    (ip, name)
}

/// Puts a record's sender into the batch: the (HostIP, HostName) spans.
fn put_sender(b: &mut RecordBatch, (ip, name): (&[u8], Name<'_>)) -> (Span, Span) {
    let ip = b.arena.put(ip);
    let name = match name {
        Name::Own(n) => b.arena.put(n),
        Name::Ip => ip,
    };
    (ip, name)
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
    this: &ThisHost,
    emitted: &Emitted<'_>,
) -> bool {
    let r = &emitted.columns;
    let Some(meta) = frames.frames.get(i) else {
        return false;
    };
    let local = meta.peer.is_loopback();
    let decoded = Decoded {
        host_name: r.host_name,
        host_ip: r.host_ip,
    };
    let (host_ip, host_name) = put_sender(b, sender(local, decoded, this, peer));
    let mut rec = b.copy(&Columns {
        flags: r.flags | truncated(meta.flags),
        receive_time_ns: if r.receive_time_ns == 0 {
            meta.receive_time_ns
        } else {
            r.receive_time_ns
        },
        // Decided above.
        host_name: None,
        host_ip: None,
        message: Some(r.message.unwrap_or(b"")),
        ..*r
    });
    rec.host_name = Some(host_name);
    rec.host_ip = Some(host_ip);
    let fields_start = b.fields.len() as u32;
    for (name, value, kind) in emitted.fields() {
        if name.is_empty() || Column::from_name(name) != Some(Column::Extra) {
            continue;
        }
        b.push_field(name, value, kind);
    }
    rec.fields = (fields_start, b.fields.len() as u32 - fields_start);
    b.recs.push(rec);
    true
}

/// Runs a decoder over a frame batch, appending records to `batch`; frames it
/// emitted nothing for are kept whole as parse failures.
pub(crate) fn decode(
    decoder: &mut DecoderInstance,
    frames: &FrameBatch,
    batch: &mut RecordBatch,
    scratch: &mut DecodeScratch,
    this: &ThisHost,
) -> DecodeReport {
    let DecodeScratch {
        views,
        peers,
        peer_spans,
        emitted,
    } = scratch;
    peers.clear();
    peer_spans.clear();
    let mut last: Option<(IpAddr, Span)> = None;
    for meta in &frames.frames {
        let span = match last {
            Some((ip, span)) if ip == meta.peer => span,
            _ => peers.put_display(meta.peer),
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
            peer: peers.get(*span),
            transport: frames.transport,
            flags: meta.flags,
            receive_time_ns: meta.receive_time_ns,
        });
    let call = decoder.decode(views, inputs, |i, r| {
        let peer = peers.get(peer_spans[i]);
        let ok = accept(batch, frames, i, peer, this, r);
        if ok {
            emitted[i] = true;
        }
        ok
    });
    let mut report = DecodeReport {
        outcome: call.outcome,
        malformed: call.malformed,
        kept_whole: 0,
    };
    for (i, meta) in frames.frames.iter().enumerate() {
        if emitted[i] {
            continue;
        }
        report.kept_whole += 1;
        let local = meta.peer.is_loopback();
        let message = Some(batch.arena.put(frames.frame(meta)));
        let peer = peers.get(peer_spans[i]);
        let (host_ip, host_name) = put_sender(batch, sender(local, Decoded::default(), this, peer));
        batch.recs.push(Rec {
            flags: SL_RECORD_PARSE_FAILED | truncated(meta.flags),
            facility: SL_NO_PRI_FACILITY as u8,
            severity: SL_NO_PRI_SEVERITY as u8,
            event_time_ns: SL_TIME_NONE,
            receive_time_ns: meta.receive_time_ns,
            host_ip: Some(host_ip),
            host_name: Some(host_name),
            message,
            fields: (batch.fields.len() as u32, 0),
            ..Rec::default()
        });
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn this() -> ThisHost {
        ThisHost {
            name: "collector".into(),
            ip: "10.0.0.5".into(),
        }
    }

    /// (HostIP, HostName) as the batch holds them.
    fn decided(local: bool, name: Option<&str>, ip: Option<&str>, peer: &str) -> (String, String) {
        let this = this();
        let decoded = Decoded {
            host_name: name.map(str::as_bytes),
            host_ip: ip.map(str::as_bytes),
        };
        let mut b = RecordBatch::default();
        let (ip, name) = put_sender(&mut b, sender(local, decoded, &this, peer.as_bytes()));
        let text = |s: Span| String::from_utf8_lossy(b.arena.get(s)).into_owned();
        (text(ip), text(name))
    }

    #[test]
    fn a_local_sender_is_this_host_unless_the_message_names_its_host() {
        assert_eq!(
            decided(true, None, None, "127.0.0.1"),
            ("10.0.0.5".into(), "collector".into())
        );
        assert_eq!(
            decided(true, Some("web1"), Some("192.0.2.7"), "127.0.0.1"),
            ("10.0.0.5".into(), "web1".into())
        );
    }

    #[test]
    fn a_remote_sender_is_what_the_message_says_else_its_address() {
        assert_eq!(
            decided(false, Some("fw01"), Some("192.0.2.7"), "198.51.100.1"),
            ("192.0.2.7".into(), "fw01".into())
        );
        assert_eq!(
            decided(false, None, None, "198.51.100.1"),
            ("198.51.100.1".into(), "198.51.100.1".into())
        );
        assert_eq!(
            decided(false, None, Some("192.0.2.7"), "198.51.100.1"),
            ("192.0.2.7".into(), "192.0.2.7".into())
        );
    }
}
