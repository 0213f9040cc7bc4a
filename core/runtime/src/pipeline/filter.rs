//! Running a filter over the live records of a batch: edits the filter asks for
//! are checked against the columns, queued during the call, and applied once it
//! returns. Edits of a call that panicked are discarded: its records pass unchanged.

use super::arena::{Arena, Span};
use super::batch::RecordBatch;
use crate::columns::Column;
use crate::plugin_host::{CallOutcome, Edit, FilterInstance, RecordViews};

/// Reused buffers for filtering, kept by each worker.
#[derive(Default)]
pub(crate) struct FilterScratch {
    live: Vec<u32>,
    views: RecordViews,
    edits: Vec<Queued>,
    edit_arena: Arena,
}

enum Queued {
    Drop(usize),
    Set {
        index: usize,
        column: Column,
        name: Span,
        value: Option<Span>,
        kind: u32,
    },
}

/// What a filter call did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FilterReport {
    pub outcome: CallOutcome,
    pub dropped: u64,
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
        let mut built = views.begin();
        for &i in live.iter() {
            let r = &b.recs[i as usize];
            built.record(b.columns(r));
            for f in b.fields_of(r) {
                built.field(b.arena.get(f.name), b.arena.get(f.value), f.kind);
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
                let name = edit_arena.put(name);
                let value = edit_arena.put_opt(value);
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
                let name = edit_arena.get(name);
                let value = edit_arena.get_opt(value);
                batch.set(live[index] as usize, column, name, value, kind);
            }
        }
    }
    report
}
