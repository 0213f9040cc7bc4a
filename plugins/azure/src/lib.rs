//! The `azure` output: delivers batches to one Log Analytics workspace through the
//! Azure Monitor Logs Ingestion API (data collection endpoint, data collection rule
//! and stream), authenticated with Microsoft Entra ID.
//!
//! A batch from the journal is split into requests within the API's 1 MB limit and
//! sent gzip-compressed, a few at a time. The answer decides the batch's fate:
//! accepted requests are remembered, so a retry of the batch sends only what is
//! still missing; 429/503 wait as long as `Retry-After` says; other 5xx, timeouts and
//! connection errors go back to the agent's backoff; 413 splits the request; 400,
//! 403 and 404 are final, and those records go to the agent's dead-letter file with
//! the service's answer. Secrets are read from 0600 files and never printed.

#![forbid(unsafe_code)]

mod arc;
mod assertion;
mod auth;
mod client;
mod heartbeat;
mod ingest;
mod proxy;
mod secret;

use auth::{AuthConfig, Credentials};
use ingest::{Answer, Ingestor};
use secret::Secret;
use serde::Deserialize;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use syslane_abi::{SL_TABLE_SECURITY, SL_TABLE_SYSLOG};
use syslane_plugin_sdk::{export_plugin, Host, Level, Outcome, Output, Payload};

pub use proxy::{parse as parse_proxy, ProxySetting};

/// The API takes at most 1 MB per call, compressed or not.
const API_LIMIT: usize = 1_000_000;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Config {
    endpoint: String,
    dcr_immutable_id: String,
    stream: String,
    security_stream: Option<String>,
    heartbeat_stream: Option<String>,
    #[serde(default = "default_heartbeat")]
    heartbeat_interval_secs: u64,
    ca_file: Option<PathBuf>,
    proxy: Option<Secret>,
    proxy_file: Option<PathBuf>,
    #[serde(default = "default_timeout")]
    timeout_secs: u64,
    #[serde(default = "default_concurrency")]
    max_concurrent_requests: usize,
    #[serde(default = "default_request_bytes")]
    max_request_bytes: usize,
    auth: AuthConfig,
}

fn default_heartbeat() -> u64 {
    60
}
fn default_timeout() -> u64 {
    30
}
fn default_concurrency() -> usize {
    4
}
fn default_request_bytes() -> usize {
    API_LIMIT
}

fn check_name(value: &str, key: &str) -> Result<(), String> {
    if value.is_empty()
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "{key} {value:?} must be letters, digits, '-' or '_' (as shown in the Azure portal)"
        ));
    }
    Ok(())
}

/// What became of one range of a batch's records in this attempt.
enum Fate {
    Accepted,
    Refused(String),
    Retry(Option<Duration>, String),
}

/// What was already settled of the batch being offered. A batch is known by its
/// id and a digest of its bytes: `dead-letter replay` may offer different payloads
/// under one id. `parts` are ranges of the batch's lines (in order) with whether
/// each is settled; a 413 splits a part for good, so a retry resends only what was
/// not accepted, in pieces the service already took.
#[derive(Default)]
struct Progress {
    batch_id: u64,
    digest: u64,
    lines: usize,
    parts: Vec<(Range<usize>, bool)>,
    oversized_settled: bool,
}

pub struct AzureOutput {
    host: Host,
    ingestor: Arc<Ingestor>,
    stream: String,
    security_stream: Option<String>,
    concurrency: usize,
    max_request_bytes: usize,
    progress: Progress,
    heartbeat: Option<(Sender<()>, std::thread::JoinHandle<()>)>,
}

impl AzureOutput {
    fn stream_for(&self, table: u32) -> Option<&str> {
        match table {
            SL_TABLE_SYSLOG => Some(&self.stream),
            SL_TABLE_SECURITY => self.security_stream.as_deref(),
            _ => None,
        }
    }

    /// Sends the lines in `range`; a 413 halves it and sends both halves. Each
    /// range that got an answer is reported with its fate.
    fn deliver(
        ingestor: &Ingestor,
        stream: &str,
        lines: &[&[u8]],
        range: Range<usize>,
        fates: &mut Vec<(Range<usize>, Fate)>,
    ) {
        let group = &lines[range.clone()];
        let body = ingest::json_array(group);
        match ingestor.post(stream, &body, group.len() as u64) {
            Answer::Accepted => fates.push((range, Fate::Accepted)),
            Answer::TooLarge if group.len() > 1 => {
                let mid = range.start + group.len() / 2;
                AzureOutput::deliver(ingestor, stream, lines, range.start..mid, fates);
                AzureOutput::deliver(ingestor, stream, lines, mid..range.end, fates);
            }
            Answer::TooLarge => fates.push((
                range,
                Fate::Refused(format!(
                    "the Logs Ingestion API answered HTTP 413 to a single record of {} bytes",
                    body.len()
                )),
            )),
            Answer::Refused(reason) => fates.push((range, Fate::Refused(reason))),
            Answer::Retry { after, reason } => fates.push((range, Fate::Retry(after, reason))),
        }
    }
}

