//! `[output]` for the azure plugin, as the agent passes it (a JSON object), with
//! the errors an operator needs: a key of `[output.auth]` written in `[output]`
//! says where it belongs, a secret written inline says which file to use.

use crate::auth::AuthConfig;
use crate::secret::Secret;
use serde::Deserialize;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// The API takes at most 1 MB per call, compressed or not.
pub const API_LIMIT: usize = 1_000_000;

/// Keys of `[output.auth]`.
const AUTH_KEYS: [&str; 10] = [
    "method",
    "tenant_id",
    "client_id",
    "client_secret_file",
    "certificate_file",
    "private_key_file",
    "authority_host",
    "identity_endpoint",
    "arc_token_dir",
    "scope",
];

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub endpoint: String,
    pub dcr_immutable_id: String,
    pub stream: String,
    pub security_stream: Option<String>,
    pub heartbeat_stream: Option<String>,
    #[serde(default = "default_heartbeat")]
    pub heartbeat_interval_secs: u64,
    pub ca_file: Option<PathBuf>,
    pub proxy: Option<Secret>,
    pub proxy_file: Option<PathBuf>,
    /// TLS to the proxy of `proxy`/`proxy_file` itself; their scheme never means it.
    #[serde(default)]
    pub proxy_tls: bool,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_concurrency")]
    pub max_concurrent_requests: usize,
    #[serde(default = "default_request_bytes")]
    pub max_request_bytes: usize,
    /// gzip level of request bodies, 1 (fastest: zlib-rs quick) to 12 (smallest:
    /// libdeflate); 0 sends plain JSON.
    #[serde(default = "default_level")]
    pub compression_level: u32,
    /// How long records that do not fill a request may wait for more, counted
    /// from the previous request: it bounds the requests a quiet host makes
    /// against the rule's budget. 0 sends at once.
    #[serde(default = "default_flush_interval")]
    pub flush_interval_secs: u64,
    /// While the endpoint answers 403, batches are offered again this often.
    #[serde(default = "default_forbidden_retry")]
    pub forbidden_retry_interval_secs: u64,
    /// 403s that last longer than this send the batches to the dead-letter file.
    #[serde(default = "default_forbidden_window")]
    pub forbidden_dead_letter_after_secs: u64,
    pub auth: AuthConfig,
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
fn default_level() -> u32 {
    crate::codec::DEFAULT_LEVEL
}
/// The Logs Ingestion API allows about 12,000 requests a minute per data
/// collection rule (docs/src/azure-output.md, "Fleet scale"); 10 s keeps a quiet host at six
/// requests a minute, so one rule carries 2,000 of them.
pub const DEFAULT_FLUSH_INTERVAL_SECS: u64 = 10;
fn default_flush_interval() -> u64 {
    DEFAULT_FLUSH_INTERVAL_SECS
}
fn default_forbidden_retry() -> u64 {
    60
}
fn default_forbidden_window() -> u64 {
    3600
}

impl Config {
    pub fn forbidden_retry(&self) -> Duration {
        Duration::from_secs(self.forbidden_retry_interval_secs)
    }

    pub fn forbidden_window(&self) -> Duration {
        Duration::from_secs(self.forbidden_dead_letter_after_secs)
    }

