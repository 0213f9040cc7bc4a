//! The `azure` output: delivers batches to one Log Analytics workspace through the
//! Azure Monitor Logs Ingestion API (a data collection rule's stream, at the rule's
//! logs ingestion endpoint or a data collection endpoint), authenticated with
//! Microsoft Entra ID.
//!
//! A batch from the journal is split into requests within the API's 1 MB limit and
//! sent gzip-compressed, a few at a time. The answer decides the batch's fate:
//! accepted requests are remembered, so a retry of the batch sends only what is
//! still missing; 429/503 wait as long as `Retry-After` says; other 5xx, timeouts and
//! connection errors go back to the agent's backoff; 413 splits the request; 403
//! (no role on the rule yet: a new assignment takes up to 30 minutes) is retried
//! every minute and dead-lettered only once it has lasted an hour; 400, 404 and
//! other 4xx are final, and those records go to the agent's dead-letter file with
//! the service's answer. Secrets are read from 0600 files and never printed.

#![forbid(unsafe_code)]

mod arc;
mod assertion;
mod auth;
mod body;
mod client;
mod codec;
mod config;
mod forbidden;
mod heartbeat;
mod ingest;
mod network;
mod progress;
mod proxy;
mod secret;
mod send;

use auth::Credentials;
use client::Client;
use codec::Pool;
use forbidden::ForbiddenPolicy;
use ingest::{Answer, Ingestor};
use network::ProxyPlan;
use progress::{Fate, Progress};
use send::send_range;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use syslane_abi::Table;
use syslane_plugin_sdk::{export_plugin, Host, Level, Outcome, Output, Payload, Preferences};

pub use network::{no_proxy_matches, url_host};

/// What `syslane setup` reuses rather than writing again: the token sources
/// (asked for Resource Manager's scope there), the HTTPS client, the heartbeat
/// record, and the secret wrapper that keeps tokens out of `Debug` output.
pub mod reuse {
    pub use crate::auth::{AuthConfig, Credentials, Method};
    pub use crate::client::Client;
    pub use crate::client::{agent, describe, roots};
    pub use crate::forbidden::while_role_applies;
    pub use crate::heartbeat::record as heartbeat_record;
    pub use crate::secret::Secret;
}
pub use proxy::{parse as parse_proxy, ProxySetting};

pub struct AzureOutput {
    host: Host,
    ingestor: Arc<Ingestor>,
    /// Each configured stream with the key that names it.
    streams: Vec<(&'static str, String)>,
    stream: String,
    security_stream: Option<String>,
    concurrency: usize,
    max_request_bytes: usize,
    flush_interval: Duration,
    forbidden: ForbiddenPolicy,
    /// Which proxy the endpoint and the authority are reached through, for check-config.
    proxy_note: String,
    progress: Progress,
    /// Compressors and buffers of the request threads, kept between batches.
    pool: Pool,
    heartbeat: Option<(Sender<()>, std::thread::JoinHandle<()>)>,
}

impl AzureOutput {
    fn stream_for(&self, table: Table) -> Option<&str> {
        match table {
            Table::Syslog => Some(&self.stream),
            Table::Security => self.security_stream.as_deref(),
        }
    }

