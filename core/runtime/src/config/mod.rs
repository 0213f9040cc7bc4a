//! The configuration file: TOML, unknown keys refused, relative paths resolved
//! against the file's directory, every error naming the file, the key and the fix.
//!
//! Each `[[listen]]`, `[[filter]]` and `[output]` table passes its keys other than
//! `address`/`input`/`plugin` to its plugin as a JSON object.

use crate::journal::{Fsync, WhenFull};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A configuration error, shown to the operator as `file: key: message`.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub key: String,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    state_dir: PathBuf,
    plugin_dir: PathBuf,
    hostname: Option<String>,
    workers: Option<usize>,
    #[serde(default = "defaults::max_message_size")]
    max_message_size: usize,
    #[serde(default = "defaults::max_connections")]
    max_connections: usize,
    #[serde(default = "defaults::idle_timeout_secs")]
    idle_timeout_secs: u64,
    #[serde(default = "defaults::shutdown_timeout_secs")]
    shutdown_timeout_secs: u64,
    #[serde(default = "defaults::stall_timeout_secs")]
    stall_timeout_secs: u64,
    #[serde(default = "defaults::batch_max_bytes")]
    batch_max_bytes: usize,
    #[serde(default = "defaults::queue_batches")]
    queue_batches: usize,
    #[serde(default = "defaults::udp_receive_buffer")]
    udp_receive_buffer: usize,
    #[serde(default = "defaults::journal_max_bytes")]
    journal_max_bytes: u64,
    #[serde(default = "defaults::when_full")]
    when_full: String,
    #[serde(default = "defaults::fsync")]
    fsync: String,
    #[serde(default)]
    listen: Vec<RawListen>,
    #[serde(default)]
    filter: Vec<RawPlugin>,
    output: Option<RawPlugin>,
}

mod drop_in;

mod defaults {
    pub fn max_message_size() -> usize {
        64 * 1024
    }
    pub fn max_connections() -> usize {
        1024
    }
    pub fn idle_timeout_secs() -> u64 {
        300
    }
    pub fn shutdown_timeout_secs() -> u64 {
        30
    }
    pub fn stall_timeout_secs() -> u64 {
        120
    }
    pub fn batch_max_bytes() -> usize {
        1024 * 1024
    }
    pub fn queue_batches() -> usize {
        64
    }
    pub fn udp_receive_buffer() -> usize {
        8 * 1024 * 1024
    }
    pub fn journal_max_bytes() -> u64 {
        1 << 30
    }
    pub fn when_full() -> String {
        "block".into()
    }
    pub fn fsync() -> String {
        "batch".into()
    }
}

#[derive(Deserialize)]
struct RawListen {
    address: Option<String>,
    input: Option<String>,
    #[serde(flatten)]
    options: toml::Table,
}

#[derive(Deserialize)]
struct RawPlugin {
    plugin: Option<String>,
    #[serde(flatten)]
    options: toml::Table,
}

/// A listener's transport and socket address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenAddress {
    Udp(SocketAddr),
    Tcp(SocketAddr),
    /// RELP (rsyslog's omrelp): each message is acknowledged once journaled.
    Relp(SocketAddr),
}

impl std::fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenAddress::Udp(a) => write!(f, "udp://{a}"),
            ListenAddress::Tcp(a) => write!(f, "tcp://{a}"),
            ListenAddress::Relp(a) => write!(f, "relp://{a}"),
        }
    }
}

/// One `[[listen]]`: where to listen and which decoder plugin reads it.
#[derive(Debug, Clone)]
pub struct Listen {
    pub address: ListenAddress,
    pub input: String,
    /// The decoder's config as a JSON object.
    pub options_json: String,
    /// The file it was written in (the main file or a drop-in), for messages.
    pub origin: String,
}

/// One plugin reference with its JSON config.
#[derive(Debug, Clone)]
pub struct PluginRef {
    pub plugin: String,
    pub options_json: String,
    /// Where it came from, for messages: `filter[0]`, `output`.
    pub key: String,
    /// The file(s) it was written in (the main file, drop-ins), for messages.
    pub origin: String,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub config_dir: PathBuf,
    pub state_dir: PathBuf,
    pub plugin_dir: PathBuf,
    pub hostname: Option<String>,
    pub workers: usize,
    pub max_message_size: usize,
    pub max_connections: usize,
    pub idle_timeout: Duration,
    pub shutdown_timeout: Duration,
    /// A pipeline stage silent this long is wedged: the watchdog stops being petted.
    pub stall_timeout: Duration,
    pub batch_max_bytes: usize,
    pub queue_batches: usize,
    pub udp_receive_buffer: usize,
    pub journal_max_bytes: u64,
    pub when_full: WhenFull,
    pub fsync: Fsync,
    pub listen: Vec<Listen>,
    pub filters: Vec<PluginRef>,
    pub output: PluginRef,
}

