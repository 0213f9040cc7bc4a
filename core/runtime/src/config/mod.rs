//! The configuration file: TOML, unknown keys refused, relative paths resolved
//! against the file's directory, every error naming the file (the drop-in, when
//! the part came from one), the line, the section, the key and the fix.
//!
//! Each `[[listen]]`, `[[filter]]` and `[output]` table passes its keys other than
//! `address`/`input`/`plugin` (and a unix socket's `socket_mode`/`socket_group`)
//! to its plugin as a JSON object.

use crate::journal::{Fsync, WhenFull};
use raw::{RawConfig, RawListen, RawPlugin};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

mod address;
pub(crate) mod diff;
mod drop_in;
pub(crate) mod embedded;
pub(crate) mod explain;
pub(crate) mod keys;
mod permissions;
mod raw;
mod settings;
mod source;

pub(crate) use address::{parse_socket_address, ListenAddress, UnixSocket};
pub(crate) use embedded::EMBEDDED;
pub(crate) use explain::{escape, Section};
pub(crate) use settings::{JournalSettings, ListenerSettings, PipelineSettings};
use source::Sources;

/// A configuration error, shown to the operator as `file: line N: key: message`.
#[derive(Debug, thiserror::Error)]
pub(crate) struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    /// What the error is about: a top-level key, or a section and a key in it
    /// (`[[listen]] 2 address`); empty for the file as a whole.
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", escape(&self.file))?;
        if let Some(line) = self.line {
            write!(f, ": line {line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", escape(&self.key))?;
        }
        write!(f, ": {}", escape(&self.message))
    }
}

/// One `[[listen]]`: where to listen and which decoder plugin reads it.
#[derive(Debug, Clone)]
pub(crate) struct Listen {
    pub address: ListenAddress,
    pub input: String,
    /// The decoder's config as a JSON object.
    pub options_json: String,
    /// Mode and group of a `unix://` or `unixstream://` socket.
    pub unix: UnixSocket,
    pub section: Section,
}

/// One plugin reference with its JSON config.
#[derive(Debug, Clone)]
pub(crate) struct PluginRef {
    pub plugin: String,
    pub options_json: String,
    /// Where it came from, for messages: `[[filter]] 2`, `[output]`.
    pub section: Section,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub file: PathBuf,
    pub config_dir: PathBuf,
    pub state_dir: PathBuf,
    pub plugin_dir: PathBuf,
    pub hostname: Option<String>,
    /// What the sockets are opened with.
    pub listeners: ListenerSettings,
    pub journal: JournalSettings,
    pub pipeline: PipelineSettings,
    pub listen: Vec<Listen>,
    pub filters: Vec<PluginRef>,
    pub output: PluginRef,
    /// The files it was read from, to place messages about it.
    sources: Arc<Sources>,
}

