//! Microsoft Entra ID tokens for the Logs Ingestion API, cached and refreshed
//! before they expire.
//!
//! Four ways to get one:
//! - `client_secret`: an app registration's secret, read from a 0600 file;
//! - `client_certificate`: a JWT client assertion signed (RS256) with the app's
//!   certificate key, so no secret travels;
//! - `managed_identity`: the Azure VM's identity from the instance metadata
//!   service (IMDS);
//! - `azure_arc`: an Arc-enabled server's identity from the local Arc agent, which
//!   answers a first request with a challenge file only a privileged user can read.

use crate::client;
use crate::secret::{read_secret_file, Secret};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::RsaKeyPair;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
}

/// A token source with its cache. Shared by the request threads.
pub struct Credentials {
    source: Source,
    scope: String,
    resource: String,
    agent: ureq::Agent,
    /// Local identity endpoints are reached without the proxy.
    local_agent: ureq::Agent,
    cache: Mutex<Option<Token>>,
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

/// Loads an RSA private key (PKCS#8 or PKCS#1 PEM) for RS256 signing.
fn load_key(path: &Path) -> Result<RsaKeyPair, String> {
    let pem = read_secret_file(path, "auth.private_key_file")?;
    let mut found = None;
    for item in ureq::tls::parse_pem(pem.expose().as_bytes()) {
        if let Ok(ureq::tls::PemItem::PrivateKey(k)) = item {
            found = Some(k);
            break;
        }
    }
    let key = found.ok_or_else(|| {
        format!(
            "auth.private_key_file {} holds no PEM private key",
            path.display()
        )
    })?;
    RsaKeyPair::from_pkcs8(key.der())
        .or_else(|_| RsaKeyPair::from_der(key.der()))
        .map_err(|_| {
            format!(
                "auth.private_key_file {}: not an RSA key of 2048 bits or more (Entra ID signs client assertions with RSA)",
                path.display()
            )
        })
}

/// The certificate's SHA-1 thumbprint, base64url: the `x5t` Entra ID matches.
fn load_thumbprint(path: &Path) -> Result<String, String> {
    let pem = std::fs::read(path).map_err(|e| {
        format!(
            "auth.certificate_file {}: cannot read it: {e}",
            path.display()
        )
    })?;
    for item in ureq::tls::parse_pem(&pem) {
        if let Ok(ureq::tls::PemItem::Certificate(c)) = item {
            let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, c.der());
            return Ok(URL_SAFE_NO_PAD.encode(digest.as_ref()));
        }
    }
    Err(format!(
        "auth.certificate_file {} holds no PEM certificate",
        path.display()
    ))
}

impl Credentials {
    /// Reads files and checks the settings; no network.
    pub fn new(
        c: &AuthConfig,
        agent: ureq::Agent,
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
            agent,
            local_agent,
            cache: Mutex::new(None),
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

    /// A valid token: the cached one unless it is due for refresh.
    pub fn token(&self) -> Result<Secret, AuthError> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = cache.as_ref() {
            if Instant::now() < t.refresh_at {
                return Ok(t.value.clone());
            }
        }
        match self.fetch() {
            Ok(t) => {
                let value = t.value.clone();
                *cache = Some(t);
                Ok(value)
            }
            // While the old token is still valid, a failed refresh is not fatal.
            Err(e) => match cache.as_ref() {
                Some(t) if Instant::now() + Duration::from_secs(30) < t.expires_at => {
                    Ok(t.value.clone())
                }
                _ => Err(e),
            },
        }
    }

