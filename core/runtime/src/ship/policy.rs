//! The shipper's batching policy, without I/O: which chunks go into which batch,
//! when a batch is offered, and how far the journal may be acknowledged. Time
//! comes in as an argument, so the tests drive the clock.
//!
//! Chunks gather into one open batch per table (a host that sends CEF and
//! syslog together gets full batches of each). A batch is offered as soon as it
//! is full. One that is not (the journal has nothing more for now) waits until
//! the output's linger has passed since the last batch that was not full,
//! stretched while the output is throttled: a quiet host makes at most one such
//! offer per linger, and a record waits at most that long. After a full batch,
//! what is open goes once the journal has been quiet for `BURST_END_QUIET` (the
//! end of a burst). A batch open for its whole interval (at least a second) goes
//! even while chunks keep coming, so a table with few records is not held up by
//! a busy one. Shutdown and a closed journal offer everything at once.
//!
//! The acknowledgement floor: the journal is acknowledged up to the oldest
//! beginning among batches still open or offered and not settled (delivered or
//! dead-lettered), else up to what was read, so it never passes a record that
//! is not settled, whatever order the answers come in.

use crate::journal::Position;
use crate::table::Table;
use std::time::{Duration, Instant};

/// While the output is throttled (it asked for a delay), the linger stretches up
/// to this many times its length, or this long, whichever is longer.
const STRETCH_MAX: u32 = 6;
const STRETCH_CAP: Duration = Duration::from_secs(60);
/// After a full batch, the journal's silence that ends a burst: what is open then
/// goes without waiting for the linger. Short, since the rest of a burst waits on
/// it; long enough that the gaps between the chunks of a steady stream (a few
/// milliseconds at the rates that fill batches) do not cut a batch at each one.
pub(super) const BURST_END_QUIET: Duration = Duration::from_millis(20);
/// The longest wait for the journal when nothing is due sooner.
const IDLE_WAIT: Duration = Duration::from_millis(200);

/// A batch being gathered: chunks of one table, in journal order.
struct Open {
    table: Table,
    records: u32,
    data: Vec<u8>,
    begin: Position,
    opened: Instant,
}

/// A batch to offer to the output.
#[derive(Debug)]
pub(super) struct Ready {
    pub id: u64,
    pub table: Table,
    pub records: u32,
    pub data: Vec<u8>,
    /// It was offered because it was full.
    pub full: bool,
}

/// How long to wait for the journal's next chunk, and whether what is open is
/// due once that wait ends without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Plan {
    pub wait: Duration,
    pub due: bool,
}

pub(super) struct Policy {
    target: usize,
    linger: Duration,
    /// Batches being gathered, at most one per table, oldest first.
    open: Vec<Open>,
    /// Batches offered and not settled: (id, where they begin).
    offered: Vec<(u64, Position)>,
    /// Journal position after the last chunk read.
    read_end: Position,
    /// When the last batch that was not full was offered.
    last_partial: Option<Instant>,
    /// Whether the last batch offered was full: the end of a burst goes at once.
    last_was_full: bool,
    /// The linger's multiplier while the output is throttled.
    stretch: u32,
    next_id: u64,
    /// Buffers of settled batches, for the next ones.
    spare: Vec<Vec<u8>>,
    /// The table of the last chunk: its open batch is where the next is read.
    last_table: Option<Table>,
}

/// A buffer lent by [`Policy::landing`] for the next chunk to be read onto its
/// end, until [`Policy::landed`] takes it back.
pub(super) struct Landing {
    pub buf: Vec<u8>,
    /// Its length when lent: where a chunk read into it starts.
    at: usize,
    /// The table whose open batch it is, or `None` for a fresh buffer.
    from: Option<Table>,
}

impl Policy {
    /// Batches of about `target` bytes, a linger of `linger`, reading from `start`.
    pub(super) fn new(target: usize, linger: Duration, start: Position) -> Policy {
        Policy {
            target,
            linger,
            open: Vec::new(),
            offered: Vec::new(),
            read_end: start,
            last_partial: None,
            last_was_full: false,
            stretch: 1,
            next_id: 0,
            spare: Vec::new(),
            last_table: None,
        }
    }

