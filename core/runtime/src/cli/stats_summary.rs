//! The short summary `syslane stats` prints: rates between two readings of the
//! counters, the journal's fill, the listeners and the output's last error.
//! Metrics an older or newer agent does not serve are left out, not shown as 0.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, SystemTime};

/// A sample's labels, as (name, value).
type Labels = Vec<(String, String)>;

/// One reading of the Prometheus text: samples by name, with their labels.
#[derive(Debug, Default)]
pub(super) struct Sample {
    samples: BTreeMap<String, Vec<(Labels, f64)>>,
}

/// `key="value",…` with the format's escapes (`\\`, `\"`, `\n`).
fn labels(text: &str) -> Labels {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let key = key.trim_matches(|c: char| c == ',' || c.is_whitespace());
        if key.is_empty() || chars.next() != Some('"') {
            return out;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                c => value.push(c),
            }
        }
        out.push((key.to_string(), value));
    }
}

impl Sample {
    pub(super) fn parse(text: &str) -> Sample {
        let mut s = Sample::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = match line.rsplit_once(' ') {
                Some((series, value)) => (series, value),
                None => continue,
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, labels(rest.trim_end_matches('}'))),
                None => (series, Vec::new()),
            };
            s.samples
                .entry(name.to_string())
                .or_default()
                .push((labels, value));
        }
        s
    }

    /// The value of an unlabelled metric, or the sum over its labels.
    pub(super) fn get(&self, name: &str) -> Option<f64> {
        self.samples
            .get(name)
            .map(|v| v.iter().map(|(_, x)| x).sum())
    }

    fn label(&self, name: &str, key: &str) -> Option<&str> {
        self.samples
            .get(name)?
            .first()?
            .0
            .iter()
            .find_map(|(k, v)| (k == key).then_some(v.as_str()))
    }

    fn labelled(&self, name: &str) -> &[(Labels, f64)] {
        self.samples.get(name).map_or(&[], Vec::as_slice)
    }
}

fn rate(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.1}/s")
    } else {
        format!("{x:.0}/s")
    }
}

fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn ago(d: Duration) -> String {
    let s = d.as_secs_f64().round() as u64;
    match s {
        0..=119 => format!("{s} s ago"),
        120..=7199 => format!("{} min ago", s / 60),
        _ => format!("{} h ago", s / 3600),
    }
}

