//! Calling decoders and filters with batches: building the ABI's views over the
//! host's buffers and taking records and edits back through callbacks.
//!
//! Views handed to a plugin point into buffers that are not touched during the
//! call: emitted records are copied into the batch's arena (the frames live
//! elsewhere), and filter edits are queued in their own buffer and applied after
//! the call returns.

use super::PluginInstance;
use crate::listen::FrameBatch;
use crate::pipeline::batch::{Column, Rec, RecordBatch};
use std::ffi::c_void;
use std::io::Write;
use std::net::IpAddr;
use syslane_abi::*;

/// Reused buffers for decoding, kept by each worker.
#[derive(Default)]
pub struct DecodeScratch {
    frames: Vec<SlFrame>,
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

struct EmitCtx<'a> {
    batch: &'a mut RecordBatch,
    frames: &'a FrameBatch,
    peers: &'a [u8],
    peer_spans: &'a [(u32, u32)],
    local_ip: &'a [u8],
    emitted: &'a mut [bool],
    malformed: u64,
}

fn write_ip(out: &mut Vec<u8>, ip: IpAddr) -> (u32, u32) {
    let start = out.len();
    let _ = write!(out, "{ip}");
    (start as u32, (out.len() - start) as u32)
}

fn view(bytes: &[u8], (start, len): (u32, u32)) -> &[u8] {
    bytes
        .get(start as usize..(start + len) as usize)
        .unwrap_or(&[])
}

/// Copies one emitted record into the batch. `Err` for a record that breaks the ABI.
///
/// # Safety
/// `r` must be a valid record whose views are valid for the call.
unsafe fn accept(ctx: &mut EmitCtx<'_>, frame_index: usize, r: &SlRecord) -> Result<(), ()> {
    let meta = ctx.frames.frames.get(frame_index).ok_or(())?;
    if r.struct_size < min_size::RECORD || r.facility > 23 || r.severity > 7 || r.field_count > 4096
    {
        return Err(());
    }
    let fields: &[SlField] = if r.fields.is_null() || r.field_count == 0 {
        &[]
    } else {
        // SAFETY: the decoder passes `field_count` fields valid for the call.
        unsafe { std::slice::from_raw_parts(r.fields, r.field_count) }
    };
    let b = &mut *ctx.batch;
    let local = meta.peer.is_loopback();
    // SAFETY: views in the record are valid for the call (caller's contract).
    let text = |s: SlStr| unsafe { s.as_bytes() };
    let host_ip = match text(r.host_ip) {
        Some(ip) if !local => Some(ip),
        _ if local => Some(ctx.local_ip),
        _ => Some(view(ctx.peers, ctx.peer_spans[frame_index])),
    };
    let fields_start = b.fields.len() as u32;
    for f in fields {
        let name = text(f.name).unwrap_or(b"");
        if name.is_empty() || Column::from_name(name) != Some(Column::Extra) {
            continue;
        }
        b.push_field(name, text(f.value).unwrap_or(b""), f.kind);
    }
    let rec = Rec {
        table: r.table,
        flags: r.flags
            | if meta.flags & SL_FRAME_TRUNCATED != 0 {
                SL_RECORD_TRUNCATED
            } else {
                0
            },
        facility: r.facility as u8,
        severity: r.severity as u8,
        dropped: false,
        local,
        event_time_ns: r.event_time_ns,
        receive_time_ns: if r.receive_time_ns == 0 {
            meta.receive_time_ns
        } else {
            r.receive_time_ns
        },
        host_name: b.put_opt(text(r.host_name)),
        host_ip: b.put_opt(host_ip),
        process_name: b.put_opt(text(r.process_name)),
        proc_id: b.put_opt(text(r.proc_id)),
        msg_id: b.put_opt(text(r.msg_id)),
        structured_data: b.put_opt(text(r.structured_data)),
        message: Some(b.put(text(r.message).unwrap_or(b""))),
        fields: (fields_start, b.fields.len() as u32 - fields_start),
    };
    b.recs.push(rec);
    Ok(())
}

