//! Counters for every stage, with the same names for every component (received,
//! sent, dropped, errors), updated once per batch rather than per record.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($name:ident: $doc:literal,)*) => {
        /// The agent's counters. Monotonic since start, except `connections_open`.
        #[derive(Default, Debug)]
        pub struct Metrics {
            $(#[doc = $doc] pub $name: AtomicU64,)*
        }

        impl Metrics {
            /// Every counter as (name, value), in a stable order.
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($name), self.$name.load(Ordering::Relaxed)),)*]
            }

            /// Every counter as (name, help text, value).
            fn described(&self) -> Vec<(&'static str, &'static str, u64)> {
                vec![$((stringify!($name), $doc, self.$name.load(Ordering::Relaxed)),)*]
            }
        }
    };
}

counters! {
    frames_received: "Frames read from listeners.",
    bytes_received: "Bytes of frames read from listeners.",
    frames_truncated: "Frames cut at max_message_size.",
    udp_dropped: "UDP datagrams dropped because the pipeline was full.",
    udp_receive_buffer_drops: "UDP datagrams the kernel dropped because the socket's receive buffer was full.",
    connections_accepted: "TCP connections accepted.",
    connections_open: "TCP connections open now.",
    records_decoded: "Records produced by decoders.",
    parse_failures: "Records kept whole because they did not parse.",
    decoder_errors: "Records a decoder handed over malformed (kept as parse failures).",
    records_filtered_out: "Records dropped by filters.",
    records_journaled: "Records accepted into the journal.",
    records_sent: "Records the output acknowledged.",
    batches_sent: "Batches the output acknowledged.",
    batches_retried: "Times the output asked to retry a batch.",
    records_dead_lettered: "Records the output rejected permanently (written to the dead-letter file).",
    records_dropped_journal_full: "Records deleted because the journal was full (when_full = \"drop_oldest\").",
    journal_corrupt_bytes: "Bytes of corrupt journal entries skipped.",
    plugin_panics: "Plugin calls that panicked (the instance was recreated).",
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }
}

impl Metrics {
    /// The counters in the Prometheus text format (`syslane_<name>_total`, and
    /// `syslane_connections_open` as a gauge).
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        for (name, help, value) in self.described() {
            let (metric, kind) = if name == "connections_open" {
                (format!("syslane_{name}"), "gauge")
            } else {
                (format!("syslane_{name}_total"), "counter")
            };
            out.push_str(&format!(
                "# HELP {metric} {help}\n# TYPE {metric} {kind}\n{metric} {value}\n"
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_names_every_counter() {
        let m = Metrics::default();
        Metrics::add(&m.records_sent, 3);
        let text = m.prometheus();
        assert!(
            text.contains(
                "# TYPE syslane_records_sent_total counter\nsyslane_records_sent_total 3\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("# TYPE syslane_connections_open gauge"),
            "{text}"
        );
        assert_eq!(
            text.lines().filter(|l| !l.starts_with('#')).count(),
            m.snapshot().len()
        );
    }
}
