//! The agent's metrics, in one place: the registry ([`Metrics`]: counters for
//! every stage, with the same names for every component (received, sent,
//! dropped, errors), updated once per batch rather than per record, the gauges
//! that show the agent's state (journal fill, paused listeners, a failing disk)
//! and the output's last error), its Prometheus text format ([`prometheus`]),
//! and the two places it is served: the stats socket in `state_dir` ([`socket`],
//! read by `syslane stats`) and, with `metrics_address`, `/metrics` over HTTP
//! ([`http`]).
//!
//! Metrics only show the agent's state; nothing decides by them. A gauge that
//! mirrors a state another part acts on reads that part's own signal: the
//! journal's write state ([`crate::journal::WriteState`]) is watched by the
//! listeners and read by `journal_write_failing` alike.

pub(crate) mod http;
mod prometheus;
pub(crate) mod socket;

use crate::journal::WriteState;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;
use tokio::sync::watch;

/// The type that holds a metric of each kind.
macro_rules! holder {
    (counter) => {
        AtomicU64
    };
    (gauge) => {
        AtomicU64
    };
    (journal_writes) => {
        JournalWrites
    };
}

/// How a metric of each kind is served.
macro_rules! served_as {
    (counter) => {
        Kind::counter
    };
    (gauge) => {
        Kind::gauge
    };
    (journal_writes) => {
        Kind::gauge
    };
}

macro_rules! metrics {
    ($($kind:ident $name:ident: $doc:literal,)*) => {
        /// The agent's counters (monotonic since start) and gauges (a value now).
        #[derive(Default, Debug)]
        pub(crate) struct Metrics {
            $(#[doc = $doc] pub(crate) $name: holder!($kind),)*
            /// The output's most recent error.
            pub(crate) output_error: Mutex<Option<OutputError>>,
        }

        impl Metrics {
            /// Every metric as (name, value), in a stable order.
            pub(crate) fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($name), Value::value(&self.$name)),)*]
            }

            /// Every metric as (name, kind, help text, value).
            fn described(&self) -> Vec<(&'static str, Kind, &'static str, u64)> {
                vec![$((stringify!($name), served_as!($kind), $doc, Value::value(&self.$name)),)*]
            }
        }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
enum Kind {
    counter,
    gauge,
}

/// A metric's value now.
trait Value {
    fn value(&self) -> u64;
}

impl Value for AtomicU64 {
    fn value(&self) -> u64 {
        self.load(Ordering::Relaxed)
    }
}

/// The gauge `journal_write_failing`: the running journal's own write state,
/// read from the signal the listeners act on (1 while `Failing`). Each journal
/// opened is followed from then on (a reload's new journal replaces the old).
#[derive(Debug, Default)]
pub(crate) struct JournalWrites(Mutex<Option<watch::Receiver<WriteState>>>);

impl JournalWrites {
    /// Shows the journal publishing on `state` from now on.
    pub(crate) fn follow(&self, state: watch::Receiver<WriteState>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(state);
    }
}

impl Value for JournalWrites {
    fn value(&self) -> u64 {
        let state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        state
            .as_ref()
            .map_or(0, |s| u64::from(*s.borrow() == WriteState::Failing))
    }
}

metrics! {
    counter frames_received: "Frames read from listeners.",
    counter bytes_received: "Bytes of frames read from listeners.",
    counter frames_truncated: "Frames cut at max_message_size.",
    counter udp_dropped: "UDP datagrams dropped because the pipeline was full.",
    counter udp_receive_buffer_drops: "UDP datagrams the kernel dropped because the socket's receive buffer was full.",
    counter unix_dropped: "Unix socket datagrams dropped because the pipeline was full.",
    counter connections_accepted: "TCP and unix stream connections accepted.",
    gauge connections_open: "TCP and unix stream connections open now.",
    counter connections_timed_out: "TCP and RELP connections closed because they completed no message within idle_timeout_secs, or did not read their RELP responses within it.",
    counter connections_evicted: "Connections closed at max_connections to admit a new one (each time the one longest without a completed message).",
    gauge connection_buffer_bytes: "Bytes held now by connections' read buffers (unfinished messages); at most max_connections x (max_message_size + 64 KiB) per listener.",
    gauge listeners_paused: "TCP/RELP connections and UDP sockets waiting now to hand messages on: back-pressure from a full journal, a failing disk or busy workers.",
    counter records_decoded: "Records produced by decoders.",
    counter parse_failures: "Records kept whole because they did not parse.",
    counter records_unrecognised: "Records whose format the decoder did not recognise but kept: on a cef listener, lines neither CEF nor Cisco ASA/FTD (kept as Syslog records), and ASA/FTD lines of a covered message id whose text did not have its documented shape.",
    counter decoder_errors: "Records a decoder handed over malformed (kept as parse failures).",
    counter time_out_of_range: "Records whose own time was more than 2 days before or 1 day after their receive time: TimeGenerated is the receive time, EventTime keeps the message's time (a sender with a wrong clock).",
    counter records_filtered_out: "Records dropped by filters.",
    counter records_journaled: "Records accepted into the journal.",
    counter records_refused_journal_write_relp: "Records not accepted, by reason and transport. journal_write: the journal could not be written (disk full, quota, I/O error). relp: messages answered 500 (the sender sends them again).",
    counter records_refused_journal_write_udp: "UDP datagrams dropped because the journal could not be written (disk full, quota, I/O error).",
    counter records_refused_journal_write_unix: "Unix socket datagrams dropped because the journal could not be written (disk full, quota, I/O error).",
    counter records_refused_journal_write_tcp: "TCP records already read when the journal could not be written, held, and refused because the agent stopped before it could be written again (meanwhile TCP senders are paused).",
    gauge journal_bytes: "Bytes in the journal not yet acknowledged by the output.",
    gauge journal_max_bytes: "The journal's limit (journal_max_bytes); when journal_bytes reaches it, when_full applies.",
    journal_writes journal_write_failing: "1 while writes to the journal fail (disk full, quota, I/O error) and the agent retries them; 0 otherwise.",
    counter records_sent: "Records the output acknowledged.",
    counter batches_sent: "Batches the output acknowledged.",
    counter batches_retried: "Times the output asked to retry a batch.",
    counter records_dead_lettered: "Records the output rejected permanently (written to the dead-letter file).",
    counter records_dropped_journal_full: "Records deleted because the journal was full (when_full = \"drop_oldest\").",
    counter journal_corrupt_bytes: "Bytes of corrupt journal entries skipped.",
    counter records_lost_journal_unreadable: "Journaled records lost because their segment file could not be read, after retries for about a minute (it was gone or kept failing); each is logged with the segment.",
    counter plugin_panics: "Plugin calls that panicked (the instance was recreated).",
}

