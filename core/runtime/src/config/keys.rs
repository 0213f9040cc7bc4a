//! Every key the runtime itself reads, declared once: its type, its default (the
//! same function serde fills the key with, see [`super::raw`]), what a SIGHUP
//! reload does with it, and what it means. The configuration reference of the
//! book (`docs/src/reference/configuration.md`) is generated from this table, and
//! the tests below hold the table to the code: every key of [`super::raw::RawConfig`]
//! is here and nothing else, every example is accepted, and the reload column is
//! what [`super::diff`] and [`crate::agent::prepare`] decide.
//!
//! A plugin's own keys (`[[listen]]` keys besides the ones below, `[[filter]]`
//! and `[output]` keys besides `plugin`) belong to the plugin.

use super::raw::defaults;

/// What a SIGHUP reload does when the key changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reload {
    /// The new value is used from the reload on; the sockets stay open.
    Applies,
    /// The new value is used from the reload on; the listeners are reopened.
    ReopensSockets,
    /// The reload is refused; the service must be restarted.
    NeedsRestart,
}

impl Reload {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Reload::Applies => "applied; sockets stay open",
            Reload::ReopensSockets => "applied; listeners reopened",
            Reload::NeedsRestart => "refused: restart the service",
        }
    }
}

/// A key's value when the file does not give it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Default {
    /// The key must be given.
    Required,
    /// Unset, which means what the text says.
    Unset(&'static str),
    /// This value.
    Value(fn() -> toml::Value),
}

/// One key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key {
    pub name: &'static str,
    /// `integer`, `string` or `path` (a string; relative paths resolve against
    /// the configuration file's directory).
    pub kind: &'static str,
    pub default: Default,
    pub reload: Reload,
    /// What it does, in one paragraph of Markdown.
    pub doc: &'static str,
    /// A valid value other than the default, as TOML.
    pub example: &'static str,
}

fn int(n: impl TryInto<i64>) -> toml::Value {
    toml::Value::Integer(n.try_into().unwrap_or(i64::MAX))
}