    /// Forgets `rejected` (the workspace answered 401 to it), so the next call fetches
    /// a new one. Several threads may report the same token; only one refetch follows.
    pub fn invalidate(&self, rejected: &Secret) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.as_ref().is_some_and(|t| &t.value == rejected) {
            *cache = None;
        }
    }

    /// Seconds until the cached token expires, for check-config.
    pub fn expires_in(&self) -> Option<u64> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.as_ref().map(|t| {
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
            } => self.agent.post(token_url).send_form([
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
                self.agent.post(token_url).send_form([
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
        let mut response = response.map_err(|e| AuthError {
            message: format!(
                "{} token request failed: {}",
                self.method_name(),
                client::describe(&e)
            ),
            retry_after: None,
        })?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let text = client::error_text(&mut response);
            return fail(format!(
                "{} token request answered HTTP {status}: {}",
                self.method_name(),
                token_error(&text)
            ));
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
        // Refresh five minutes early, or at half-life for short-lived tokens.
        let margin = (lifetime / 2).min(Duration::from_secs(300));
        Ok(Token {
            value: Secret::new(value.to_string()),
            refresh_at: now + lifetime - margin,
            expires_at: now + lifetime,
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

/// Reads the challenge file named by `WWW-Authenticate: Basic realm=<path>`, only
/// from `token_dir`, only a `.key` file, only a small one.
fn arc_secret(challenge: &str, token_dir: &Path) -> Result<Secret, String> {
    let path = challenge
        .split_once("realm=")
        .map(|(_, p)| p.trim().trim_matches('"'))
        .filter(|p| !p.is_empty())
        .ok_or("the Arc agent's 401 named no challenge file")?;
    let path = Path::new(path);
    let dir = token_dir
        .canonicalize()
        .map_err(|e| format!("arc_token_dir {}: {e}", token_dir.display()))?;
    let file = path.canonicalize().map_err(|e| {
        format!(
            "Arc challenge file {}: {e}; the agent's user must be in the himds group",
            path.display()
        )
    })?;
    if file.parent() != Some(dir.as_path())
        || file.extension().and_then(|e| e.to_str()) != Some("key")
    {
        return Err(format!(
            "Arc challenge file {} is not a .key file in {}; refusing to read it",
            path.display(),
            dir.display()
        ));
    }
    let len = std::fs::metadata(&file)
        .map(|m| m.len())
        .unwrap_or(u64::MAX);
    if len > 4096 {
        return Err(format!(
            "Arc challenge file {} is too large",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("Arc challenge file {}: {e}", path.display()))?;
    Ok(Secret::new(text.trim().to_string()))
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

/// A client assertion (RFC 7523) signed with RS256, valid for ten minutes.
fn client_assertion(
    key: &RsaKeyPair,
    thumbprint: &str,
    client_id: &str,
    audience: &str,
) -> Result<Secret, AuthError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut jti = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut jti).map_err(|_| {
        AuthError {
            message: "no randomness for the client assertion".into(),
            retry_after: None,
        }
    })?;
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": thumbprint});
    let claims = serde_json::json!({
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": jti.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "nbf": now,
        "iat": now,
        "exp": now + 600,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| AuthError {
        message: "could not sign the client assertion".into(),
        retry_after: None,
    })?;
    Ok(Secret::new(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arc_challenge_files_outside_the_token_dir_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        std::fs::write(tokens.join("a.key"), "abc\n").unwrap();
        std::fs::write(dir.path().join("b.key"), "abc").unwrap();
        std::fs::write(tokens.join("c.txt"), "abc").unwrap();
        let ok = arc_secret(
            &format!("Basic realm={}", tokens.join("a.key").display()),
            &tokens,
        )
        .unwrap();
        assert_eq!(ok.expose(), "abc");
        for bad in [
            dir.path().join("b.key"),
            tokens.join("c.txt"),
            tokens.join("../b.key"),
        ] {
            let e = arc_secret(&format!("Basic realm={}", bad.display()), &tokens).unwrap_err();
            assert!(e.contains("refusing") || e.contains("No such"), "{e}");
        }
        assert!(arc_secret("Basic", &tokens).is_err());
    }

    #[test]
    fn token_errors_keep_the_code_and_first_line() {
        let t = token_error(
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x"}"#,
        );
        assert_eq!(
            t,
            "invalid_client: AADSTS7000215: Invalid client secret provided."
        );
    }
}
