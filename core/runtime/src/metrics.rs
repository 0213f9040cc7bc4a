//! Counters for every stage, with the same names for every component (received,
//! sent, dropped, errors), updated once per batch rather than per record, and the
//! gauges that show the agent's state (journal fill, paused listeners, a failing
//! disk).

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! metrics {
    ($($kind:ident $name:ident: $doc:literal,)*) => {
        /// The agent's counters (monotonic since start) and gauges (a value now).
        #[derive(Default, Debug)]
        pub struct Metrics {
            $(#[doc = $doc] pub $name: AtomicU64,)*
        }

        impl Metrics {
            /// Every metric as (name, value), in a stable order.
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($name), self.$name.load(Ordering::Relaxed)),)*]
            }

            /// Every metric as (name, kind, help text, value).
            fn described(&self) -> Vec<(&'static str, Kind, &'static str, u64)> {
                vec![$((stringify!($name), Kind::$kind, $doc, self.$name.load(Ordering::Relaxed)),)*]
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

metrics! {
    counter frames_received: "Frames read from listeners.",
    counter bytes_received: "Bytes of frames read from listeners.",
    counter frames_truncated: "Frames cut at max_message_size.",
    counter udp_dropped: "UDP datagrams dropped because the pipeline was full.",
    counter udp_receive_buffer_drops: "UDP datagrams the kernel dropped because the socket's receive buffer was full.",
    counter connections_accepted: "TCP connections accepted.",
    gauge connections_open: "TCP connections open now.",
    counter connections_timed_out: "TCP and RELP connections closed because they completed no message within idle_timeout_secs, or did not read their RELP responses within it.",
    counter connections_evicted: "Connections closed at max_connections to admit a new one (each time the one longest without a completed message).",
    gauge connection_buffer_bytes: "Bytes held now by connections' read buffers (unfinished messages); at most max_connections x (max_message_size + 64 KiB) per listener.",
    gauge listeners_paused: "TCP/RELP connections and UDP sockets waiting now to hand messages on: back-pressure from a full journal, a failing disk or busy workers.",
    counter records_decoded: "Records produced by decoders.",
    counter parse_failures: "Records kept whole because they did not parse.",
    counter decoder_errors: "Records a decoder handed over malformed (kept as parse failures).",
    counter records_filtered_out: "Records dropped by filters.",
    counter records_journaled: "Records accepted into the journal.",
    counter records_refused_journal_write: "Records not accepted, by reason. journal_write: the journal could not be written (disk full, quota, I/O error): UDP datagrams dropped, RELP messages answered 500 (the sender sends them again), TCP messages read before a shutdown that came while the disk was still failing.",
    gauge journal_bytes: "Bytes in the journal not yet acknowledged by the output.",
    gauge journal_max_bytes: "The journal's limit (journal_max_bytes); when journal_bytes reaches it, when_full applies.",
    gauge journal_write_failing: "1 while writes to the journal fail (disk full, quota, I/O error) and the agent retries them; 0 otherwise.",
    counter records_sent: "Records the output acknowledged.",
    counter batches_sent: "Batches the output acknowledged.",
    counter batches_retried: "Times the output asked to retry a batch.",
    counter records_dead_lettered: "Records the output rejected permanently (written to the dead-letter file).",
    counter records_dropped_journal_full: "Records deleted because the journal was full (when_full = \"drop_oldest\").",
    counter journal_corrupt_bytes: "Bytes of corrupt journal entries skipped.",
    counter plugin_panics: "Plugin calls that panicked (the instance was recreated).",
}

/// Counters shown as one labelled series of a family: (field, family, labels).
const LABELLED: [(&str, &str, &str); 1] = [(
    "records_refused_journal_write",
    "records_refused",
    "reason=\"journal_write\"",
)];

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub fn set(gauge: &AtomicU64, value: u64) {
        gauge.store(value, Ordering::Relaxed);
    }

    pub fn get(metric: &AtomicU64) -> u64 {
        metric.load(Ordering::Relaxed)
    }

    /// The metrics in the Prometheus text format: counters as
    /// `syslane_<name>_total`, gauges as `syslane_<name>`, each with HELP and TYPE.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let mut families: Vec<&str> = Vec::new();
        for (name, kind, help, value) in self.described() {
            let (family, labels) = LABELLED
                .iter()
                .find(|(field, _, _)| *field == name)
                .map_or((name, ""), |(_, family, labels)| (*family, *labels));
            let metric = match kind {
                Kind::counter => format!("syslane_{family}_total"),
                Kind::gauge => format!("syslane_{family}"),
            };
            if !families.contains(&family) {
                families.push(family);
                let kind = match kind {
                    Kind::counter => "counter",
                    Kind::gauge => "gauge",
                };
                out.push_str(&format!("# HELP {metric} {help}\n# TYPE {metric} {kind}\n"));
            }
            match labels {
                "" => out.push_str(&format!("{metric} {value}\n")),
                labels => out.push_str(&format!("{metric}{{{labels}}} {value}\n")),
            }
        }
        out
    }
}

/// Counts one waiter in a gauge while it lives (a paused listener, say).
pub struct Waiting<'a>(&'a AtomicU64);

impl<'a> Waiting<'a> {
    pub fn new(gauge: &'a AtomicU64) -> Waiting<'a> {
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
    fn prometheus_text_names_every_metric() {
        let m = Metrics::default();
        Metrics::add(&m.records_sent, 3);
        Metrics::add(&m.records_refused_journal_write, 2);
        Metrics::set(&m.journal_write_failing, 1);
        let text = m.prometheus();
        assert!(
            text.contains(
                "# TYPE syslane_records_sent_total counter\nsyslane_records_sent_total 3\n"
            ),
            "{text}"
        );
        for gauge in [
            "connections_open",
            "journal_bytes",
            "journal_max_bytes",
            "listeners_paused",
            "journal_write_failing",
        ] {
            assert!(
                text.contains(&format!("# TYPE syslane_{gauge} gauge\nsyslane_{gauge} ")),
                "{gauge}: {text}"
            );
        }
        assert!(
            text.contains("# TYPE syslane_records_refused_total counter\nsyslane_records_refused_total{reason=\"journal_write\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("syslane_journal_write_failing 1\n"), "{text}");
        assert_eq!(
            text.lines().filter(|l| !l.starts_with('#')).count(),
            m.snapshot().len()
        );
        assert_eq!(
            text.lines().filter(|l| l.starts_with("# TYPE")).count(),
            m.snapshot().len(),
            "one HELP and TYPE per family"
        );
    }

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
}