    /// The linger, stretched while the output is throttled.
    fn interval(&self) -> Duration {
        (self.linger * self.stretch).min(self.linger.max(STRETCH_CAP))
    }

    pub(super) fn has_open(&self) -> bool {
        !self.open.is_empty()
    }

    /// What to do at `now`; `stopping`: shutdown or reload, everything goes.
    pub(super) fn plan(&self, now: Instant, stopping: bool) -> Plan {
        let due_at = self.last_partial.map(|t| t + self.interval());
        let on_time = due_at.is_none_or(|d| now >= d) || stopping;
        let wait = if self.open.is_empty() {
            IDLE_WAIT
        } else if on_time {
            Duration::ZERO
        } else if self.last_was_full {
            BURST_END_QUIET
        } else {
            due_at
                .map_or(Duration::ZERO, |d| d.saturating_duration_since(now))
                .min(IDLE_WAIT)
        };
        Plan {
            wait,
            due: on_time || self.last_was_full,
        }
    }

    fn ready(&mut self, o: Open, full: bool) -> Ready {
        self.next_id += 1;
        self.offered.push((self.next_id, o.begin));
        Ready {
            id: self.next_id,
            table: o.table,
            records: o.records,
            data: o.data,
            full,
        }
    }

    /// A chunk read from the journal, ending at `end`. Returns the batches to
    /// offer now, oldest first: its table's batch if the chunk does not fit in
    /// it, and batches open for their whole interval.
    pub(super) fn add(
        &mut self,
        table: Table,
        records: u32,
        data: &[u8],
        end: Position,
        now: Instant,
    ) -> Vec<Ready> {
        let begin = self.advance(table, end);
        let mut out = Vec::new();
        let k = match self.open.iter().position(|o| o.table == table) {
            Some(k) if self.open[k].data.len() + data.len() > self.target => {
                // Full: offer it; this chunk starts the table's next batch.
                let full = self.open.remove(k);
                out.push(self.ready(full, true));
                None
            }
            k => k,
        };
        match k {
            Some(k) => {
                let o = &mut self.open[k];
                o.records += records;
                o.data.extend_from_slice(data);
            }
            None => {
                let mut buf = self.buffer(data.len());
                buf.extend_from_slice(data);
                self.start(table, records, buf, begin, now);
            }
        }
        self.age(now, &mut out);
        out
    }

    /// Offers the batches open for their whole interval.
    fn age(&mut self, now: Instant, out: &mut Vec<Ready>) {
        let oldest = self.interval().max(Duration::from_secs(1));
        while let Some(k) = self
            .open
            .iter()
            .position(|o| now.saturating_duration_since(o.opened) >= oldest)
        {
            let aged = self.open.remove(k);
            out.push(self.ready(aged, false));
        }
    }

    /// A chunk of `table` ending at `end` was read: where it begins.
    fn advance(&mut self, table: Table, end: Position) -> Position {
        self.last_table = Some(table);
        std::mem::replace(&mut self.read_end, end)
    }

    /// Opens `table`'s batch with a first chunk.
    fn start(&mut self, table: Table, records: u32, data: Vec<u8>, begin: Position, now: Instant) {
        self.open.push(Open {
            table,
            records,
            data,
            begin,
            opened: now,
        });
    }

    /// A fresh buffer for a batch of at least `bytes`.
    fn buffer(&mut self, bytes: usize) -> Vec<u8> {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.reserve(self.target.max(bytes));
        buf
    }

