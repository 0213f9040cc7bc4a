//! The metrics in the Prometheus text format, version 0.0.4
//! (https://prometheus.io/docs/instrumenting/exposition_formats/), as the stats
//! socket and `/metrics` serve them.

use super::{Kind, Metrics, LABELLED};
use std::time::SystemTime;

impl Metrics {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::WriteState;
    use tokio::sync::watch;

    #[test]
    fn prometheus_text_names_every_metric() {
        let m = Metrics::default();
        Metrics::add(&m.records_sent, 3);
        Metrics::add(&m.records_refused_journal_write_udp, 2);
        let (_journal, writes) = watch::channel(WriteState::Failing);
        m.journal_write_failing.follow(writes);
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