fn resolve(dir: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
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

/// The section and key a serde path points at (`listen[1].address`).
fn path_parts(path: &serde_path_to_error::Path) -> (Option<Section>, Option<String>) {
    use serde_path_to_error::Segment;
    let mut section = None;
    let mut key = None;
    let mut segments = path.iter().peekable();
    while let Some(segment) = segments.next() {
        match segment {
            Segment::Map { key: k } if section.is_none() && key.is_none() => {
                let name = source::ARRAYS
                    .iter()
                    .chain(source::TABLES.iter())
                    .find(|n| **n == k.as_str());
                match (name, segments.peek()) {
                    (Some(name), Some(Segment::Seq { index })) => {
                        section = Some(Section {
                            name,
                            index: *index,
                        });
                        segments.next();
                    }
                    (Some(name), _) if source::TABLES.contains(name) => {
                        section = Some(Section { name, index: 0 });
                    }
                    _ => key = Some(k.clone()),
                }
            }
            Segment::Map { key: k } if key.is_none() => key = Some(k.clone()),
            _ => {}
        }
    }
    (section, key)
}

impl Config {
    /// Reads and validates a configuration file and its `conf.d/` drop-ins;
    /// [`EMBEDDED`] reads the configuration compiled into the agent.
    pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
        if path == Path::new(EMBEDDED) {
            return embedded::load();
        }
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            line: None,
            key: String::new(),
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
        let mut drop_ins = Vec::new();
        for f in drop_in::files(&dir)? {
            let more = std::fs::read_to_string(&f).map_err(|e| ConfigError {
                file: f.display().to_string(),
                line: None,
                key: String::new(),
                message: format!("cannot read the drop-in file: {e}"),
            })?;
            drop_ins.push((f, more));
        }
        let files: Vec<&Path> = drop_ins.iter().map(|(f, _)| f.as_path()).collect();
        for warning in permissions::check(path, &dir, &files) {
            tracing::warn!("{warning}");
        }
        let sources = Sources::new((path, &text), &drop_ins)?;
        Config::from_sources(sources, path, &dir)
    }

    /// Validates configuration text; `dir` resolves relative paths.
    pub(crate) fn parse(text: &str, path: &Path, dir: &Path) -> Result<Config, ConfigError> {
        Config::from_sources(Sources::new((path, text), &[])?, path, dir)
    }

    /// A message about `key` in `section`, placed in its file and line.
    fn error_at(
        &self,
        section: Option<Section>,
        key: Option<&str>,
        message: String,
    ) -> ConfigError {
        error_in(&self.sources, section, key, message)
    }

    /// A plugin's own configuration error, placed: the file (the drop-in the
    /// section came from), the line, the section, the plugin, the key, and the
    /// valid keys in the operator's words.
    pub(crate) fn plugin_error(&self, section: Section, plugin: &str, message: &str) -> String {
        if let Some(placed) = self.table_key_error(section, plugin, message) {
            return placed;
        }
        let host_keys: &[&str] = match section.name {
            "listen" => &["address", "input"],
            _ => &["plugin"],
        };
        let (message, key) = explain::serde_message(message, host_keys);
        let place = self.error_at(Some(section), key.as_deref(), message);
        let key = key.map(|k| format!(" {k}")).unwrap_or_default();
        ConfigError {
            key: format!("{section} ({plugin}){key}"),
            ..place
        }
        .to_string()
    }

    /// A plugin's message that starts with the path of a key of a table section
    /// (`auth.method: …`, `auth: unknown field …`, `keep: …`), placed at that key:
    /// in `[output.auth]` when the path starts with a table inside the section,
    /// whose valid keys are then the plugin's only. `None` for other messages.
    fn table_key_error(&self, section: Section, plugin: &str, message: &str) -> Option<String> {
        if !source::TABLES.contains(&section.name) {
            return None;
        }
        let (path, rest) = explain::leading_path(message.trim())?;
        let (table, key, rest) = match path.as_slice() {
            [sub, key @ ..] if self.sources.has(section.name, sub, true) => {
                let (rest, unknown) = explain::serde_message(rest, &[]);
                let key = match key {
                    [] => unknown,
                    _ => Some(key.join(".")),
                };
                (format!("{}.{sub}", section.name), key, rest)
            }
            [key] if self.sources.has(section.name, key, false) => {
                let (rest, _) = explain::serde_message(rest, &[]);
                (section.name.to_string(), Some(key.to_string()), rest)
            }
            _ => return None,
        };
        let at = self.sources.locate(Some((&table, 0)), key.as_deref());
        Some(
            ConfigError {
                file: at.file,
                line: at.line,
                key: format!(
                    "[{table}] ({plugin}){}",
                    key.map(|k| format!(" {k}")).unwrap_or_default()
                ),
                message: rest,
            }
            .to_string(),
        )
    }

    /// A message about a section as a whole (`[output] (azure): ...`).
    pub(crate) fn section_error(&self, section: Section, plugin: &str, message: &str) -> String {
        ConfigError {
            key: format!("{section} ({plugin})"),
            ..self.error_at(Some(section), None, explain::escape(message))
        }
        .to_string()
    }

    /// A message about a key of a `[[listen]]` (the runtime's own, such as `address`).
    pub(crate) fn listen_error(&self, section: Section, key: &str, message: &str) -> String {
        self.error_at(Some(section), Some(key), explain::escape(message))
            .to_string()
    }

    /// A message about a top-level key.
    pub(crate) fn key_error(&self, key: &str, message: &str) -> String {
        self.error_at(None, Some(key), message.to_string())
            .to_string()
    }

    fn from_sources(mut sources: Sources, path: &Path, dir: &Path) -> Result<Config, ConfigError> {
        let merged = std::mem::take(&mut sources.merged);
        let sources = Arc::new(sources);
        let err = |section: Option<Section>, key: &str, message: String| {
            error_in(&sources, section, Some(key), message)
        };
        let raw: RawConfig =
            serde_path_to_error::deserialize(toml::Value::Table(merged)).map_err(|e| {
                let (section, key) = path_parts(e.path());
                let (message, named) = explain::serde_message(e.inner().message(), &[]);
                let key = named.or(key);
                let message = match (&key, section) {
                    (Some(k), None) if message.starts_with("missing key") => {
                        format!("{message}; {}", explain::example(k).unwrap_or("add it"))
                    }
                    _ => message,
                };
                error_in(&sources, section, key.as_deref(), message)
            })?;
        let top = |key: &str, message: String| err(None, key, message);

        if raw.max_message_size < 480 || raw.max_message_size > 16 * 1024 * 1024 {
            return Err(top(
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
            return Err(top(
                "workers",
                format!("{workers} is out of range; use 1 to 64"),
            ));
        }
        if raw.max_connections == 0 {
            return Err(top("max_connections", "must be at least 1".into()));
        }
        if raw.stall_timeout_secs == 0 || raw.stall_timeout_secs > 86_400 {
            return Err(top(
                "stall_timeout_secs",
                format!("{} is out of range; use 1 to 86400 seconds (longer than the output's own request timeout)", raw.stall_timeout_secs),
            ));
        }
        if raw.queue_batches == 0 {
            return Err(top("queue_batches", "must be at least 1".into()));
        }
        if raw.batch_max_bytes.is_some_and(|n| n < 1024) {
            return Err(top("batch_max_bytes", "must be at least 1024".into()));
        }
        let when_full = match raw.when_full.as_str() {
            "block" => WhenFull::Block,
            "drop_oldest" => WhenFull::DropOldest,
            other => {
                return Err(top(
                    "when_full",
                    format!("`{other}` is not a choice; use \"block\" or \"drop_oldest\""),
                ))
            }
        };
        let fsync = parse_fsync(&raw.fsync).map_err(|m| top("fsync", m))?;
        if raw.journal_max_bytes < 1 << 20 {
            return Err(top(
                "journal_max_bytes",
                format!(
                    "{} is too small; use at least 1048576 (1 MiB)",
                    raw.journal_max_bytes
                ),
            ));
        }
        let metrics_address = raw
            .metrics_address
            .as_deref()
            .map(parse_socket_address)
            .transpose()
            .map_err(|m| top("metrics_address", m))?;
        if raw.listen.is_empty() {
            return Err(top("listen", "no [[listen]] table: add one, such as address = \"udp://127.0.0.1:25224\" with input = \"syslog\"".into()));
        }
        let mut listen = Vec::new();
        for (index, l) in raw.listen.into_iter().enumerate() {
            let section = Section {
                name: "listen",
                index,
            };
            let lerr = |key: &str, message: String| err(Some(section), key, message);
            let RawListen {
                address,
                input,
                socket_mode,
                socket_group,
                options,
            } = l;
            let required = ["address", "input"];
            let address = address.ok_or_else(|| {
                missing(&options, "address", &required, "add address = \"udp://127.0.0.1:25224\" (udp://, tcp://, relp://, unix:// or unixstream://)", &lerr)
            })?;
            let address = address::parse(&address).map_err(|m| lerr("address", m))?;
            if let Some(first) = listen.iter().find(|x: &&Listen| x.address == address) {
                return Err(lerr(
                    "address",
                    format!("{address} is configured twice (also in {})", first.section),
                ));
            }
            let input = input.ok_or_else(|| {
                missing(
                    &options,
                    "input",
                    &required,
                    "name the decoder plugin, such as input = \"syslog\"",
                    &lerr,
                )
            })?;
            let is_unix = matches!(
                address,
                ListenAddress::Unix(_) | ListenAddress::UnixStream(_)
            );
            let mut unix = UnixSocket::default();
            if let Some(mode) = socket_mode {
                if !is_unix {
                    return Err(lerr(
                        "socket_mode",
                        "applies only to unix:// and unixstream:// listeners; remove it".into(),
                    ));
                }
                unix.mode = address::parse_mode(&mode).map_err(|m| lerr("socket_mode", m))?;
            }
            if let Some(group) = socket_group {
                if !is_unix {
                    return Err(lerr(
                        "socket_group",
                        "applies only to unix:// and unixstream:// listeners; remove it".into(),
                    ));
                }
                unix.group = Some(group);
            }
            listen.push(Listen {
                address,
                input,
                options_json: options_json(options),
                unix,
                section,
            });
        }
        let plugin_ref = |p: RawPlugin, section: Section| -> Result<PluginRef, ConfigError> {
            let RawPlugin { plugin, options } = p;
            let plugin = plugin.ok_or_else(|| {
                let example = if section.name == "output" {
                    "name the output plugin, such as plugin = \"file\" or plugin = \"azure\""
                } else {
                    "name the filter plugin, such as plugin = \"select\""
                };
                missing(
                    &options,
                    "plugin",
                    &["plugin"],
                    example,
                    &|key: &str, message: String| err(Some(section), key, message),
                )
            })?;
            Ok(PluginRef {
                plugin,
                options_json: options_json(options),
                section,
            })
        };
        let filters = raw
            .filter
            .into_iter()
            .enumerate()
            .map(|(index, f)| {
                plugin_ref(
                    f,
                    Section {
                        name: "filter",
                        index,
                    },
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = raw.output.ok_or_else(|| {
            top("output", "no [output] table: add one, such as plugin = \"file\" with path = \"records.jsonl\"".into())
        })?;
        let output = plugin_ref(
            output,
            Section {
                name: "output",
                index: 0,
            },
        )?;

        let state_dir = resolve(dir, &raw.state_dir);
        let plugin_dir = resolve(dir, &raw.plugin_dir);
        for (key, p) in [("state_dir", &state_dir), ("plugin_dir", &plugin_dir)] {
            if p.exists() && !p.is_dir() {
                return Err(top(
                    key,
                    format!(
                        "{} is not a directory; point {key} at a directory{}",
                        p.display(),
                        if key == "state_dir" {
                            " (it is created when missing)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
        Ok(Config {
            file: path.to_path_buf(),
            config_dir: dir.to_path_buf(),
            state_dir,
            plugin_dir,
            hostname: raw.hostname,
            listeners: ListenerSettings {
                max_message_size: raw.max_message_size,
                max_connections: raw.max_connections,
                idle_timeout: Duration::from_secs(raw.idle_timeout_secs.max(1)),
                udp_receive_buffer: raw.udp_receive_buffer,
                tcp_receive_buffer: raw.tcp_receive_buffer,
                metrics_address,
            },
            journal: JournalSettings {
                max_bytes: raw.journal_max_bytes,
                when_full,
                fsync,
            },
            pipeline: PipelineSettings {
                workers,
                queue_batches: raw.queue_batches,
                batch_max_bytes: raw.batch_max_bytes,
                shutdown_timeout: Duration::from_secs(raw.shutdown_timeout_secs),
                stall_timeout: Duration::from_secs(raw.stall_timeout_secs),
            },
            listen,
            filters,
            output,
            sources,
        })
    }
}

/// A message placed in the file and line of `key` in `section`.
fn error_in(
    sources: &Sources,
    section: Option<Section>,
    key: Option<&str>,
    message: String,
) -> ConfigError {
    let at = sources.locate(section.map(|s| (s.name, s.index)), key);
    let key = match (section, key) {
        (Some(s), Some(k)) => format!("{s} {k}"),
        (Some(s), None) => s.to_string(),
        (None, Some(k)) => k.to_string(),
        (None, None) => String::new(),
    };
    ConfigError {
        file: at.file,
        line: at.line,
        key,
        message,
    }
}

/// A required key is missing: a near miss among the keys given is named as the
/// unknown key it is; otherwise says what to add.
fn missing(
    options: &toml::Table,
    key: &str,
    valid: &[&str],
    advice: &str,
    err: &dyn Fn(&str, String) -> ConfigError,
) -> ConfigError {
    let near = options
        .keys()
        .find(|given| explain::closest(given, [key]).is_some());
    match near {
        Some(given) => err(
            given,
            format!(
                "unknown key `{}` (did you mean `{key}`?); every such section needs {}",
                explain::escape(given),
                valid.join(" and ")
            ),
        ),
        None => err(key, format!("missing key `{key}`; {advice}")),
    }
}

#[cfg(test)]
mod tests;
