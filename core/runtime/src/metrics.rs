//! Counters for every stage, with the same names for every component (received,
//! sent, dropped, errors), updated once per batch rather than per record, and a
//! few gauges. Served in the Prometheus text format on the stats socket and, with
//! `metrics_address`, over HTTP (see `metrics_http`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

macro_rules! counters {
    ($($name:ident: $doc:literal,)*) => {
        /// The agent's counters and gauges. Counters are monotonic since start;
        /// [`GAUGES`] go up and down.
        #[derive(Default, Debug)]
        pub struct Metrics {
            $(#[doc = $doc] pub $name: AtomicU64,)*
            /// The output's most recent error.
            pub output_error: Mutex<Option<OutputError>>,
        }

        impl Metrics {
            /// Every counter and gauge as (name, value), in a stable order.
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($name), self.$name.load(Ordering::Relaxed)),)*]
            }

            /// Every counter and gauge as (name, help text, value).
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
    unix_dropped: "Unix socket datagrams dropped because the pipeline was full.",
    connections_accepted: "TCP and unix stream connections accepted.",
    connections_open: "TCP and unix stream connections open now.",
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
    journal_bytes: "Bytes in the journal not yet acknowledged by the output.",
    journal_max_bytes: "The journal's limit (journal_max_bytes).",
    plugin_panics: "Plugin calls that panicked (the instance was recreated).",
}

/// The metrics that are gauges; every other one is a counter.
pub const GAUGES: [&str; 3] = ["connections_open", "journal_bytes", "journal_max_bytes"];

/// How long an output error's reason may be in the metrics.
const REASON_CHARS: usize = 300;

/// An output's most recent error.
#[derive(Debug, Clone)]
pub struct OutputError {
    /// The output plugin's name.
    pub output: String,
    /// `retry` (the batch is offered again) or `reject` (dead-lettered).
    pub outcome: &'static str,
    pub reason: String,
    pub at: SystemTime,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Remembers the output's latest error (shown by `syslane stats` and /metrics).
    pub fn output_failed(&self, output: &str, outcome: &'static str, reason: &str) {
        let reason: String = reason.chars().take(REASON_CHARS).collect();
        *self.output_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(OutputError {
            output: output.to_string(),
            outcome,
            reason,
            at: SystemTime::now(),
        });
    }
}

/// A label value in the text format: backslash, double quote and line feed escaped.
fn label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

impl Metrics {
    /// Everything in the Prometheus text format, version 0.0.4
    /// (https://prometheus.io/docs/instrumenting/exposition_formats/):
    /// `syslane_<name>_total` for counters, `syslane_<name>` for gauges, the build
    /// and, once there was one, the output's last error.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let mut family = |metric: &str, kind: &str, help: &str, samples: &[String]| {
            out.push_str(&format!("# HELP {metric} {help}\n# TYPE {metric} {kind}\n"));
            for s in samples {
                out.push_str(s);
                out.push('\n');
            }
        };
        family(
            "syslane_build_info",
            "gauge",
            "The agent's version and plugin ABI; always 1.",
            &[format!(
                "syslane_build_info{{version=\"{}\",abi=\"{}.{}\"}} 1",
                crate::VERSION,
                syslane_abi::SL_ABI_MAJOR,
                syslane_abi::SL_ABI_MINOR
            )],
        );
        for (name, help, value) in self.described() {
            let (metric, kind) = if GAUGES.contains(&name) {
                (format!("syslane_{name}"), "gauge")
            } else {
                (format!("syslane_{name}_total"), "counter")
            };
            family(&metric, kind, help, &[format!("{metric} {value}")]);
        }
        let last = self
            .output_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(e) = last {
            let output = label(&e.output);
            family(
                "syslane_output_last_error_info",
                "gauge",
                "The output's most recent error: retried or rejected, and why; always 1.",
                &[format!(
                    "syslane_output_last_error_info{{output=\"{output}\",outcome=\"{}\",reason=\"{}\"}} 1",
                    e.outcome,
                    label(&e.reason)
                )],
            );
            let at =
                e.at.duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
            family(
                "syslane_output_last_error_timestamp_seconds",
                "gauge",
                "When the output's most recent error happened (Unix time).",
                &[format!(
                    "syslane_output_last_error_timestamp_seconds{{output=\"{output}\"}} {at:.3}"
                )],
            );
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
        for gauge in GAUGES {
            assert!(
                text.contains(&format!("# TYPE syslane_{gauge} gauge")),
                "{text}"
            );
        }
        assert!(text.contains(&format!(
            "syslane_build_info{{version=\"{}\",abi=\"1.1\"}} 1\n",
            crate::VERSION
        )));
        assert_eq!(
            text.lines().filter(|l| !l.starts_with('#')).count(),
            m.snapshot().len() + 1
        );
    }

    #[test]
    fn the_last_output_error_is_a_labelled_sample() {
        let m = Metrics::default();
        m.output_failed("file", "retry", "cannot write \"x\": disk full\nreally");
        let text = m.prometheus();
        assert!(
            text.contains("syslane_output_last_error_info{output=\"file\",outcome=\"retry\",reason=\"cannot write \\\"x\\\": disk full\\nreally\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("syslane_output_last_error_timestamp_seconds{output=\"file\"} 1"));
    }
}
