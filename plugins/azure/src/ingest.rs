//! Posting records to a Logs Ingestion stream: JSON arrays within the request
//! limit, gzip, the bearer token, and what each answer means.

use crate::auth::Credentials;
use crate::client::{self, Client};
use flate2::write::GzEncoder;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const API_VERSION: &str = "2023-01-01";

/// What one request came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    /// 413: the body must be split.
    TooLarge,
    /// 403: the identity has no Monitoring Metrics Publisher role on the rule, or
    /// its new assignment has not applied yet (up to 30 minutes). The service's text.
    Forbidden(String),
    /// Refused for good (400, 404, other 4xx): dead-letter with this reason.
    Refused(String),
    /// Try again later (429, 5xx, timeouts, connection errors, token trouble).
    Retry {
        after: Option<Duration>,
        reason: String,
    },
}

/// Counters the heartbeat and the benchmark report.
#[derive(Debug, Default)]
pub struct Counters {
    pub records_sent: AtomicU64,
    pub requests: AtomicU64,
    pub bytes_sent: AtomicU64,
}

/// Since when the endpoint has answered 403 (reset by any accepted request).
#[derive(Debug, Default)]
pub struct Forbidden {
    since: Mutex<Option<Instant>>,
    /// How long the last 403 period lasted, once it is over (for one log line).
    ended: Mutex<Option<Duration>>,
}

impl Forbidden {
    /// Notes a 403; returns how long 403s have been answered.
    pub fn note(&self) -> Duration {
        let mut since = self.since.lock().unwrap_or_else(|e| e.into_inner());
        since.get_or_insert_with(Instant::now).elapsed()
    }

    fn clear(&self) {
        let mut since = self.since.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(start) = since.take() {
            *self.ended.lock().unwrap_or_else(|e| e.into_inner()) = Some(start.elapsed());
        }
    }

    /// The length of a 403 period that has just ended, once.
    pub fn take_ended(&self) -> Option<Duration> {
        self.ended.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

#[derive(Debug)]
pub struct Ingestor {
    pub client: Client,
    pub credentials: Credentials,
    /// `{endpoint}/dataCollectionRules/{dcr}/streams/`
    pub base: String,
    pub counters: Counters,
    pub forbidden: Forbidden,
}

/// The records of a payload (JSON lines) as a JSON array.
pub fn json_array(lines: &[&[u8]]) -> Vec<u8> {
    let len = lines.iter().map(|l| l.len() + 1).sum::<usize>() + 2;
    let mut out = Vec::with_capacity(len);
    out.push(b'[');
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(line);
    }
    out.push(b']');
    out
}

/// Splits JSON lines into groups whose array stays within `limit` bytes. Lines that
/// could never fit are returned apart.
pub fn split(data: &[u8], limit: usize) -> (Vec<Vec<&[u8]>>, Vec<&[u8]>) {
    let mut groups = Vec::new();
    let mut oversized = Vec::new();
    let mut group: Vec<&[u8]> = Vec::new();
    let mut size = 2;
    for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        if line.len() + 2 > limit {
            oversized.push(line);
            continue;
        }
        if !group.is_empty() && size + 1 + line.len() > limit {
            groups.push(std::mem::take(&mut group));
            size = 2;
        }
        size += line.len() + usize::from(!group.is_empty());
        group.push(line);
    }
    if !group.is_empty() {
        groups.push(group);
    }
    (groups, oversized)
}

fn retry_after(response: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    let headers = response.headers();
    if let Some(ms) = headers
        .get("retry-after-ms")
        .or_else(|| headers.get("x-ms-retry-after-ms"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Some(Duration::from_millis(ms));
    }
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

impl Ingestor {
    /// Posts one JSON array (uncompressed) to `stream`. A 401 refreshes the token
    /// once and tries again.
    pub fn post(&self, stream: &str, body: &[u8], records: u64) -> Answer {
        let mut gz = GzEncoder::new(
            Vec::with_capacity(body.len() / 4),
            flate2::Compression::fast(),
        );
        let compressed = match gz.write_all(body).and_then(|()| gz.finish()) {
            Ok(c) => c,
            Err(e) => {
                return Answer::Retry {
                    after: None,
                    reason: format!("gzip failed: {e}"),
                }
            }
        };
        let url = format!("{}{stream}", self.base);
        for attempt in 0..2 {
            let token = match self.credentials.token() {
                Ok(t) => t,
                Err(e) => {
                    return Answer::Retry {
                        after: e.retry_after,
                        reason: format!("no token: {}", e.message),
                    }
                }
            };
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let result = self
                .client
                .agent
                .post(&url)
                .query("api-version", API_VERSION)
                .header("Authorization", &format!("Bearer {}", token.expose()))
                .header("Content-Type", "application/json")
                .header("Content-Encoding", "gzip")
                .send(&compressed[..]);
            let mut response = match result {
                Ok(r) => r,
                Err(e) => {
                    return Answer::Retry {
                        after: None,
                        reason: format!(
                            "request to the ingestion endpoint failed: {}",
                            self.client.describe(&e)
                        ),
                    }
                }
            };
            let status = response.status().as_u16();
            match status {
                200..=299 => {
                    self.forbidden.clear();
                    self.counters.records_sent.fetch_add(records, Ordering::Relaxed);
                    self.counters
                        .bytes_sent
                        .fetch_add(compressed.len() as u64, Ordering::Relaxed);
                    return Answer::Accepted;
                }
                401 if attempt == 0 => {
                    self.credentials.invalidate(&token);
                    continue;
                }
                401 => {
                    return Answer::Retry {
                        after: None,
                        reason: format!(
                            "HTTP 401 with a fresh token: {}; the endpoint did not accept the token: check tenant_id, and that authority_host and scope are those of the endpoint's cloud, and that the client secret or certificate is current and not revoked (a missing role is HTTP 403, not 401)",
                            client::error_text(&mut response)
                        ),
                    }
                }
                403 => return Answer::Forbidden(client::error_text(&mut response)),
                413 => return Answer::TooLarge,
                408 | 429 | 500..=599 => {
                    let after = retry_after(&response);
                    return Answer::Retry {
                        after,
                        reason: format!("HTTP {status}: {}", client::error_text(&mut response)),
                    };
                }
                _ => {
                    return Answer::Refused(format!(
                        "the Logs Ingestion API answered HTTP {status}: {}",
                        client::error_text(&mut response)
                    ))
                }
            }
        }
        Answer::Retry {
            after: None,
            reason: "HTTP 401 twice".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_stay_within_the_limit_and_keep_every_line_in_order() {
        let mut data = Vec::new();
        let mut lines = Vec::new();
        for i in 0..500 {
            let line = format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 97));
            data.extend_from_slice(line.as_bytes());
            data.push(b'\n');
            lines.push(line);
        }
        let big = format!("{{\"big\":\"{}\"}}", "y".repeat(5000));
        data.extend_from_slice(big.as_bytes());
        data.push(b'\n');
        let (groups, oversized) = split(&data, 4096);
        assert_eq!(oversized, vec![big.as_bytes()]);
        let mut seen = Vec::new();
        for g in &groups {
            let array = json_array(g);
            assert!(array.len() <= 4096, "{}", array.len());
            let parsed: serde_json::Value = serde_json::from_slice(&array).unwrap();
            assert_eq!(parsed.as_array().unwrap().len(), g.len());
            seen.extend(g.iter().map(|l| String::from_utf8(l.to_vec()).unwrap()));
        }
        assert_eq!(seen, lines);
        assert!(groups.len() > 5);
    }
}