    /// Each configured stream with the key that names it.
    pub fn streams(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![("stream", self.stream.as_str())];
        if let Some(s) = &self.security_stream {
            out.push(("security_stream", s));
        }
        if let Some(s) = &self.heartbeat_stream {
            out.push(("heartbeat_stream", s));
        }
        out
    }
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

/// Parses and checks `[output]`; no files are read here.
pub fn parse(text: &str) -> Result<Config, String> {
    let raw: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if let Some(table) = raw.as_object() {
        if let Some(key) = AUTH_KEYS.iter().find(|k| table.contains_key(**k)) {
            return Err(format!(
                "{key}: belongs in [output.auth], not in [output]; move it below an [output.auth] line"
            ));
        }
        if table.contains_key("client_secret") {
            return Err("client_secret is never read from the configuration: put the secret in a file only the agent may read (mode 0600) and set client_secret_file in [output.auth]".into());
        }
        match table.get("auth") {
            None => {
                return Err("no [output.auth] table: add one after [output] with the identity the agent uses, such as method = \"managed_identity\" on an Azure VM".into())
            }
            Some(Value::Object(auth)) if auth.contains_key("client_secret") => {
                return Err("[output.auth] client_secret is never read from the configuration: put the secret in a file only the agent may read (mode 0600) and set client_secret_file".into())
            }
            _ => {}
        }
    }
    // The SDK names the key an error is about (`auth.method: …`), so the agent
    // can point at its line in [output] or [output.auth].
    let c: Config = syslane_plugin_sdk::parse_config(text)?;
    let endpoint = c.endpoint.trim_end_matches('/');
    if !endpoint.starts_with("https://") {
        return Err(format!(
            "endpoint {endpoint:?} must start with https:// (the logs ingestion endpoint of the data collection rule, or of its data collection endpoint)"
        ));
    }
    check_name(&c.dcr_immutable_id, "dcr_immutable_id")?;
    for (key, stream) in c.streams() {
        check_name(stream, key)?;
    }
    if c.max_concurrent_requests == 0 || c.max_concurrent_requests > 64 {
        return Err("max_concurrent_requests must be from 1 to 64".into());
    }
    if !(1024..=API_LIMIT).contains(&c.max_request_bytes) {
        return Err(format!(
            "max_request_bytes must be from 1024 to {API_LIMIT} (the API's limit)"
        ));
    }
    if c.compression_level > crate::codec::MAX_LEVEL {
        return Err(format!(
            "compression_level must be from 0 (plain JSON) to {} (smallest, slowest); 1 is the fastest that compresses",
            crate::codec::MAX_LEVEL
        ));
    }
    if c.flush_interval_secs > 300 {
        return Err("flush_interval_secs must be from 0 (send at once) to 300".into());
    }
    if c.timeout_secs == 0 || c.heartbeat_interval_secs == 0 {
        return Err("timeout_secs and heartbeat_interval_secs must be at least 1".into());
    }
    if !(1..=3600).contains(&c.forbidden_retry_interval_secs) {
        return Err("forbidden_retry_interval_secs must be from 1 to 3600".into());
    }
    if c.forbidden_dead_letter_after_secs > 7 * 86_400 {
        return Err(
            "forbidden_dead_letter_after_secs must be at most 604800 (a week); 0 dead-letters at the first 403"
                .into(),
        );
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"endpoint":"https://x","dcr_immutable_id":"dcr-1","stream":"Custom-S","auth":{"method":"managed_identity"}}"#;

    fn with(extra: &str) -> String {
        GOOD.replacen('{', &format!("{{{extra},"), 1)
    }

    #[test]
    fn auth_keys_in_output_say_where_they_belong() {
        parse(GOOD).unwrap();
        for key in AUTH_KEYS {
            let e = parse(&with(&format!("\"{key}\":\"v\""))).unwrap_err();
            assert!(
                e.starts_with(&format!("{key}: belongs in [output.auth], not in [output]")),
                "{e}"
            );
        }
        let e = parse(&GOOD.replace("managed_identity\"", "managed_identity\",\"tenant\":\"t\""))
            .unwrap_err();
        assert!(
            e.starts_with("auth: unknown field `tenant`, expected one of `method`"),
            "{e}"
        );
        let e = parse(&GOOD.replace("managed_identity", "managed_identiy")).unwrap_err();
        assert!(
            e.starts_with("auth.method: unknown variant `managed_identiy`"),
            "{e}"
        );
        let e =
            parse(r#"{"endpoint":"https://x","dcr_immutable_id":"d","stream":"s"}"#).unwrap_err();
        assert!(e.contains("no [output.auth] table"), "{e}");
        let e = parse(&GOOD.replace(
            r#""method":"managed_identity""#,
            r#""method":"client_secret","client_secret":"hunter2""#,
        ))
        .unwrap_err();
        assert!(
            e.contains("client_secret_file") && !e.contains("hunter2"),
            "{e}"
        );
    }

    #[test]
    fn the_403_window_has_defaults_and_bounds() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.forbidden_retry(), Duration::from_secs(60));
        assert_eq!(c.forbidden_window(), Duration::from_secs(3600));
        assert!(parse(&with("\"forbidden_retry_interval_secs\":0")).is_err());
        assert!(parse(&with("\"forbidden_dead_letter_after_secs\":0")).is_ok());
        assert!(parse(&with("\"forbidden_dead_letter_after_secs\":999999")).is_err());
    }
}