/// The top-level keys, in the order the reference lists them.
pub(crate) const TOP_LEVEL: &[Key] = &[
    Key {
        name: "state_dir",
        kind: "path",
        default: Default::Required,
        reload: Reload::NeedsRestart,
        doc: "Where the agent keeps its state: the journal (`journal/`), dead letters (`dead-letter/`), the lock, the format marker and the stats socket (`syslane.sock`). Created when missing; everything in it is created 0600 in 0700 directories. One agent per `state_dir`.",
        example: "\"/var/lib/syslane\"",
    },
    Key {
        name: "plugin_dir",
        kind: "path",
        default: Default::Required,
        reload: Reload::Applies,
        doc: "The directory the plugins are loaded from, built-in and third-party alike (`/usr/lib/syslane/plugins` in the packages, `target/release` in a source build). A directory or file there that is writable by group or others, or owned by anyone but root or the agent's user, is refused.",
        example: "\"/usr/lib/syslane/plugins\"",
    },
    Key {
        name: "hostname",
        kind: "string",
        default: Default::Unset("the system's host name"),
        reload: Reload::Applies,
        doc: "This host's name as records and plugins see it: `CollectorHostName`, and `Computer` and `HostName` of messages from local senders.",
        example: "\"collector1\"",
    },
    Key {
        name: "workers",
        kind: "integer",
        default: Default::Unset("the number of cores, at most 8"),
        reload: Reload::Applies,
        doc: "Pipeline threads: each runs decoders, filters and the journal append for the connections assigned to it. 1 to 64.",
        example: "3",
    },
    Key {
        name: "max_message_size",
        kind: "integer (bytes)",
        default: Default::Value(|| int(defaults::max_message_size())),
        reload: Reload::ReopensSockets,
        doc: "The longest message taken; longer ones are cut and marked `Truncated`. 480 to 16777216. Raise the syslog daemon's own limit to match (rsyslog's `maxMessageSize`, syslog-ng's `log_msg_size()`).",
        example: "131072",
    },
    Key {
        name: "max_connections",
        kind: "integer",
        default: Default::Value(|| int(defaults::max_connections())),
        reload: Reload::ReopensSockets,
        doc: "Open connections per TCP, RELP or unix stream listener. At the limit, the connection longest without a complete message is closed to admit a new one (`syslane_connections_evicted_total`).",
        example: "4096",
    },
    Key {
        name: "idle_timeout_secs",
        kind: "integer (seconds)",
        default: Default::Value(|| int(defaults::idle_timeout_secs())),
        reload: Reload::ReopensSockets,
        doc: "A TCP or RELP connection that completes no message within this is closed (idle or trickling), as is a RELP peer that does not read its answers within it (`syslane_connections_timed_out_total`).",
        example: "600",
    },
    Key {
        name: "shutdown_timeout_secs",
        kind: "integer (seconds)",
        default: Default::Value(|| int(defaults::shutdown_timeout_secs())),
        reload: Reload::Applies,
        doc: "At SIGTERM, how long the agent may take to deliver what is queued; what is not delivered by then stays journaled for the next start.",
        example: "60",
    },
    Key {
        name: "stall_timeout_secs",
        kind: "integer (seconds)",
        default: Default::Value(|| int(defaults::stall_timeout_secs())),
        reload: Reload::Applies,
        doc: "A pipeline stage (worker, shipper, journal sync) silent this long is wedged: `STATUS=` says which, and the systemd watchdog stops being petted, so systemd restarts the agent. 1 to 86400; keep it above the output's own request timeout.",
        example: "300",
    },
    Key {
        name: "batch_max_bytes",
        kind: "integer (bytes)",
        default: Default::Unset(
            "what the output asks for (azure: twice what `max_concurrent_requests` requests carry), else 1048576",
        ),
        reload: Reload::Applies,
        doc: "The largest batch handed to the output. At least 1024.",
        example: "7750000",
    },
    Key {
        name: "queue_batches",
        kind: "integer",
        default: Default::Value(|| int(defaults::queue_batches())),
        reload: Reload::Applies,
        doc: "Depth of the queues between the listeners and the workers, in batches (one batch per socket read), shared among the workers (at least 4 each). A full queue stops TCP, RELP and unix stream connections reading; datagrams are then dropped and counted.",
        example: "128",
    },
    Key {
        name: "journal_max_bytes",
        kind: "integer (bytes)",
        default: Default::Value(|| int(defaults::journal_max_bytes())),
        reload: Reload::Applies,
        doc: "Unsent records kept on disk in `state_dir/journal/`; at the limit, `when_full` applies. At least 1048576.",
        example: "4294967296",
    },
    Key {
        name: "when_full",
        kind: "string",
        default: Default::Value(|| toml::Value::String(defaults::when_full())),
        reload: Reload::Applies,
        doc: "What a full journal does: `\"block\"` pauses TCP and RELP senders (they keep their own queues) and drops UDP and unix datagrams after 200 ms, counted; `\"drop_oldest\"` deletes the oldest segment (counted, logged).",
        example: "\"drop_oldest\"",
    },
    Key {
        name: "fsync",
        kind: "string",
        default: Default::Value(|| toml::Value::String(defaults::fsync())),
        reload: Reload::Applies,
        doc: "`\"batch\"`: journaled records reach the disk before the output sees them and before RELP answers `200 OK`. Or an interval from `\"1ms\"` to `\"60s\"`, such as `\"200ms\"`: faster, and a crash may lose that much.",
        example: "\"200ms\"",
    },
    Key {
        name: "udp_receive_buffer",
        kind: "integer (bytes)",
        default: Default::Value(|| int(defaults::udp_receive_buffer())),
        reload: Reload::ReopensSockets,
        doc: "`SO_RCVBUF` asked for UDP and unix datagram sockets; the kernel caps it at `net.core.rmem_max`. Datagrams the kernel drops at a full buffer are counted in `syslane_udp_receive_buffer_drops_total`.",
        example: "16777216",
    },
    Key {
        name: "tcp_receive_buffer",
        kind: "integer (bytes)",
        default: Default::Value(|| int(0)),
        reload: Reload::ReopensSockets,
        doc: "`SO_RCVBUF` of TCP and RELP connections; 0 leaves the buffer to the kernel's autotuning (up to `net.ipv4.tcp_rmem`'s maximum, 6 MiB by default). While journal writes fail, a connection stops reading and its sender's bytes wait in this buffer and in the sender's own; a kill -9 then loses them. A smaller value bounds that loss; see the book's chaos page for the measurement.",
        example: "262144",
    },
    Key {
        name: "metrics_address",
        kind: "string (address:port)",
        default: Default::Unset("off"),
        reload: Reload::ReopensSockets,
        doc: "Serves `GET /metrics` over HTTP in the Prometheus text format at this address. An address other than loopback is allowed and logged as a warning at start.",
        example: "\"127.0.0.1:9514\"",
    },
];