unsafe extern "C" fn emit(
    ctx: *mut c_void,
    frame_index: usize,
    record: *const SlRecord,
) -> SlStatus {
    // SAFETY: `ctx` is the EmitCtx of the decode call in progress.
    let ctx = unsafe { &mut *ctx.cast::<EmitCtx<'_>>() };
    // SAFETY: the decoder passes a record valid for this call, or null.
    let accepted = match unsafe { record.as_ref() } {
        // SAFETY: as above.
        Some(r) => unsafe { accept(ctx, frame_index, r) },
        None => Err(()),
    };
    match accepted {
        Ok(()) => {
            if let Some(e) = ctx.emitted.get_mut(frame_index) {
                *e = true;
            }
            SL_OK
        }
        Err(()) => {
            ctx.malformed += 1;
            SL_ERROR
        }
    }
}

/// Runs a decoder over a frame batch, appending records to `batch`. Frames the
/// decoder emitted nothing for (it panicked, failed or skipped them) are kept whole
/// as parse failures: nothing accepted is lost.
pub fn decode(
    decoder: &mut PluginInstance,
    frames: &FrameBatch,
    batch: &mut RecordBatch,
    scratch: &mut DecodeScratch,
    local_ip: &[u8],
) -> DecodeReport {
    scratch.peers.clear();
    scratch.peer_spans.clear();
    let mut last: Option<(IpAddr, (u32, u32))> = None;
    for meta in &frames.frames {
        let span = match last {
            Some((ip, span)) if ip == meta.peer => span,
            _ => write_ip(&mut scratch.peers, meta.peer),
        };
        last = Some((meta.peer, span));
        scratch.peer_spans.push(span);
    }
    scratch.frames.clear();
    for (meta, span) in frames.frames.iter().zip(&scratch.peer_spans) {
        scratch.frames.push(SlFrame {
            data: SlStr::from_bytes(frames.frame(meta)),
            peer: SlStr::from_bytes(view(&scratch.peers, *span)),
            transport: frames.transport,
            flags: meta.flags,
            receive_time_ns: meta.receive_time_ns,
        });
    }
    scratch.emitted.clear();
    scratch.emitted.resize(frames.frames.len(), false);
    let mut ctx = EmitCtx {
        batch,
        frames,
        peers: &scratch.peers,
        peer_spans: &scratch.peer_spans,
        local_ip,
        emitted: &mut scratch.emitted,
        malformed: 0,
    };
    // SAFETY: `ctx` is the EmitCtx `emit` expects and outlives the call; the frame
    // views point into `frames` and `scratch.peers`, untouched during the call.
    let status =
        unsafe { decoder.decode(&scratch.frames, emit, (&mut ctx as *mut EmitCtx<'_>).cast()) };
    let mut report = DecodeReport {
        status,
        malformed: ctx.malformed,
        kept_whole: 0,
    };
    for (i, meta) in frames.frames.iter().enumerate() {
        if scratch.emitted[i] {
            continue;
        }
        report.kept_whole += 1;
        let frame = frames.frame(meta);
        let local = meta.peer.is_loopback();
        let message = Some(batch.put(frame));
        let host_ip = if local {
            batch.put_opt(Some(local_ip))
        } else {
            batch.put_opt(Some(view(&scratch.peers, scratch.peer_spans[i])))
        };
        let mut flags = SL_RECORD_PARSE_FAILED;
        if meta.flags & SL_FRAME_TRUNCATED != 0 {
            flags |= SL_RECORD_TRUNCATED;
        }
        batch.recs.push(Rec {
            flags,
            facility: 1,
            severity: 5,
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

/// Reused buffers for filtering, kept by each worker.
#[derive(Default)]
pub struct FilterScratch {
    live: Vec<u32>,
    views: Vec<SlRecord>,
    view_fields: Vec<SlField>,
    edits: Vec<Edit>,
    edit_arena: Vec<u8>,
}

enum Edit {
    Drop(usize),
    Set {
        index: usize,
        column: Column,
        name: (u32, u32),
        value: Option<(u32, u32)>,
        kind: u32,
    },
}

struct EditCtx<'a> {
    count: usize,
    edits: &'a mut Vec<Edit>,
    arena: &'a mut Vec<u8>,
}

unsafe extern "C" fn drop_record(ctx: *mut c_void, index: usize) -> SlStatus {
    // SAFETY: `ctx` is the EditCtx of the filter call in progress.
    let ctx = unsafe { &mut *ctx.cast::<EditCtx<'_>>() };
    if index >= ctx.count {
        return SL_ERROR;
    }
    ctx.edits.push(Edit::Drop(index));
    SL_OK
}

unsafe extern "C" fn set_field(
    ctx: *mut c_void,
    index: usize,
    name: SlStr,
    value: SlStr,
    kind: u32,
) -> SlStatus {
    // SAFETY: `ctx` is the EditCtx of the filter call in progress; the views are valid
    // for this call.
    let (ctx, name, value) = unsafe {
        (
            &mut *ctx.cast::<EditCtx<'_>>(),
            name.as_bytes().unwrap_or(b""),
            value.as_bytes(),
        )
    };
    let Some(column) = Column::from_name(name) else {
        return SL_ERROR;
    };
    if index >= ctx.count || !column.accepts(value) || kind > SL_VALUE_JSON {
        return SL_ERROR;
    }
    let mut put = |b: &[u8]| {
        let start = ctx.arena.len() as u32;
        ctx.arena.extend_from_slice(b);
        (start, b.len() as u32)
    };
    let name = put(name);
    let value = value.map(&mut put);
    ctx.edits.push(Edit::Set {
        index,
        column,
        name,
        value,
        kind,
    });
    SL_OK
}

/// What a filter call did.
#[derive(Debug, Default, Clone, Copy)]
pub struct FilterReport {
    pub status: SlStatus,
    pub dropped: u64,
}

fn sl(arena: &[u8], span: Option<(u32, u32)>) -> SlStr {
    span.map_or(SlStr::NULL, |s| SlStr::from_bytes(view(arena, s)))
}

/// Runs a filter over the live records of `batch` and applies its edits. Edits of a
/// call that panicked are discarded: its records pass unchanged.
pub fn filter(
    filter: &mut PluginInstance,
    batch: &mut RecordBatch,
    scratch: &mut FilterScratch,
) -> FilterReport {
    scratch.live.clear();
    scratch.live.extend(batch.live().map(|(i, _)| i as u32));
    if scratch.live.is_empty() {
        return FilterReport::default();
    }
    scratch.view_fields.clear();
    for &i in &scratch.live {
        let rec = &batch.recs[i as usize];
        for f in batch.fields_of(rec) {
            scratch.view_fields.push(SlField {
                name: SlStr::from_bytes(batch.slice(f.name)),
                value: SlStr::from_bytes(batch.slice(f.value)),
                kind: f.kind,
            });
        }
    }
    scratch.views.clear();
    let mut field_at = 0usize;
    for &i in &scratch.live {
        let r = &batch.recs[i as usize];
        let n = r.fields.1 as usize;
        let fields = scratch.view_fields[field_at..field_at + n].as_ptr();
        field_at += n;
        let a = &batch.arena;
        scratch.views.push(SlRecord {
            struct_size: min_size::RECORD,
            table: r.table,
            flags: r.flags,
            facility: u32::from(r.facility),
            severity: u32::from(r.severity),
            event_time_ns: r.event_time_ns,
            receive_time_ns: r.receive_time_ns,
            host_name: sl(a, r.host_name),
            host_ip: sl(a, r.host_ip),
            process_name: sl(a, r.process_name),
            proc_id: sl(a, r.proc_id),
            msg_id: sl(a, r.msg_id),
            structured_data: sl(a, r.structured_data),
            message: sl(a, r.message),
            fields: if n == 0 { std::ptr::null() } else { fields },
            field_count: n,
        });
    }
    scratch.edits.clear();
    scratch.edit_arena.clear();
    let mut ctx = EditCtx {
        count: scratch.live.len(),
        edits: &mut scratch.edits,
        arena: &mut scratch.edit_arena,
    };
    let api = SlEditApi {
        struct_size: min_size::EDIT_API,
        edit_ctx: (&mut ctx as *mut EditCtx<'_>).cast(),
        drop_record,
        set_field,
    };
    // SAFETY: the views point into `batch` and `scratch.view_fields`, neither touched
    // until the call returns; `api.edit_ctx` is the EditCtx the callbacks expect.
    let status = unsafe { filter.filter(&scratch.views, &api) };
    let mut report = FilterReport { status, dropped: 0 };
    if status == SL_PANICKED {
        return report;
    }
    for edit in scratch.edits.drain(..) {
        match edit {
            Edit::Drop(v) => {
                let rec = &mut batch.recs[scratch.live[v] as usize];
                if !rec.dropped {
                    rec.dropped = true;
                    report.dropped += 1;
                }
            }
            Edit::Set {
                index,
                column,
                name,
                value,
                kind,
            } => {
                let name = view(&scratch.edit_arena, name);
                let value = value.map(|v| view(&scratch.edit_arena, v));
                batch.set(scratch.live[index] as usize, column, name, value, kind);
            }
        }
    }
    report
}
