//! The embedded default configuration: `config/local.toml`, compiled into the
//! agent, for `syslane run --embedded-config`. It needs no file and no account:
//! syslog over UDP and TCP on 127.0.0.1:25224, CEF and Cisco ASA/FTD on
//! 127.0.0.1:25226, records written as JSON lines.
//!
//! The file's paths are relative to its folder in a source checkout
//! (`../data/...`); compiled in, they are relative to the current directory
//! (`data/state`, `data/records.jsonl`), and the plugins are those beside the
//! `syslane` binary (`target/release` in a build), else the packages' directory.

use super::{Config, ConfigError, Sources};
use std::path::{Path, PathBuf};

/// The name `--embedded-config` gives the configuration, in place of a file.
pub(crate) const EMBEDDED: &str = "(embedded default)";

/// `config/local.toml`.
pub(crate) const TEXT: &str = include_str!("../../../../config/local.toml");

/// Where the packages install the plugins.
const PACKAGED_PLUGINS: &str = "/usr/lib/syslane/plugins";

/// The plugins beside the running binary, else the packaged ones.
fn plugin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .filter(|dir| dir.join("libsyslane_plugin_syslog.so").is_file())
        .unwrap_or_else(|| PathBuf::from(PACKAGED_PLUGINS))
}

/// `../x` (relative to the checkout's `config/`) as `x` (relative to the current
/// directory).
fn from_checkout_root(value: Option<&mut toml::Value>) {
    if let Some(toml::Value::String(s)) = value {
        if let Some(rest) = s.strip_prefix("../") {
            *s = rest.to_string();
        }
    }
}

/// The text of the embedded configuration as `run` uses it.
pub(crate) fn text() -> String {
    let Ok(mut table) = TEXT.parse::<toml::Table>() else {
        return TEXT.to_string();
    };
    from_checkout_root(table.get_mut("state_dir"));
    if let Some(toml::Value::Table(output)) = table.get_mut("output") {
        from_checkout_root(output.get_mut("path"));
    }
    table.insert(
        "plugin_dir".into(),
        toml::Value::String(plugin_dir().display().to_string()),
    );
    toml::to_string(&table).unwrap_or_else(|_| TEXT.to_string())
}

/// The embedded configuration, paths resolved against the current directory.
pub(crate) fn load() -> Result<Config, ConfigError> {
    let cwd = std::env::current_dir().map_err(|e| ConfigError {
        file: EMBEDDED.into(),
        line: None,
        key: String::new(),
        message: format!("cannot read the current directory, which its paths are relative to: {e}"),
    })?;
    let text = text();
    let sources = Sources::new((Path::new(EMBEDDED), &text), &[])?;
    Config::from_sources(sources, Path::new(EMBEDDED), &cwd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_default_is_config_local_toml_relative_to_the_current_directory() {
        let c = load().unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(c.state_dir, cwd.join("data/state"));
        assert_eq!(c.file, Path::new(EMBEDDED));
        assert!(
            c.output
                .options_json
                .contains("\"path\":\"data/records.jsonl\""),
            "{}",
            c.output.options_json
        );
        assert_eq!(c.listen.len(), 4);
        assert_eq!(c.listen[0].address.to_string(), "udp://127.0.0.1:25224");
        assert!(TEXT.contains("plugin_dir"));
    }
}
