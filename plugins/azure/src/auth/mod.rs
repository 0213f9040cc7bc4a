//! Microsoft Entra ID tokens for the Logs Ingestion API, cached and refreshed
//! before they expire. A refresh that fails is tried again after a growing pause
//! (1 s doubling to 30 s), not on every request, as the IMDS guidance asks
//! (<https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/how-to-use-vm-token#retry-guidance>);
//! meanwhile the old token serves while it is valid.
//!
//! Four ways to get one:
//! - `client_secret`: an app registration's secret, read from a 0600 file;
//! - `client_certificate`: a JWT client assertion signed (PS256) with the app's
//!   certificate key, so no secret travels;
//! - `managed_identity`: the Azure VM's identity from the instance metadata
//!   service (IMDS);
//! - `azure_arc`: an Arc-enabled server's identity from the local Arc agent, which
//!   answers a first request with a challenge file only a privileged user can read.

use crate::arc::arc_secret;
use crate::assertion::{client_assertion, load_key, load_thumbprint};
use crate::client::{self, Client};
use crate::secret::{read_secret_file, Secret};
use ring::signature::RsaKeyPair;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const DEFAULT_SCOPE: &str = "https://monitor.azure.com//.default";
const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
const ARC_ENDPOINT: &str = "http://localhost:40342/metadata/identity/oauth2/token";
const ARC_TOKEN_DIR: &str = "/var/opt/azcmagent/tokens";

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    ClientSecret,
    ClientCertificate,
    ManagedIdentity,
    AzureArc,
}

/// `[output.auth]` as written in the configuration.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub method: Method,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    pub certificate_file: Option<PathBuf>,
    pub private_key_file: Option<PathBuf>,
    #[serde(default = "default_authority")]
    pub authority_host: String,
    /// IMDS or Arc token endpoint (defaults: the well-known local addresses).
    pub identity_endpoint: Option<String>,
    /// Where the Arc agent writes its challenge files.
    pub arc_token_dir: Option<PathBuf>,
    #[serde(default = "default_scope")]
    pub scope: String,
}

fn default_authority() -> String {
    "https://login.microsoftonline.com".into()
}

fn default_scope() -> String {
    DEFAULT_SCOPE.into()
}

/// Why no token could be had. The message never holds a secret.
#[derive(Debug)]
pub struct AuthError {
    pub message: String,
    pub retry_after: Option<Duration>,
}

fn fail<T>(message: impl Into<String>) -> Result<T, AuthError> {
    Err(AuthError {
        message: message.into(),
        retry_after: None,
    })
}

enum Source {
    Secret {
        token_url: String,
        client_id: String,
        secret: Secret,
    },
    Certificate {
        token_url: String,
        client_id: String,
        key: Box<RsaKeyPair>,
        thumbprint: String,
    },
    Imds {
        endpoint: String,
        client_id: Option<String>,
    },
    Arc {
        endpoint: String,
        token_dir: PathBuf,
    },
}

struct Token {
    value: Secret,
    refresh_at: Instant,
    expires_at: Instant,
    /// Until when a failed refresh may still hand this token out.
    usable_until: Instant,
}

/// The cached token, and the failures since the last success.
#[derive(Default)]
struct Cache {
    token: Option<Token>,
    failures: u32,
    next_attempt: Option<Instant>,
    last_error: String,
}

/// The pause after `failures` failed attempts in a row: 1 s, doubling, at most 30 s.
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(5)).min(Duration::from_secs(30))
}

/// A token source with its cache. Shared by the request threads.
pub struct Credentials {
    source: Source,
    scope: String,
    resource: String,
    client: Client,
    /// Local identity endpoints are reached without the proxy.
    local_agent: ureq::Agent,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("method", &self.method_name())
            .finish_non_exhaustive()
    }
}

fn required<'a>(value: &'a Option<String>, key: &str, method: &str) -> Result<&'a str, String> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("auth.{key} is required for method = \"{method}\"")),
    }
}

fn required_path<'a>(
    value: &'a Option<PathBuf>,
    key: &str,
    method: &str,
) -> Result<&'a Path, String> {
    value
        .as_deref()
        .ok_or_else(|| format!("auth.{key} is required for method = \"{method}\""))
}