    /// Logs the start and the end of a period of 403 answers, once each.
    fn note_forbidden(&self) {
        if let Some(lasted) = self.ingestor.forbidden.take_ended() {
            self.host.log(Level::Info, &self.forbidden.ended(lasted));
        }
    }
}

impl Output for AzureOutput {
    fn create(host: Host, config: &str) -> Result<Self, String> {
        let c = config::parse(config)?;
        let endpoint = c.endpoint.trim_end_matches('/').to_string();
        let proxy_file = c.proxy_file.as_ref().map(|f| host.resolve_path(f));
        let plan = ProxyPlan::new(
            c.proxy.as_ref(),
            proxy_file.as_deref(),
            c.proxy_tls,
            &|name| std::env::var(name).ok(),
        )?;
        let roots = client::roots(c.ca_file.as_ref().map(|p| host.resolve_path(p)).as_deref())?;
        let timeout = Duration::from_secs(c.timeout_secs);
        let endpoint_proxy = plan.for_url(&endpoint);
        let authority_proxy = plan.for_url(&c.auth.authority_host);
        let describe = |p: Option<&ProxySetting>| match p {
            Some(p) => format!(
                "through the proxy {}:{} ({} to the proxy; {})",
                p.host,
                p.port,
                if p.tls { "TLS" } else { "plain TCP" },
                plan.source
            ),
            None => "directly".to_string(),
        };
        let proxy_note = format!(
            "the endpoint is reached {}, the authority host {}; identity endpoints on this host directly",
            describe(endpoint_proxy),
            describe(authority_proxy)
        );
        let endpoint_client = Client::new(&roots, endpoint_proxy, timeout)?;
        let token_client = Client::new(&roots, authority_proxy, timeout)?;
        let local_agent = client::agent(&roots, None, timeout)?;
        let credentials =
            Credentials::new(&c.auth, token_client, local_agent, |p| host.resolve_path(p))?;
        let ingestor = Arc::new(Ingestor {
            client: endpoint_client,
            credentials,
            base: format!(
                "{endpoint}/dataCollectionRules/{}/streams/",
                c.dcr_immutable_id
            ),
            counters: Default::default(),
            forbidden: Default::default(),
            level: c.compression_level,
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
            streams: c
                .streams()
                .into_iter()
                .map(|(k, s)| (k, s.to_string()))
                .collect(),
            forbidden: ForbiddenPolicy {
                retry: c.forbidden_retry(),
                window: c.forbidden_window(),
                rule: c.dcr_immutable_id.clone(),
            },
            stream: c.stream,
            security_stream: c.security_stream,
            concurrency: c.max_concurrent_requests,
            max_request_bytes: c.max_request_bytes,
            flush_interval: Duration::from_secs(c.flush_interval_secs),
            proxy_note,
            progress: Progress::default(),
            pool: Pool::new(c.compression_level),
            heartbeat,
        })
    }

