//! Posting records to a Logs Ingestion stream: JSON arrays within the request
//! limit, gzip, the bearer token, and what each answer means.

use crate::auth::Credentials;
use crate::client::{self, Client};
use crate::codec::Scratch;
use crate::forbidden::ForbiddenPeriod;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

#[derive(Debug)]
pub struct Ingestor {
    pub client: Client,
    pub credentials: Credentials,
    /// `{endpoint}/dataCollectionRules/{dcr}/streams/`
    pub base: String,
    pub counters: Counters,
    /// The current period of 403 answers, if any (see [`crate::forbidden`]).
    pub forbidden: ForbiddenPeriod,
    /// gzip level of request bodies; 0 sends them plain.
    pub level: u32,
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
    /// Posts one JSON array to `stream`, encoded at the configured level. A 401
    /// refreshes the token once and tries again.
    pub fn post(&self, stream: &str, json: &[u8], records: u64) -> Answer {
        let mut scratch = Scratch::new(self.level);
        scratch.body.extend_from_slice(json);
        self.post_scratch(stream, &mut scratch, records)
    }

    /// Posts the JSON array in `scratch.body` to `stream`.
    pub fn post_scratch(&self, stream: &str, scratch: &mut Scratch, records: u64) -> Answer {
        let (wire, gzip) = match scratch.encode() {
            Ok(w) => w,
            Err(reason) => {
                return Answer::Retry {
                    after: None,
                    reason,
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
            let mut request = self
                .client
                .agent
                .post(&url)
                .query("api-version", API_VERSION)
                .header("Authorization", &format!("Bearer {}", token.expose()))
                .header("Content-Type", "application/json");
            if gzip {
                request = request.header("Content-Encoding", "gzip");
            }
            let result = request.send(wire);
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
                        .fetch_add(wire.len() as u64, Ordering::Relaxed);
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