fn resolve(dir: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

fn parse_address(text: &str) -> Result<ListenAddress, String> {
    let (scheme, rest) = text.split_once("://").ok_or_else(|| {
        format!("`{text}` has no scheme; write udp://, tcp:// or relp:// and an address, such as tcp://127.0.0.1:25224")
    })?;
    let addr: SocketAddr = rest.parse().map_err(|_| {
        format!("`{rest}` is not an IP address and port (such as 127.0.0.1:25224 or [::1]:25224)")
    })?;
    match scheme {
        "udp" => Ok(ListenAddress::Udp(addr)),
        "tcp" => Ok(ListenAddress::Tcp(addr)),
        "relp" => Ok(ListenAddress::Relp(addr)),
        "unix" => Err(
            "unix:// listeners are not available in this version; use tcp://, udp:// or relp://"
                .to_string(),
        ),
        other => Err(format!(
            "unknown scheme `{other}://`; use udp://, tcp:// or relp://"
        )),
    }
}

/// `batch`, or an interval such as `200ms` or `1s`.
fn parse_fsync(text: &str) -> Result<Fsync, String> {
    let bad = || {
        format!("`{text}` is not an fsync policy; use \"batch\" (durable before acknowledged) or an interval such as \"200ms\" or \"1s\"")
    };
    if text == "batch" {
        return Ok(Fsync::Batch);
    }
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |i| text.split_at(i));
    let n: u64 = number.parse().map_err(|_| bad())?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        _ => return Err(bad()),
    };
    if d.is_zero() || d > Duration::from_secs(60) {
        return Err(format!(
            "`{text}` is out of range; use 1ms to 60s, or \"batch\""
        ));
    }
    Ok(Fsync::Interval(d))
}