    fn send(&mut self, payload: &Payload<'_>) -> Outcome {
        let Some(stream) = self.stream_for(payload.table).map(str::to_string) else {
            return Outcome::Reject {
                reason: no_stream(payload.table),
            };
        };
        let data = payload.data;
        let plan = body::plan(data, self.max_request_bytes);
        // Tells a replay of other bytes under this batch id from a retry; libdeflate's
        // crc32 runs at memory speed.
        let digest = u64::from(libdeflater::crc32(data)) ^ ((data.len() as u64) << 32);
        self.progress
            .offer(payload.batch_id, digest, data.len(), &plan.parts);
        let pending = self.progress.pending();
        let next = AtomicUsize::new(0);
        let fates: Mutex<Vec<(Range<usize>, Fate)>> = Mutex::new(Vec::new());
        let workers = self.concurrency.min(pending.len());
        let ingestor = &*self.ingestor;
        let policy = &self.forbidden;
        let pool = &self.pool;
        let work = || {
            let mut scratch = pool.take();
            let mut mine = Vec::new();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(part) = pending.get(k) else { break };
                send_range(
                    ingestor,
                    policy,
                    &stream,
                    data,
                    part.clone(),
                    &mut scratch,
                    &mut mine,
                );
            }
            pool.give(scratch);
            fates.lock().unwrap_or_else(|e| e.into_inner()).extend(mine);
        };
        // The calling thread takes a share itself: a batch of one request starts
        // no thread, and a batch of `workers` requests starts `workers - 1`.
        if workers > 0 {
            std::thread::scope(|scope| {
                for _ in 1..workers {
                    scope.spawn(work);
                }
                work();
            });
        }
        self.note_forbidden();
        let answered = self
            .progress
            .answer(fates.into_inner().unwrap_or_else(|e| e.into_inner()));
        // Settle what was refused for good before anything else.
        let mut settle: Vec<(Range<usize>, String)> = Vec::new();
        if !self.progress.oversized_settled {
            for line in &plan.oversized {
                settle.push((
                    line.clone(),
                    format!(
                        "record of {} bytes exceeds the Logs Ingestion API's limit of {} bytes per request",
                        line.len(),
                        self.max_request_bytes
                    ),
                ));
            }
        }
        settle.extend(answered.refused);
        for (range, reason) in &settle {
            let lines = &data[range.clone()];
            let records = body::records(lines);
            self.host.log(
                Level::Error,
                &format!("{records} records to {stream} refused for good: {reason}"),
            );
            if !self
                .host
                .dead_letter(payload.table, records as u32, reason, lines)
            {
                // An older host cannot take part of a batch: refuse it whole.
                self.progress = Progress::default();
                return Outcome::Reject {
                    reason: reason.clone(),
                };
            }
        }
        self.progress.oversized_settled = true;
        match answered.retry {
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

    /// Batches that fill every concurrent request, so the requests of one batch
    /// overlap (and compress on every core); and the linger that keeps a quiet
    /// host within the rule's request budget.
    fn preferences(&self) -> Preferences {
        Preferences {
            // Two requests per thread: a thread compresses its second while the
            // others wait for their answers, and the wait at the end of a batch
            // comes half as often. A request cuts at a line boundary, so it
            // carries a little less than the limit; 1/32 spare keeps a batch at
            // twice `concurrency` requests.
            batch_bytes: ((self.max_request_bytes - self.max_request_bytes / 32)
                * self.concurrency
                * 2) as u64,
            flush_interval: self.flush_interval,
        }
    }

    fn check(&mut self, online: bool) -> Result<(), String> {
        let ingestor = &self.ingestor;
        self.host.log(
            Level::Info,
            &format!(
                "azure: settings and credential files are valid (auth {}); {}",
                ingestor.credentials.method_name(),
                self.proxy_note
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
        // An empty JSON array stores nothing but takes the request through the
        // token, the rule, the stream and the role. The documentation describes the
        // body as an array of records and does not say whether an empty one is
        // taken (docs/src/azure-template.md, on check-config's probe).
        for (key, stream) in &self.streams {
            match ingestor.post(stream, b"[]", 0) {
                Answer::Accepted => self.host.log(
                    Level::Info,
                    &format!("azure: the endpoint accepted a request for {key} {stream}"),
                ),
                Answer::Forbidden(why) => return Err(self.forbidden.check_error(key, stream, &why)),
                Answer::Refused(why) if why.contains("HTTP 404") => return Err(format!(
                    "{key} {stream:?}: {why}; check dcr_immutable_id and that the rule declares this stream (deploy.sh prints both; a security stream exists only when the rule was deployed with it, which needs Microsoft Sentinel on the workspace)"
                )),
                Answer::Refused(why) => return Err(format!("{key} {stream}: the endpoint refused the probe: {why}")),
                Answer::Retry { reason, .. } => {
                    return Err(format!("{key} {stream}: the endpoint did not answer: {reason}"))
                }
                Answer::TooLarge => {
                    return Err(format!("{key} {stream}: the endpoint answered 413 to an empty request"))
                }
            }
        }
        Ok(())
    }
}

/// Why records of `table` cannot be sent: no stream is configured for them.
fn no_stream(table: Table) -> String {
    if table == Table::Security {
        "CommonSecurityLog records (CEF and Cisco ASA/FTD) cannot be sent: [output] has no security_stream. They are kept in the dead-letter file. To ship them, the workspace needs Microsoft Sentinel and the rule the security stream (deploy.sh --security-stream on); then set security_stream = \"Custom-SyslaneSecurity\" and, with the agent stopped, run `syslane dead-letter replay`. Or remove the cef listeners".into()
    } else {
        format!("records of table {table} cannot be sent: the azure output has no stream for that table; they are kept in the dead-letter file")
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
    "Azure Monitor Logs Ingestion API (data collection rule, stream) with Entra ID auth"
);