    /// Where the next chunk is read, at its end: the open batch of the table
    /// read last (taken out until [`Policy::landed`] puts it back), else a
    /// buffer of the batch size. A chunk of the same table then goes from the
    /// journal file into its batch with no copy of its own; [`Policy::add`]
    /// copies it.
    pub(super) fn landing(&mut self) -> Landing {
        let k = self
            .last_table
            .and_then(|t| self.open.iter().position(|o| o.table == t));
        let (buf, from) = match k {
            Some(k) => (
                std::mem::take(&mut self.open[k].data),
                Some(self.open[k].table),
            ),
            None => (self.buffer(0), None),
        };
        Landing {
            at: buf.len(),
            buf,
            from,
        }
    }

    /// The buffer of [`Policy::landing`] back, with the chunk read onto its end
    /// when there was one: its table, records and end. Offers what
    /// [`Policy::add`] would offer, and gathers the same batches.
    pub(super) fn landed(
        &mut self,
        landing: Landing,
        chunk: Option<(Table, u32, Position)>,
        now: Instant,
    ) -> Vec<Ready> {
        let Landing { mut buf, at, from } = landing;
        let from = from.and_then(|t| self.open.iter().position(|o| o.table == t));
        let Some((table, records, end)) = chunk else {
            buf.truncate(at);
            match from {
                Some(k) => self.open[k].data = buf,
                None => self.spare.push(buf),
            }
            return Vec::new();
        };
        match from {
            // Read onto the end of its own batch.
            Some(k) if self.open[k].table == table => {
                let begin = self.advance(table, end);
                let mut out = Vec::new();
                if buf.len() > self.target {
                    // Full: offer it as it was; this chunk starts the table's next batch.
                    let mut next = self.buffer(buf.len() - at);
                    next.extend_from_slice(&buf[at..]);
                    buf.truncate(at);
                    self.open[k].data = buf;
                    let full = self.open.remove(k);
                    out.push(self.ready(full, true));
                    self.start(table, records, next, begin, now);
                } else {
                    self.open[k].data = buf;
                    self.open[k].records += records;
                }
                self.age(now, &mut out);
                out
            }
            // Another table's batch: put it back, and add the chunk where it belongs.
            Some(k) => {
                let chunk = buf.split_off(at);
                self.open[k].data = buf;
                self.add(table, records, &chunk, end, now)
            }
            // A fresh buffer: it becomes the table's batch if none is open.
            None => {
                if self.open.iter().any(|o| o.table == table) {
                    let out = self.add(table, records, &buf[at..], end, now);
                    self.spare.push(buf);
                    return out;
                }
                let begin = self.advance(table, end);
                self.start(table, records, buf, begin, now);
                let mut out = Vec::new();
                self.age(now, &mut out);
                out
            }
        }
    }

    /// Everything open, oldest first.
    pub(super) fn take_open(&mut self) -> Vec<Ready> {
        let open = std::mem::take(&mut self.open);
        open.into_iter().map(|o| self.ready(o, false)).collect()
    }

    /// A batch (`full` or not) was offered until `now`.
    pub(super) fn offered(&mut self, full: bool, now: Instant) {
        self.last_was_full = full;
        if !full {
            self.last_partial = Some(now);
        }
    }

    /// Batch `id` was settled (delivered or dead-lettered); `throttled`: the
    /// output asked for a delay on the way. Returns how far the journal may be
    /// acknowledged now, and takes the batch's buffer back for reuse.
    pub(super) fn settled(
        &mut self,
        id: u64,
        throttled: bool,
        buffer: Option<Vec<u8>>,
    ) -> Position {
        self.offered.retain(|(o, _)| *o != id);
        self.stretch = if throttled {
            (self.stretch * 2).min(STRETCH_MAX)
        } else {
            1
        };
        if let Some(b) = buffer {
            self.spare.push(b);
        }
        self.floor()
    }

    /// The oldest beginning among batches not settled, else what was read.
    pub(super) fn floor(&self) -> Position {
        let open = self.open.iter().map(|o| o.begin);
        let offered = self.offered.iter().map(|o| o.1);
        open.chain(offered).min().unwrap_or(self.read_end)
    }
}

#[cfg(test)]
mod tests;