fn options_json(options: toml::Table) -> String {
    serde_json::to_string(&options).unwrap_or_else(|_| "{}".to_string())
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            key: "(file)".into(),
            message: format!("cannot read the configuration file: {e}"),
        })?;
        let dir = path
            .parent()
            .map(|d| {
                if d.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    d
                }
            })
            .unwrap_or(Path::new("."));
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let drop_ins = drop_in::files(&dir)?;
        if drop_ins.is_empty() {
            return Config::parse(&text, path, &dir);
        }
        let mut merged = drop_in::parse_table(&text, path)?;
        let mut origins = drop_in::Origins::new(&merged, path);
        for f in &drop_ins {
            let more = std::fs::read_to_string(f).map_err(|e| ConfigError {
                file: f.display().to_string(),
                key: "(file)".into(),
                message: format!("cannot read the drop-in file: {e}"),
            })?;
            let more = drop_in::parse_table(&more, f)?;
            origins.add(&more, f);
            drop_in::merge(&mut merged, more);
        }
        let text = toml::to_string(&merged).map_err(|e| ConfigError {
            file,
            key: "conf.d".into(),
            message: format!("cannot merge the drop-in files: {e}"),
        })?;
        let shown = format!(
            "{} (with {})",
            path.display(),
            drop_ins
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut config = Config::parse(&text, Path::new(&shown), &dir)?;
        config.file = path.to_path_buf();
        origins.apply(&mut config);
        Ok(config)
    }

    /// Validates configuration text; `dir` resolves relative paths.
    pub fn parse(text: &str, path: &Path, dir: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let err = |key: &str, message: String| ConfigError {
            file: file.clone(),
            key: key.to_string(),
            message,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let key = e.span().map_or("(syntax)".to_string(), |s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}")
            });
            err(&key, e.message().to_string())
        })?;

        if raw.max_message_size < 480 || raw.max_message_size > 16 * 1024 * 1024 {
            return Err(err(
                "max_message_size",
                format!("{} is out of range; use 480 to 16777216 bytes (RFC 5424 receivers must accept at least 480)", raw.max_message_size),
            ));
        }
        let workers = raw.workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .min(8)
        });
        if workers == 0 || workers > 64 {
            return Err(err(
                "workers",
                format!("{workers} is out of range; use 1 to 64"),
            ));
        }
        if raw.max_connections == 0 {
            return Err(err("max_connections", "must be at least 1".into()));
        }
        if raw.stall_timeout_secs == 0 || raw.stall_timeout_secs > 86_400 {
            return Err(err(
                "stall_timeout_secs",
                format!("{} is out of range; use 1 to 86400 seconds (longer than the output's own request timeout)", raw.stall_timeout_secs),
            ));
        }
        if raw.queue_batches == 0 {
            return Err(err("queue_batches", "must be at least 1".into()));
        }
        if raw.batch_max_bytes < 1024 {
            return Err(err("batch_max_bytes", "must be at least 1024".into()));
        }
        let when_full = match raw.when_full.as_str() {
            "block" => WhenFull::Block,
            "drop_oldest" => WhenFull::DropOldest,
            other => {
                return Err(err(
                    "when_full",
                    format!("`{other}` is not a choice; use \"block\" or \"drop_oldest\""),
                ))
            }
        };
        let fsync = parse_fsync(&raw.fsync).map_err(|m| err("fsync", m))?;
        if raw.journal_max_bytes < 1 << 20 {
            return Err(err(
                "journal_max_bytes",
                format!(
                    "{} is too small; use at least 1048576 (1 MiB)",
                    raw.journal_max_bytes
                ),
            ));
        }
        if raw.listen.is_empty() {
            return Err(err("listen", "no [[listen]] table: add one, such as address = \"udp://127.0.0.1:25224\" with input = \"syslog\"".into()));
        }
        let mut listen = Vec::new();
        for (i, l) in raw.listen.into_iter().enumerate() {
            let key = format!("listen[{i}]");
            let address = l.address.ok_or_else(|| {
                err(
                    &format!("{key}.address"),
                    "missing; add address = \"udp://127.0.0.1:25224\"".into(),
                )
            })?;
            let address = parse_address(&address).map_err(|m| err(&format!("{key}.address"), m))?;
            if listen.iter().any(|x: &Listen| x.address == address) {
                return Err(err(
                    &format!("{key}.address"),
                    format!("{address} is configured twice"),
                ));
            }
            let input = l.input.ok_or_else(|| {
                err(
                    &format!("{key}.input"),
                    "missing; name the decoder plugin, such as input = \"syslog\"".into(),
                )
            })?;
            listen.push(Listen {
                address,
                input,
                options_json: options_json(l.options),
                origin: file.clone(),
            });
        }
        let plugin_ref = |p: RawPlugin, key: String| -> Result<PluginRef, ConfigError> {
            let plugin = p.plugin.ok_or_else(|| {
                err(
                    &format!("{key}.plugin"),
                    "missing; name the plugin, such as plugin = \"select\"".into(),
                )
            })?;
            Ok(PluginRef {
                plugin,
                options_json: options_json(p.options),
                origin: file.clone(),
                key,
            })
        };
        let filters = raw
            .filter
            .into_iter()
            .enumerate()
            .map(|(i, f)| plugin_ref(f, format!("filter[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let output = raw
            .output
            .ok_or_else(|| err("output", "no [output] table: add one, such as plugin = \"file\" with path = \"records.jsonl\"".into()))?;
        let output = plugin_ref(output, "output".into())?;

        Ok(Config {
            file: path.to_path_buf(),
            config_dir: dir.to_path_buf(),
            state_dir: resolve(dir, &raw.state_dir),
            plugin_dir: resolve(dir, &raw.plugin_dir),
            hostname: raw.hostname,
            workers,
            max_message_size: raw.max_message_size,
            max_connections: raw.max_connections,
            idle_timeout: Duration::from_secs(raw.idle_timeout_secs.max(1)),
            shutdown_timeout: Duration::from_secs(raw.shutdown_timeout_secs),
            stall_timeout: Duration::from_secs(raw.stall_timeout_secs),
            batch_max_bytes: raw.batch_max_bytes,
            queue_batches: raw.queue_batches,
            udp_receive_buffer: raw.udp_receive_buffer,
            journal_max_bytes: raw.journal_max_bytes,
            when_full,
            fsync,
            listen,
            filters,
            output,
        })
    }
}

#[cfg(test)]
mod tests;