fn token_url(c: &AuthConfig, method: &str) -> Result<String, String> {
    let tenant = required(&c.tenant_id, "tenant_id", method)?;
    if !tenant
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '.')
    {
        return Err(format!(
            "auth.tenant_id {tenant:?} is not a tenant id or domain"
        ));
    }
    let authority = c.authority_host.trim_end_matches('/');
    if !authority.starts_with("https://") {
        return Err(format!(
            "auth.authority_host {authority:?} must start with https://"
        ));
    }
    Ok(format!("{authority}/{tenant}/oauth2/v2.0/token"))
}

impl Credentials {
    /// Reads files and checks the settings; no network.
    pub fn new(
        c: &AuthConfig,
        client: Client,
        local_agent: ureq::Agent,
        resolve: impl Fn(&Path) -> PathBuf,
    ) -> Result<Credentials, String> {
        let source = match c.method {
            Method::ClientSecret => {
                let m = "client_secret";
                let path = resolve(required_path(
                    &c.client_secret_file,
                    "client_secret_file",
                    m,
                )?);
                Source::Secret {
                    token_url: token_url(c, m)?,
                    client_id: required(&c.client_id, "client_id", m)?.to_string(),
                    secret: read_secret_file(&path, "auth.client_secret_file")?,
                }
            }
            Method::ClientCertificate => {
                let m = "client_certificate";
                let cert = resolve(required_path(&c.certificate_file, "certificate_file", m)?);
                let key = resolve(required_path(&c.private_key_file, "private_key_file", m)?);
                Source::Certificate {
                    token_url: token_url(c, m)?,
                    client_id: required(&c.client_id, "client_id", m)?.to_string(),
                    key: Box::new(load_key(&key)?),
                    thumbprint: load_thumbprint(&cert)?,
                }
            }
            Method::ManagedIdentity => Source::Imds {
                endpoint: c
                    .identity_endpoint
                    .clone()
                    .unwrap_or_else(|| IMDS_ENDPOINT.into()),
                client_id: c.client_id.clone().filter(|s| !s.trim().is_empty()),
            },
            Method::AzureArc => Source::Arc {
                endpoint: c
                    .identity_endpoint
                    .clone()
                    .unwrap_or_else(|| ARC_ENDPOINT.into()),
                token_dir: c
                    .arc_token_dir
                    .clone()
                    .map(|d| resolve(&d))
                    .unwrap_or_else(|| PathBuf::from(ARC_TOKEN_DIR)),
            },
        };
        let resource = c.scope.trim_end_matches(".default").trim_end_matches('/');
        Ok(Credentials {
            source,
            scope: c.scope.clone(),
            resource: format!("{resource}/"),
            client,
            local_agent,
            cache: Mutex::new(Cache::default()),
        })
    }

