//! One record a minute to `heartbeat_stream`, so the workspace shows the agent is
//! alive: Computer, agent version, OS, uptime and records sent. Heartbeats are not
//! journaled: a missed one is simply late news.

use crate::ingest::{Answer, Ingestor};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use syslane_plugin_sdk::{Host, Level};

fn os_release() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    (field("NAME"), field("VERSION_ID"))
}

fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

/// The heartbeat record.
pub fn record(computer: &str, started: Instant, records_sent: u64) -> Vec<u8> {
    let (os_name, os_version) = os_release();
    let value = serde_json::json!({
        "TimeGenerated": now_rfc3339(),
        "Computer": computer,
        "Category": "syslane",
        "Version": env!("CARGO_PKG_VERSION"),
        "OSType": "Linux",
        "OSName": os_name,
        "OSVersion": os_version,
        "UptimeSeconds": started.elapsed().as_secs(),
        "RecordsSent": records_sent,
    });
    value.to_string().into_bytes()
}

/// Runs until `stop` is dropped or signalled.
pub fn run(
    ingestor: Arc<Ingestor>,
    host: Host,
    stream: String,
    computer: String,
    every: Duration,
    stop: Receiver<()>,
) {
    let started = Instant::now();
    // The first beat waits a little, so an instance made only to be checked
    // (check-config, a reload that is refused) sends nothing.
    match stop.recv_timeout(every.min(Duration::from_secs(5))) {
        Err(RecvTimeoutError::Timeout) => {}
        _ => return,
    }
    loop {
        let sent = ingestor.counters.records_sent.load(Ordering::Relaxed);
        let mut body = Vec::new();
        crate::body::json_array_into(&mut body, &record(&computer, started, sent));
        match ingestor.post(&stream, &body, 0) {
            Answer::Accepted => {}
            Answer::TooLarge => {}
            Answer::Forbidden(why) => {
                ingestor.forbidden.note();
                host.log(
                    Level::Warn,
                    &crate::forbidden::heartbeat_warning(&stream, &why),
                );
            }
            Answer::Refused(why) | Answer::Retry { reason: why, .. } => {
                host.log(
                    Level::Warn,
                    &format!("heartbeat to {stream} not delivered: {why}"),
                );
            }
        }
        match stop.recv_timeout(every) {
            Err(RecvTimeoutError::Timeout) => continue,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = super::now_rfc3339();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.ends_with('Z') && t.starts_with("20"), "{t}");
    }
}