/// The keys of a `[[listen]]`, `[[filter]]` or `[output]` table that the runtime
/// reads itself: (table, key). Every other key of the table goes to its plugin.
pub(crate) const SECTION: &[(&str, Key)] = &[
    (
        "[[listen]]",
        Key {
            name: "address",
            kind: "string (URL)",
            default: Default::Required,
            reload: Reload::ReopensSockets,
            doc: "Where to listen: `udp://`, `tcp://` (LF- or NUL-delimited and octet-counted framing, told apart per message), `relp://`, `unix://` (a datagram socket) or `unixstream://`, such as `\"udp://127.0.0.1:25224\"` or `\"unix:///run/syslane/syslog.sock\"`. Port 0 lets the system pick one, which the log names. An address that is not this host's cannot be bound (`check-config` says so).",
            example: "\"tcp://127.0.0.1:25224\"",
        },
    ),
    (
        "[[listen]]",
        Key {
            name: "input",
            kind: "string",
            default: Default::Required,
            reload: Reload::Applies,
            doc: "The decoder plugin that reads what arrives, such as `\"syslog\"` or `\"cef\"`. The table's other keys are its configuration.",
            example: "\"cef\"",
        },
    ),
    (
        "[[listen]]",
        Key {
            name: "socket_mode",
            kind: "string (octal)",
            default: Default::Value(|| toml::Value::String("0666".into())),
            reload: Reload::ReopensSockets,
            doc: "Permissions of a `unix://` or `unixstream://` socket file (any local user may send by default, as with a loopback port). Refused on other listeners.",
            example: "\"0660\"",
        },
    ),
    (
        "[[listen]]",
        Key {
            name: "socket_group",
            kind: "string",
            default: Default::Unset("the agent's group"),
            reload: Reload::ReopensSockets,
            doc: "Group of a `unix://` or `unixstream://` socket file; the agent's user must be in it (`SupplementaryGroups=` in a systemd drop-in). Refused on other listeners.",
            example: "\"syslog\"",
        },
    ),
    (
        "[[filter]]",
        Key {
            name: "plugin",
            kind: "string",
            default: Default::Required,
            reload: Reload::Applies,
            doc: "The filter plugin, such as `\"select\"`, `\"redact\"` or `\"enrich\"`; filters run in the order of their tables. The table's other keys are its configuration.",
            example: "\"redact\"",
        },
    ),
    (
        "[output]",
        Key {
            name: "plugin",
            kind: "string",
            default: Default::Required,
            reload: Reload::Applies,
            doc: "The output plugin, `\"azure\"` or `\"file\"`; exactly one `[output]`. The table's other keys (and `[output.auth]`) are its configuration.",
            example: "\"azure\"",
        },
    ),
];

