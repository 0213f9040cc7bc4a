//! Counters for every stage, with the same names for every component (received,
//! sent, dropped, errors), updated once per batch rather than per record, the
//! gauges that show the agent's state (journal fill, paused listeners, a failing
//! disk) and the output's last error. Served in the Prometheus text format on the
//! stats socket and, with `metrics_address`, over HTTP (see `metrics_http`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

macro_rules! metrics {
    ($($kind:ident $name:ident: $doc:literal,)*) => {
        /// The agent's counters (monotonic since start) and gauges (a value now).
        #[derive(Default, Debug)]
        pub(crate) struct Metrics {
            $(#[doc = $doc] pub(crate) $name: AtomicU64,)*
            /// The output's most recent error.
            pub(crate) output_error: Mutex<Option<OutputError>>,
        }

        impl Metrics {
            /// Every metric as (name, value), in a stable order.
            pub(crate) fn snapshot(&self) -> Vec<(&'static str, u64)> {
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
    gauge journal_write_failing: "1 while writes to the journal fail (disk full, quota, I/O error) and the agent retries them; 0 otherwise.",
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

    /// The metrics in the Prometheus text format, version 0.0.4
    /// (https://prometheus.io/docs/instrumenting/exposition_formats/): the build,
    /// counters as `syslane_<name>_total`, gauges as `syslane_<name>`, each with
    /// HELP and TYPE, and, once there was one, the output's last error.
    pub(crate) fn prometheus(&self) -> String {
        let mut out = String::new();
        family(
            &mut out,
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
        let last = self
            .output_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(e) = last {
            let output = label(&e.output);
            family(
                &mut out,
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
                &mut out,
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

/// One metric family of the text format: HELP, TYPE and its samples.
fn family(out: &mut String, metric: &str, kind: &str, help: &str, samples: &[String]) {
    out.push_str(&format!("# HELP {metric} {help}\n# TYPE {metric} {kind}\n"));
    for s in samples {
        out.push_str(s);
        out.push('\n');
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
    fn prometheus_text_names_every_metric() {
        let m = Metrics::default();
        Metrics::add(&m.records_sent, 3);
        Metrics::add(&m.records_refused_journal_write_udp, 2);
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
            text.contains("# TYPE syslane_records_refused_total counter\nsyslane_records_refused_total{reason=\"journal_write\",transport=\"relp\"} 0\nsyslane_records_refused_total{reason=\"journal_write\",transport=\"udp\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("syslane_journal_write_failing 1\n"), "{text}");
        assert!(text.contains(&format!(
            "syslane_build_info{{version=\"{}\",abi=\"{}.{}\"}} 1\n",
            crate::VERSION,
            syslane_abi::SL_ABI_MAJOR,
            syslane_abi::SL_ABI_MINOR
        )));
        assert_eq!(
            text.lines().filter(|l| !l.starts_with('#')).count(),
            m.snapshot().len() + 1
        );
        // The labelled counters of one family share its HELP and TYPE.
        assert_eq!(
            text.lines().filter(|l| l.starts_with("# TYPE")).count(),
            m.snapshot().len() - (LABELLED.len() - 1) + 1,
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
