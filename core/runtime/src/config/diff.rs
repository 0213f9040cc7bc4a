//! What a reload changes. Settings come in groups that compare whole
//! ([`ListenerSettings`], [`JournalSettings`], [`PipelineSettings`]), so a setting
//! added to a group is compared without anyone remembering to list it here.
//!
//! The sockets stay open when every listener has the same address and socket file
//! settings, in the same order (decoders are chosen by position), and the
//! listener settings and the metrics address are unchanged; otherwise they are
//! reopened. Everything behind the sockets is rebuilt on every reload.

use super::{Config, Listen, PluginRef};

/// How a new configuration differs from the running one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diff {
    /// The running sockets fit the new configuration.
    pub keep_sockets: bool,
    /// The top-level keys and tables that differ, for the log: `listen`,
    /// `filter`, `output`, `settings`.
    pub changed: Vec<&'static str>,
}

/// What decides a listener's socket: its address and its socket file's settings.
fn socket(l: &Listen) -> (&super::ListenAddress, &super::UnixSocket) {
    (&l.address, &l.unix)
}

/// A listener as the log reports it: the socket and the decoder with its options.
fn listener(l: &Listen) -> (&super::ListenAddress, &super::UnixSocket, &str, &str) {
    (&l.address, &l.unix, &l.input, &l.options_json)
}

fn plugin(p: &PluginRef) -> (&str, &str) {
    (&p.plugin, &p.options_json)
}

