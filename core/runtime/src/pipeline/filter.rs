//! Running a filter over the live records of a batch: edits the filter asks for
//! are checked against the columns, queued during the call, and applied once it
//! returns. Edits of a call that panicked are discarded: its records pass unchanged.

use super::arena::{put, view};
use super::batch::{Column, RecordBatch, Span};
use crate::plugin_host::{CallOutcome, Columns, Edit, FilterInstance, RecordViews};

/// Reused buffers for filtering, kept by each worker.
#[derive(Default)]
pub(crate) struct FilterScratch {
    live: Vec<u32>,
    views: RecordViews,
    edits: Vec<Queued>,
    edit_arena: Vec<u8>,
}

enum Queued {
    Drop(usize),
    Set {
        index: usize,
        column: Column,
        name: (u32, u32),
        value: Option<(u32, u32)>,
        kind: u32,
    },
}

/// What a filter call did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FilterReport {
    pub outcome: CallOutcome,
    pub dropped: u64,
}

fn get(arena: &[u8], span: Span) -> Option<&[u8]> {
    span.map(|s| view(arena, s))
}

/// Runs `filter` over the live records of `batch` and applies its edits.
pub(crate) fn filter(
    filter: &mut FilterInstance,
    batch: &mut RecordBatch,
    scratch: &mut FilterScratch,
) -> FilterReport {
    let FilterScratch {
        live,
        views,
        edits,
        edit_arena,
    } = scratch;
    live.clear();
    live.extend(batch.live().map(|(i, _)| i as u32));
    if live.is_empty() {
        return FilterReport::default();
    }
    edits.clear();
    edit_arena.clear();
    let outcome = {
        let b = &*batch;
        let a = &b.arena;
        let mut built = views.begin();
        for &i in live.iter() {
            let r = &b.recs[i as usize];
            built.record(Columns {
                table: r.table,
                flags: r.flags,
                facility: r.facility,
                severity: r.severity,
                event_time_ns: r.event_time_ns,
                receive_time_ns: r.receive_time_ns,
                host_name: get(a, r.host_name),
                host_ip: get(a, r.host_ip),
                process_name: get(a, r.process_name),
                proc_id: get(a, r.proc_id),
                msg_id: get(a, r.msg_id),
                structured_data: get(a, r.structured_data),
                message: get(a, r.message),
            });
            for f in b.fields_of(r) {
                built.field(b.slice(f.name), b.slice(f.value), f.kind);
            }
        }
        filter.filter(built, |edit| match edit {
            Edit::Drop(index) => {
                edits.push(Queued::Drop(index));
                true
            }
            Edit::Set {
                index,
                name,
                value,
                kind,
            } => {
                let Some(column) = Column::from_name(name) else {
                    return false;
                };
                if !column.accepts(value) {
                    return false;
                }
                let name = put(edit_arena, name);
                let value = value.map(|v| put(edit_arena, v));
                edits.push(Queued::Set {
                    index,
                    column,
                    name,
                    value,
                    kind,
                });
                true
            }
        })
    };
    let mut report = FilterReport {
        outcome,
        dropped: 0,
    };
    match outcome {
        // The call's edits are discarded: its records pass unchanged.
        CallOutcome::Panicked => return report,
        CallOutcome::Done
        | CallOutcome::Failed
        | CallOutcome::NoInstance
        | CallOutcome::Unexpected(_) => {}
    }
    for edit in edits.drain(..) {
        match edit {
            Queued::Drop(v) => {
                let rec = &mut batch.recs[live[v] as usize];
                if !rec.dropped {
                    rec.dropped = true;
                    report.dropped += 1;
                }
            }
            Queued::Set {
                index,
                column,
                name,
                value,
                kind,
            } => {
                let name = view(edit_arena, name);
                let value = value.map(|v| view(edit_arena, v));
                batch.set(live[index] as usize, column, name, value, kind);
            }
        }
    }
    report
}