impl Key {
    /// The default as the reference shows it.
    pub(crate) fn default_text(&self) -> String {
        match self.default {
            Default::Required => "required".into(),
            Default::Unset(meaning) => format!("unset: {meaning}"),
            Default::Value(value) => format!("`{}`", value()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diff::Diff;
    use crate::config::Config;
    use std::path::Path;

    const BASE: &str = "state_dir = \"state\"\nplugin_dir = \"plugins\"\n";
    const TABLES: &str = "[[listen]]\naddress = \"unix:///run/syslane/a.sock\"\ninput = \"syslog\"\n[[filter]]\nplugin = \"select\"\n[output]\nplugin = \"file\"\npath = \"records.jsonl\"\n";

    fn parse(text: &str) -> Config {
        Config::parse(
            text,
            Path::new("/etc/syslane/syslane.toml"),
            Path::new("/etc/syslane"),
        )
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// Every field of the raw configuration is declared, and nothing else: serde's
    /// refusal of an unknown key lists the fields it knows.
    #[test]
    fn every_top_level_key_is_declared_once() {
        let Err(e) = toml::from_str::<super::super::raw::RawConfig>("zzz = 1") else {
            panic!("an unknown key was accepted");
        };
        let message = e.to_string();
        let known = message
            .split("expected one of ")
            .nth(1)
            .unwrap_or_else(|| panic!("{message}"));
        let mut fields: Vec<&str> = known
            .split(',')
            .map(|f| f.trim().trim_matches(|c| c == '`' || c == '\n' || c == ' '))
            .filter(|f| !["listen", "filter", "output"].contains(f))
            .collect();
        let mut declared: Vec<&str> = TOP_LEVEL.iter().map(|k| k.name).collect();
        fields.sort_unstable();
        declared.sort_unstable();
        assert_eq!(fields, declared);
    }

    /// A default is of the declared kind, every example is accepted, and changing
    /// a key does on reload what the table says.
    #[test]
    fn the_reload_column_is_what_a_reload_does() {
        let base = parse(&format!("{BASE}{TABLES}"));
        for key in TOP_LEVEL {
            if let Default::Value(value) = key.default {
                let value = value();
                let kind = if key.kind.starts_with("integer") {
                    "integer"
                } else {
                    "string"
                };
                assert_eq!(value.type_str(), kind, "{}", key.name);
            }
            if key.reload == Reload::NeedsRestart {
                continue;
            }
            let text = BASE
                .lines()
                .filter(|l| !l.starts_with(key.name))
                .map(|l| format!("{l}\n"))
                .collect::<String>();
            let new = parse(&format!("{text}{} = {}\n{TABLES}", key.name, key.example));
            let diff = Diff::new(&base, &new);
            assert!(!diff.changed.is_empty(), "{}: no change seen", key.name);
            assert_eq!(
                diff.keep_sockets,
                key.reload == Reload::Applies,
                "{}: {:?}",
                key.name,
                diff
            );
        }
        for (table, key) in SECTION {
            let line = format!("{} = {}", key.name, key.example);
            let edited = match *table {
                "[[listen]]" if key.name == "address" => {
                    TABLES.replace("address = \"unix:///run/syslane/a.sock\"", &line)
                }
                "[[listen]]" if key.name == "input" => TABLES.replace("input = \"syslog\"", &line),
                "[[listen]]" => {
                    TABLES.replace("input = \"syslog\"", &format!("input = \"syslog\"\n{line}"))
                }
                "[[filter]]" => TABLES.replace("plugin = \"select\"", &line),
                _ => TABLES.replace("plugin = \"file\"", &line),
            };
            let new = parse(&format!("{BASE}{edited}"));
            let diff = Diff::new(&base, &new);
            assert!(
                !diff.changed.is_empty(),
                "{table} {}: no change seen",
                key.name
            );
            assert_eq!(
                diff.keep_sockets,
                key.reload == Reload::Applies,
                "{table} {}: {diff:?}",
                key.name
            );
        }
    }

    /// A plugin's own keys are applied by a reload with the sockets open: the
    /// plugins' instances are created anew.
    #[test]
    fn a_reload_applies_plugin_keys_with_the_sockets_open() {
        let base = parse(&format!("{BASE}{TABLES}"));
        for (old, new) in [
            (
                "input = \"syslog\"",
                "input = \"syslog\"\ntimezone = \"UTC\"",
            ),
            (
                "plugin = \"select\"",
                "plugin = \"select\"\nmin_severity = \"info\"",
            ),
            ("path = \"records.jsonl\"", "path = \"other.jsonl\""),
        ] {
            let new = parse(&format!("{BASE}{}", TABLES.replace(old, new)));
            let diff = Diff::new(&base, &new);
            assert!(
                diff.keep_sockets && diff.changed.len() == 1,
                "{old}: {diff:?}"
            );
        }
    }

    /// `state_dir` is the key a reload refuses.
    #[test]
    fn a_reload_refuses_a_new_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        let running = parse(&format!("{BASE}{TABLES}"));
        let path = dir.path().join("syslane.toml");
        let other = TOP_LEVEL.iter().find(|k| k.name == "state_dir").unwrap();
        assert_eq!(other.reload, Reload::NeedsRestart);
        std::fs::write(
            &path,
            format!(
                "state_dir = {}\nplugin_dir = \"plugins\"\n{TABLES}",
                other.example
            ),
        )
        .unwrap();
        let metrics = std::sync::Arc::default();
        let Err(e) = crate::agent::prepare(&path, &running, &metrics) else {
            panic!("a new state_dir was taken by a reload");
        };
        assert!(e.contains("state_dir: cannot change while running"), "{e}");
    }
}