impl Diff {
    pub(crate) fn new(old: &Config, new: &Config) -> Diff {
        let keep_sockets = old
            .listen
            .iter()
            .map(socket)
            .eq(new.listen.iter().map(socket))
            && old.listeners == new.listeners;
        let mut changed = Vec::new();
        if !old
            .listen
            .iter()
            .map(listener)
            .eq(new.listen.iter().map(listener))
        {
            changed.push("listen");
        }
        if !old
            .filters
            .iter()
            .map(plugin)
            .eq(new.filters.iter().map(plugin))
        {
            changed.push("filter");
        }
        if plugin(&old.output) != plugin(&new.output) {
            changed.push("output");
        }
        if old.listeners != new.listeners
            || old.journal != new.journal
            || old.pipeline != new.pipeline
            || old.hostname != new.hostname
            || old.plugin_dir != new.plugin_dir
        {
            changed.push("settings");
        }
        Diff {
            keep_sockets,
            changed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{JournalSettings, ListenerSettings, PipelineSettings, UnixSocket};
    use crate::journal::{Fsync, WhenFull};
    use std::path::Path;
    use std::time::Duration;

    /// A named change to a copy of the configuration or a part of it.
    type Change<T> = (&'static str, fn(&mut T));

    const BASE: &str = r#"
state_dir  = "state"
plugin_dir = "plugins"
[[listen]]
address = "udp://127.0.0.1:25224"
input   = "syslog"
[[listen]]
address = "unix:///run/syslane/dev-log"
input   = "syslog"
[output]
plugin = "file"
path   = "records.jsonl"
"#;

    fn base() -> Config {
        Config::parse(
            BASE,
            Path::new("/etc/syslane/syslane.toml"),
            Path::new("/etc/syslane"),
        )
        .unwrap()
    }

    /// The diff after `change` is applied to a copy of the base configuration.
    fn after(change: impl FnOnce(&mut Config)) -> Diff {
        let old = base();
        let mut new = old.clone();
        change(&mut new);
        Diff::new(&old, &new)
    }

    #[test]
    fn the_same_configuration_changes_nothing() {
        assert_eq!(
            after(|_| {}),
            Diff {
                keep_sockets: true,
                changed: vec![]
            }
        );
    }

    /// Every listener setting reopens the sockets. The destructuring below stops
    /// compiling when a field is added, so a new setting gets a line here.
    #[test]
    fn every_listener_setting_reopens_the_sockets() {
        let ListenerSettings {
            max_message_size: _,
            max_connections: _,
            idle_timeout: _,
            udp_receive_buffer: _,
            tcp_receive_buffer: _,
            metrics_address: _,
        } = base().listeners;
        let changes: [Change<ListenerSettings>; 6] = [
            ("max_message_size", |s| s.max_message_size += 1),
            ("max_connections", |s| s.max_connections += 1),
            ("idle_timeout", |s| s.idle_timeout += Duration::from_secs(1)),
            ("udp_receive_buffer", |s| s.udp_receive_buffer += 1),
            ("tcp_receive_buffer", |s| s.tcp_receive_buffer += 1),
            ("metrics_address", |s| {
                s.metrics_address = Some("127.0.0.1:9514".parse().unwrap())
            }),
        ];
        for (name, change) in changes {
            let diff = after(|c| change(&mut c.listeners));
            assert!(!diff.keep_sockets, "{name} kept the sockets");
            assert_eq!(diff.changed, ["settings"], "{name}");
        }
    }

    /// Every field of a `[[listen]]` is either part of its socket (reopens) or of
    /// the decoder behind it (the sockets stay). Adding a field stops this compiling.
    #[test]
    fn every_listen_field_is_classified() {
        let Listen {
            address: _,
            input: _,
            options_json: _,
            unix: UnixSocket { mode: _, group: _ },
            section: _,
        } = base().listen[1].clone();
        let reopen: [Change<Listen>; 3] = [
            ("address", |l| {
                l.address = crate::config::ListenAddress::Udp("127.0.0.1:25225".parse().unwrap())
            }),
            ("unix mode", |l| l.unix.mode = 0o660),
            ("unix group", |l| l.unix.group = Some("adm".into())),
        ];
        for (name, change) in reopen {
            let diff = after(|c| change(&mut c.listen[1]));
            assert!(!diff.keep_sockets, "{name} kept the sockets");
            assert_eq!(diff.changed, ["listen"], "{name}");
        }
        let keep: [Change<Listen>; 2] = [
            ("input", |l| l.input = "cef".into()),
            ("options", |l| {
                l.options_json = r#"{"timezone":"UTC"}"#.into()
            }),
        ];
        for (name, change) in keep {
            let diff = after(|c| change(&mut c.listen[1]));
            assert!(diff.keep_sockets, "{name} reopened the sockets");
            assert_eq!(diff.changed, ["listen"], "{name}");
        }
        // Where a listener was declared is not a setting.
        let diff = after(|c| c.listen[1].section = c.listen[0].section);
        assert!(diff.keep_sockets && diff.changed.is_empty(), "{diff:?}");
    }

    #[test]
    fn listeners_in_another_order_or_number_reopen_the_sockets() {
        let diff = after(|c| c.listen.reverse());
        assert!(!diff.keep_sockets);
        let diff = after(|c| {
            c.listen.pop();
        });
        assert!(!diff.keep_sockets);
        assert_eq!(diff.changed, ["listen"]);
    }

    /// Settings behind the sockets keep them open. Adding a field to a group, or a
    /// top-level field, stops this compiling until it is classified.
    #[test]
    fn settings_behind_the_sockets_keep_them() {
        let JournalSettings {
            max_bytes: _,
            when_full: _,
            fsync: _,
        } = base().journal;
        let PipelineSettings {
            workers: _,
            queue_batches: _,
            batch_max_bytes: _,
            shutdown_timeout: _,
            stall_timeout: _,
        } = base().pipeline;
        let changes: [Change<Config>; 10] = [
            ("journal max_bytes", |c| c.journal.max_bytes *= 2),
            ("when_full", |c| c.journal.when_full = WhenFull::DropOldest),
            ("fsync", |c| {
                c.journal.fsync = Fsync::Interval(Duration::from_millis(200))
            }),
            ("workers", |c| c.pipeline.workers += 1),
            ("queue_batches", |c| c.pipeline.queue_batches += 1),
            ("batch_max_bytes", |c| {
                c.pipeline.batch_max_bytes = Some(4096)
            }),
            ("shutdown_timeout", |c| {
                c.pipeline.shutdown_timeout += Duration::from_secs(1)
            }),
            ("stall_timeout", |c| {
                c.pipeline.stall_timeout += Duration::from_secs(1)
            }),
            ("hostname", |c| c.hostname = Some("collector".into())),
            ("plugin_dir", |c| c.plugin_dir.push("more")),
        ];
        for (name, change) in changes {
            let diff = after(change);
            assert!(diff.keep_sockets, "{name} reopened the sockets");
            assert_eq!(diff.changed, ["settings"], "{name}");
        }
        let diff = after(|c| c.filters.push(c.output.clone()));
        assert!(diff.keep_sockets);
        assert_eq!(diff.changed, ["filter"]);
        let diff = after(|c| c.output.options_json = r#"{"path":"other"}"#.into());
        assert!(diff.keep_sockets);
        assert_eq!(diff.changed, ["output"]);
    }

    #[test]
    fn every_top_level_field_is_classified() {
        // state_dir cannot change while running (the reload is refused before any
        // diff); file, config_dir and sources say where the configuration came from.
        let Config {
            file: _,
            config_dir: _,
            state_dir: _,
            plugin_dir: _,
            hostname: _,
            listeners: _,
            journal: _,
            pipeline: _,
            listen: _,
            filters: _,
            output: _,
            sources: _,
        } = base();
    }
}