impl Output for AzureOutput {
    fn create(host: Host, config: &str) -> Result<Self, String> {
        let c: Config = serde_json::from_str(config).map_err(|e| e.to_string())?;
        let endpoint = c.endpoint.trim_end_matches('/');
        if !endpoint.starts_with("https://") {
            return Err(format!(
                "endpoint {endpoint:?} must start with https:// (the data collection endpoint's logs ingestion URI)"
            ));
        }
        check_name(&c.dcr_immutable_id, "dcr_immutable_id")?;
        check_name(&c.stream, "stream")?;
        for (s, key) in [
            (&c.security_stream, "security_stream"),
            (&c.heartbeat_stream, "heartbeat_stream"),
        ] {
            if let Some(s) = s {
                check_name(s, key)?;
            }
        }
        if c.max_concurrent_requests == 0 || c.max_concurrent_requests > 64 {
            return Err("max_concurrent_requests must be from 1 to 64".into());
        }
        if !(1024..=API_LIMIT).contains(&c.max_request_bytes) {
            return Err(format!(
                "max_request_bytes must be from 1024 to {API_LIMIT} (the API's limit)"
            ));
        }
        if c.timeout_secs == 0 || c.heartbeat_interval_secs == 0 {
            return Err("timeout_secs and heartbeat_interval_secs must be at least 1".into());
        }
        let proxy = match (&c.proxy, &c.proxy_file) {
            (Some(_), Some(_)) => return Err("set proxy or proxy_file, not both".into()),
            (Some(p), None) => Some(proxy::parse(p.expose())?),
            (None, Some(f)) => Some(proxy::read_file(&host.resolve_path(f))?),
            (None, None) => None,
        };
        let roots = client::roots(c.ca_file.as_ref().map(|p| host.resolve_path(p)).as_deref())?;
        let timeout = Duration::from_secs(c.timeout_secs);
        let agent = client::agent(&roots, proxy.as_ref(), timeout)?;
        let local_agent = client::agent(&roots, None, timeout)?;
        let credentials = Credentials::new(&c.auth, agent.clone(), local_agent, |p| {
            host.resolve_path(p)
        })?;
        let ingestor = Arc::new(Ingestor {
            agent,
            credentials,
            base: format!(
                "{endpoint}/dataCollectionRules/{}/streams/",
                c.dcr_immutable_id
            ),
            counters: Default::default(),
        });
        let heartbeat = match &c.heartbeat_stream {
            None => None,
            Some(stream) => {
                let (tx, rx) = std::sync::mpsc::channel();
                let (ingestor, stream, computer) =
                    (Arc::clone(&ingestor), stream.clone(), host.host_name());
                let every = Duration::from_secs(c.heartbeat_interval_secs);
                let thread = std::thread::Builder::new()
                    .name("azure-heartbeat".into())
                    .spawn(move || heartbeat::run(ingestor, host, stream, computer, every, rx))
                    .map_err(|e| format!("cannot start the heartbeat thread: {e}"))?;
                Some((tx, thread))
            }
        };
        Ok(AzureOutput {
            host,
            ingestor,
            stream: c.stream,
            security_stream: c.security_stream,
            concurrency: c.max_concurrent_requests,
            max_request_bytes: c.max_request_bytes,
            progress: Progress::default(),
            heartbeat,
        })
    }