/// The summary of `now` against `before`, read `seconds` apart.
pub(super) fn render(before: &Sample, now: &Sample, seconds: f64, wall: SystemTime) -> String {
    let mut out = String::new();
    let version = now.label("syslane_build_info", "version").unwrap_or("?");
    let _ = writeln!(out, "syslane {version}: rates over the last {seconds:.1} s");
    let per_second = |name: &str| {
        let (a, b) = (before.get(name)?, now.get(name)?);
        Some(((b - a).max(0.0) / seconds.max(0.001), b))
    };
    let rows: [(&str, &str, &[&str]); 8] = [
        ("received", "frames", &["syslane_frames_received_total"]),
        ("journaled", "records", &["syslane_records_journaled_total"]),
        ("sent", "records", &["syslane_records_sent_total"]),
        (
            "filtered out",
            "records",
            &["syslane_records_filtered_out_total"],
        ),
        (
            "parse failures",
            "records",
            &["syslane_parse_failures_total"],
        ),
        (
            "unrecognised",
            "records",
            &["syslane_records_unrecognised_total"],
        ),
        (
            "dropped",
            "messages",
            &[
                "syslane_udp_dropped_total",
                "syslane_udp_receive_buffer_drops_total",
                "syslane_unix_dropped_total",
                "syslane_records_dropped_journal_full_total",
            ],
        ),
        (
            "dead-lettered",
            "records",
            &["syslane_records_dead_lettered_total"],
        ),
    ];
    for (title, unit, names) in rows {
        let found: Vec<(f64, f64)> = names.iter().filter_map(|n| per_second(n)).collect();
        if found.is_empty() {
            continue;
        }
        let (r, total) = found
            .iter()
            .fold((0.0, 0.0), |(r, t), (a, b)| (r + a, t + b));
        let _ = writeln!(
            out,
            "  {title:<15}{:>10}  {total:.0} {unit} since start",
            rate(r)
        );
    }
    if let Some((r, total)) = per_second("syslane_records_refused_total") {
        let reasons: Vec<String> = now
            .labelled("syslane_records_refused_total")
            .iter()
            .filter(|(_, v)| *v > 0.0)
            .map(|(l, v)| {
                let label = |key: &str| l.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
                match (label("reason").unwrap_or("?"), label("transport")) {
                    (reason, Some(transport)) => format!("{reason} {transport} {v:.0}"),
                    (reason, None) => format!("{reason} {v:.0}"),
                }
            })
            .collect();
        let detail = if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", reasons.join(", "))
        };
        let _ = writeln!(
            out,
            "  {:<15}{:>10}  {total:.0} records since start{detail}",
            "refused",
            rate(r)
        );
    }
    if let (Some(used), Some(max)) = (
        now.get("syslane_journal_bytes"),
        now.get("syslane_journal_max_bytes"),
    ) {
        let _ = write!(
            out,
            "  journal        {} of {} ({:.1}%) not yet delivered",
            bytes(used),
            bytes(max),
            100.0 * used / max.max(1.0)
        );
        if now.get("syslane_journal_write_failing").unwrap_or(0.0) > 0.0 {
            out.push_str("; WRITES ARE FAILING (see the agent's log)");
        }
        out.push('\n');
    }
    let mut listeners = Vec::new();
    if let Some(open) = now.get("syslane_connections_open") {
        listeners.push(format!("{open:.0} connections open"));
    }
    if let Some(paused) = now.get("syslane_listeners_paused") {
        listeners.push(if paused > 0.0 {
            format!("{paused:.0} paused (the journal is full)")
        } else {
            "none paused".to_string()
        });
    }
    if !listeners.is_empty() {
        let _ = writeln!(out, "  listeners      {}", listeners.join(", "));
    }
    let retries = per_second("syslane_batches_retried_total");
    match now.labelled("syslane_output_last_error_info").first() {
        Some((l, _)) => {
            let get = |k: &str| {
                l.iter()
                    .find(|(key, _)| key == k)
                    .map_or("", |(_, v)| v.as_str())
            };
            let output = get("output");
            let when = now
                .labelled("syslane_output_last_error_timestamp_seconds")
                .first()
                .and_then(|(_, t)| {
                    let at = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(t.max(0.0));
                    wall.duration_since(at).ok()
                })
                .map_or(String::new(), |d| format!(" {}", ago(d)));
            let retried = retries.map_or(String::new(), |(_, t)| {
                format!("; {t:.0} retries since start")
            });
            let _ = writeln!(
                out,
                "  output {output:<7} last error{when} ({}): {}{retried}",
                get("outcome"),
                crate::config::escape(get("reason"))
            );
        }
        None => {
            let _ = writeln!(out, "  output         no error since the agent started");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    #[test]
    fn the_summary_shows_rates_fill_and_the_last_error() {
        let m = Metrics::default();
        Metrics::add(&m.frames_received, 100);
        Metrics::add(&m.records_sent, 50);
        let before = Sample::parse(&m.prometheus());
        Metrics::add(&m.frames_received, 300);
        Metrics::add(&m.records_sent, 200);
        Metrics::add(&m.udp_dropped, 4);
        m.journal_bytes
            .store(3 << 20, std::sync::atomic::Ordering::Relaxed);
        m.journal_max_bytes
            .store(1 << 30, std::sync::atomic::Ordering::Relaxed);
        m.output_failed("azure", "retry", "HTTP 503 from the endpoint");
        let now = Sample::parse(&m.prometheus());
        let text = render(
            &before,
            &now,
            2.0,
            SystemTime::now() + Duration::from_secs(5),
        );
        assert!(
            text.contains("received            150/s  400 frames since start"),
            "{text}"
        );
        assert!(
            text.contains("sent                100/s  250 records since start"),
            "{text}"
        );
        assert!(
            text.contains("dropped             2.0/s  4 messages since start"),
            "{text}"
        );
        assert!(
            text.contains("journal        3.0 MiB of 1.0 GiB (0.3%)"),
            "{text}"
        );
        assert!(
            text.contains("output azure   last error 5 s ago (retry): HTTP 503 from the endpoint"),
            "{text}"
        );
        // Nothing refused and no listener paused: the rows say so.
        assert!(
            text.contains("refused             0.0/s  0 records since start\n"),
            "{text}"
        );
        assert!(text.contains("none paused"), "{text}");
    }

    #[test]
    fn labels_with_escapes() {
        let s = Sample::parse("x_info{a=\"q\\\"uote\",b=\"line\\nnext\"} 1\n");
        assert_eq!(s.label("x_info", "a"), Some("q\"uote"));
        assert_eq!(s.label("x_info", "b"), Some("line\nnext"));
    }
}