    pub fn method_name(&self) -> &'static str {
        match self.source {
            Source::Secret { .. } => "client_secret",
            Source::Certificate { .. } => "client_certificate",
            Source::Imds { .. } => "managed_identity",
            Source::Arc { .. } => "azure_arc",
        }
    }

    /// A valid token: the cached one unless it is due for refresh. After a failed
    /// attempt the next one waits its turn; until then the old token serves while
    /// it is valid, and callers without one are told how long to wait.
    pub fn token(&self) -> Result<Secret, AuthError> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some(t) = cache.token.as_ref() {
            if now < t.refresh_at {
                return Ok(t.value.clone());
            }
        }
        let usable = |c: &Cache| {
            c.token
                .as_ref()
                .filter(|t| now < t.usable_until)
                .map(|t| t.value.clone())
        };
        if let Some(next) = cache.next_attempt.filter(|n| now < *n) {
            return usable(&cache).ok_or_else(|| AuthError {
                message: format!(
                    "{} (the next attempt is in {} s)",
                    cache.last_error,
                    next.duration_since(now).as_secs() + 1
                ),
                retry_after: Some(next.duration_since(now)),
            });
        }
        match self.fetch() {
            Ok(t) => {
                let value = t.value.clone();
                *cache = Cache {
                    token: Some(t),
                    ..Cache::default()
                };
                Ok(value)
            }
            Err(e) => {
                cache.failures = cache.failures.saturating_add(1);
                let wait = backoff(cache.failures).max(e.retry_after.unwrap_or_default());
                cache.next_attempt = Some(now + wait);
                cache.last_error = e.message.clone();
                usable(&cache).ok_or(AuthError {
                    message: e.message,
                    retry_after: Some(wait),
                })
            }
        }
    }

    /// Forgets `rejected` (the workspace answered 401 to it), so the next call fetches
    /// a new one. Several threads may report the same token; only one refetch follows.
    pub fn invalidate(&self, rejected: &Secret) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.token.as_ref().is_some_and(|t| &t.value == rejected) {
            cache.token = None;
        }
    }

    /// Seconds until the cached token expires, for check-config.
    pub fn expires_in(&self) -> Option<u64> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.token.as_ref().map(|t| {
            t.expires_at
                .saturating_duration_since(Instant::now())
                .as_secs()
        })
    }

    fn fetch(&self) -> Result<Token, AuthError> {
        let response = match &self.source {
            Source::Secret {
                token_url,
                client_id,
                secret,
            } => self.client.agent.post(token_url).send_form([
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
                ("client_secret", secret.expose()),
                ("scope", self.scope.as_str()),
            ]),
            Source::Certificate {
                token_url,
                client_id,
                key,
                thumbprint,
            } => {
                let assertion = client_assertion(key, thumbprint, client_id, token_url)?;
                self.client.agent.post(token_url).send_form([
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.expose()),
                    ("scope", self.scope.as_str()),
                ])
            }
            Source::Imds {
                endpoint,
                client_id,
            } => {
                let mut request = self
                    .local_agent
                    .get(endpoint)
                    .header("Metadata", "true")
                    .query("api-version", "2018-02-01")
                    .query("resource", &self.resource);
                if let Some(id) = client_id {
                    request = request.query("client_id", id);
                }
                request.call()
            }
            Source::Arc {
                endpoint,
                token_dir,
            } => self.arc_request(endpoint, token_dir),
        };
        let remote = matches!(
            self.source,
            Source::Secret { .. } | Source::Certificate { .. }
        );
        let mut response = response.map_err(|e| AuthError {
            message: format!(
                "{} token request failed: {}",
                self.method_name(),
                if remote {
                    self.client.describe(&e)
                } else {
                    client::describe(&e)
                }
            ),
            retry_after: None,
        })?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let text = client::error_text(&mut response);
            return Err(AuthError {
                message: format!(
                    "{} token request answered HTTP {status}: {}",
                    self.method_name(),
                    token_error(&text)
                ),
                retry_after,
            });
        }
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let body: serde_json::Value = serde_json::from_str(&text).map_err(|_| AuthError {
            message: format!("{} token response is not JSON", self.method_name()),
            retry_after: None,
        })?;
        let Some(value) = body.get("access_token").and_then(|v| v.as_str()) else {
            return fail(format!(
                "{} token response has no access_token",
                self.method_name()
            ));
        };
        let lifetime = match body.get("expires_in") {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .unwrap_or(300)
        .max(1);
        let now = Instant::now();
        let lifetime = Duration::from_secs(lifetime);
        // Refresh five minutes early, or at half-life for short-lived tokens; a
        // failing refresh may hand the old one out until shortly before it expires.
        let margin = (lifetime / 2).min(Duration::from_secs(300));
        Ok(Token {
            value: Secret::new(value.to_string()),
            refresh_at: now + lifetime - margin,
            expires_at: now + lifetime,
            usable_until: now + lifetime - (lifetime / 10).min(Duration::from_secs(30)),
        })
    }

    /// Arc: the first request is refused with a challenge naming a file; its content
    /// proves the caller may read the agent's token directory.
    fn arc_request(
        &self,
        endpoint: &str,
        token_dir: &Path,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let request = || {
            self.local_agent
                .get(endpoint)
                .header("Metadata", "true")
                .query("api-version", "2019-11-01")
                .query("resource", &self.resource)
        };
        let first = request().call()?;
        if first.status().as_u16() != 401 {
            return Ok(first);
        }
        let challenge = first
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        match arc_secret(&challenge, token_dir) {
            Ok(secret) => request()
                .header("Authorization", &format!("Basic {}", secret.expose()))
                .call(),
            Err(why) => Err(ureq::Error::BadUri(why)),
        }
    }
}

/// The useful part of an Entra ID error body (`error` and the first line of
/// `error_description`), which never echoes the credential.
fn token_error(text: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => {
            let code = v.get("error").and_then(|e| e.as_str()).unwrap_or("error");
            let description = v
                .get("error_description")
                .and_then(|e| e.as_str())
                .and_then(|d| d.lines().next())
                .unwrap_or("");
            format!("{code}: {description}")
        }
        Err(_) => text.chars().take(300).collect(),
    }
}

#[cfg(test)]
mod tests;