    fn send(&mut self, payload: &Payload<'_>) -> Outcome {
        let Some(stream) = self.stream_for(payload.table).map(str::to_string) else {
            return Outcome::Reject {
                reason: format!(
                    "no stream is configured for table {} (set security_stream for CEF records)",
                    payload.table
                ),
            };
        };
        let (groups, oversized) = ingest::split(payload.data, self.max_request_bytes);
        let lines: Vec<&[u8]> = groups.concat();
        let digest = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            payload.data.hash(&mut h);
            h.finish()
        };
        if self.progress.batch_id != payload.batch_id
            || self.progress.digest != digest
            || self.progress.lines != lines.len()
        {
            let mut parts = Vec::with_capacity(groups.len());
            let mut at = 0;
            for g in &groups {
                parts.push((at..at + g.len(), false));
                at += g.len();
            }
            self.progress = Progress {
                batch_id: payload.batch_id,
                digest,
                lines: lines.len(),
                parts,
                oversized_settled: false,
            };
        }
        let mut refused: Vec<(Range<usize>, String)> = Vec::new();
        let pending: Vec<Range<usize>> = self
            .progress
            .parts
            .iter()
            .filter(|(_, done)| !done)
            .map(|(r, _)| r.clone())
            .collect();
        let next = AtomicUsize::new(0);
        let fates: Mutex<Vec<(Range<usize>, Fate)>> = Mutex::new(Vec::new());
        let workers = self.concurrency.min(pending.len());
        let ingestor = &*self.ingestor;
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(range) = pending.get(k) else { break };
                    let mut mine = Vec::new();
                    AzureOutput::deliver(ingestor, &stream, &lines, range.clone(), &mut mine);
                    fates.lock().unwrap_or_else(|e| e.into_inner()).extend(mine);
                });
            }
        });
        // The parts answered this time replace the pending ones they came from
        // (a 413 turned one into several).
        let mut parts: Vec<(Range<usize>, bool)> = self
            .progress
            .parts
            .iter()
            .filter(|(_, done)| *done)
            .cloned()
            .collect();
        let mut retry: Option<(Option<Duration>, String)> = None;
        for (range, fate) in fates.into_inner().unwrap_or_else(|e| e.into_inner()) {
            match fate {
                Fate::Accepted => parts.push((range, true)),
                Fate::Refused(reason) => {
                    refused.push((range.clone(), reason));
                    parts.push((range, true));
                }
                Fate::Retry(after, reason) => {
                    let longest = match (&retry, after) {
                        (Some((Some(prev), _)), Some(a)) => Some(a.max(*prev)),
                        (Some((prev, _)), None) => *prev,
                        (_, a) => a,
                    };
                    let reason = retry.map(|(_, r)| r).unwrap_or(reason);
                    retry = Some((longest, reason));
                    parts.push((range, false));
                }
            }
        }
        parts.sort_by_key(|(r, _)| r.start);
        self.progress.parts = parts;
        // Settle what was refused for good before anything else.
        let mut settle: Vec<(Vec<&[u8]>, String)> = Vec::new();
        if !self.progress.oversized_settled {
            for line in &oversized {
                settle.push((
                    vec![*line],
                    format!(
                        "record of {} bytes exceeds the Logs Ingestion API's limit of {} bytes per request",
                        line.len(),
                        self.max_request_bytes
                    ),
                ));
            }
        }
        settle.extend(
            refused
                .into_iter()
                .map(|(range, reason)| (lines[range].to_vec(), reason)),
        );
        for (group, reason) in &settle {
            let mut data = Vec::new();
            for l in group {
                data.extend_from_slice(l);
                data.push(b'\n');
            }
            self.host.log(
                Level::Error,
                &format!(
                    "{} records to {stream} refused for good: {reason}",
                    group.len()
                ),
            );
            if !self
                .host
                .dead_letter(payload.table, group.len() as u32, reason, &data)
            {
                // An older host cannot take part of a batch: refuse it whole.
                self.progress = Progress::default();
                return Outcome::Reject {
                    reason: reason.clone(),
                };
            }
        }
        self.progress.oversized_settled = true;
        match retry {
            Some((after, reason)) => Outcome::Retry {
                after,
                reason: format!("{stream}: {reason}"),
            },
            None => {
                self.progress = Progress::default();
                Outcome::Ok
            }
        }
    }

    fn check(&mut self, online: bool) -> Result<(), String> {
        let ingestor = &self.ingestor;
        self.host.log(
            Level::Info,
            &format!(
                "azure: settings and credential files are valid (auth {})",
                ingestor.credentials.method_name()
            ),
        );
        if !online {
            return Ok(());
        }
        ingestor
            .credentials
            .token()
            .map_err(|e| format!("could not obtain a token: {}", e.message))?;
        self.host.log(
            Level::Info,
            &format!(
                "azure: obtained a token (expires in {} s)",
                ingestor.credentials.expires_in().unwrap_or(0)
            ),
        );
        // An empty array delivers nothing but proves the endpoint, the rule, the
        // stream and the role assignment.
        match ingestor.post(&self.stream, b"[]", 0) {
            Answer::Accepted => {
                self.host.log(
                    Level::Info,
                    &format!("azure: the endpoint accepted a request for stream {}", self.stream),
                );
                Ok(())
            }
            Answer::Refused(why) => Err(format!(
                "the endpoint refused stream {}: {why}; check dcr_immutable_id, stream, and the Monitoring Metrics Publisher role",
                self.stream
            )),
            Answer::Retry { reason, .. } => Err(format!("the endpoint did not answer: {reason}")),
            Answer::TooLarge => Err("the endpoint answered 413 to an empty request".into()),
        }
    }
}

impl Drop for AzureOutput {
    fn drop(&mut self) {
        // The thread logs through the host, whose API is valid only until destroy
        // returns: wait for it (at most one request's timeout).
        if let Some((stop, thread)) = self.heartbeat.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }
}

export_plugin!(
    output,
    AzureOutput,
    "azure",
    "Azure Monitor Logs Ingestion API (DCE, DCR, stream) with Entra ID auth"
);