/// Counters shown as one labelled series of a family: (field, family, labels).
const LABELLED: [(&str, &str, &str); 4] = [
    (
        "records_refused_journal_write_relp",
        "records_refused",
        "reason=\"journal_write\",transport=\"relp\"",
    ),
    (
        "records_refused_journal_write_udp",
        "records_refused",
        "reason=\"journal_write\",transport=\"udp\"",
    ),
    (
        "records_refused_journal_write_unix",
        "records_refused",
        "reason=\"journal_write\",transport=\"unix\"",
    ),
    (
        "records_refused_journal_write_tcp",
        "records_refused",
        "reason=\"journal_write\",transport=\"tcp\"",
    ),
];

/// How long an output error's reason may be in the metrics.
const REASON_CHARS: usize = 300;

/// An output's most recent error.
#[derive(Debug, Clone)]
pub(crate) struct OutputError {
    /// The output plugin's name.
    pub output: String,
    /// `retry` (the batch is offered again) or `reject` (dead-lettered).
    pub outcome: &'static str,
    pub reason: String,
    pub at: SystemTime,
}

impl Metrics {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub(crate) fn set(gauge: &AtomicU64, value: u64) {
        gauge.store(value, Ordering::Relaxed);
    }

    pub(crate) fn get(metric: &AtomicU64) -> u64 {
        metric.load(Ordering::Relaxed)
    }

    /// Records refused because the journal could not be written, every transport.
    pub(crate) fn refused_journal_write(&self) -> u64 {
        [
            &self.records_refused_journal_write_relp,
            &self.records_refused_journal_write_udp,
            &self.records_refused_journal_write_unix,
            &self.records_refused_journal_write_tcp,
        ]
        .iter()
        .map(|c| Metrics::get(c))
        .sum()
    }

    /// Remembers the output's latest error (shown by `syslane stats` and /metrics).
    pub(crate) fn output_failed(&self, output: &str, outcome: &'static str, reason: &str) {
        let reason: String = reason.chars().take(REASON_CHARS).collect();
        *self.output_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(OutputError {
            output: output.to_string(),
            outcome,
            reason,
            at: SystemTime::now(),
        });
    }
}

/// Counts one waiter in a gauge while it lives (a paused listener, say).
pub(crate) struct Waiting<'a>(&'a AtomicU64);

impl<'a> Waiting<'a> {
    pub(crate) fn new(gauge: &'a AtomicU64) -> Waiting<'a> {
        gauge.fetch_add(1, Ordering::Relaxed);
        Waiting(gauge)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiter_counts_while_it_lives() {
        let m = Metrics::default();
        {
            let _a = Waiting::new(&m.listeners_paused);
            let _b = Waiting::new(&m.listeners_paused);
            assert_eq!(Metrics::get(&m.listeners_paused), 2);
        }
        assert_eq!(Metrics::get(&m.listeners_paused), 0);
    }

    #[test]
    fn the_journal_gauge_reads_the_journal_it_follows() {
        let m = Metrics::default();
        assert_eq!(failing(&m), 0, "no journal yet: not failing");
        let (first, writes) = watch::channel(WriteState::Working);
        m.journal_write_failing.follow(writes);
        first.send_replace(WriteState::Failing);
        assert_eq!(failing(&m), 1);
        // A reload's new journal takes over; the old one's state no longer shows.
        let (second, writes) = watch::channel(WriteState::Working);
        m.journal_write_failing.follow(writes);
        assert_eq!(failing(&m), 0);
        drop(first);
        second.send_replace(WriteState::Failing);
        assert_eq!(failing(&m), 1);
    }

    /// `journal_write_failing` as served.
    fn failing(m: &Metrics) -> u64 {
        m.snapshot()
            .into_iter()
            .find(|(name, _)| *name == "journal_write_failing")
            .map_or(u64::MAX, |(_, v)| v)
    }
}
