//! The `enrich` filter: stamps every record with fields of the operator's own,
//! static values from the configuration or values of environment variables read
//! when the filter starts (and again at each reload).
//!
//! ```toml
//! [[filter]]
//! plugin    = "enrich"
//! fields    = { Environment = "prod", Team = "payments" }
//! from_env  = { Region = "AZURE_REGION" }     # field = environment variable
//! overwrite = true                            # the default; false keeps a value a record has
//! ```
//!
//! A field named like a column the record already has (`ProcessName`,
//! `HostName`, …) sets that column; any other name adds a field. Names follow
//! Log Analytics' rules for columns: a letter, then letters, digits or `_`.

#![forbid(unsafe_code)]

use serde::Deserialize;
use std::collections::BTreeMap;
use syslane_plugin_sdk::{export_plugin, parse_config, Edits, Filter, Host, Level, RecordView};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    fields: BTreeMap<String, String>,
    #[serde(default)]
    from_env: BTreeMap<String, String>,
    #[serde(default = "yes")]
    overwrite: bool,
}

fn yes() -> bool {
    true
}

/// The fields to set, resolved.
#[derive(Debug, PartialEq, Eq)]
pub struct Stamp {
    pub fields: Vec<(String, String)>,
    pub overwrite: bool,
}

fn check_name(key: &str, name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 45;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{key}: `{}` cannot name a column; use a letter, then letters, digits or _ (at most 45), such as Environment or Site_Id",
            name.escape_default()
        ))
    }
}

impl Stamp {
    /// Reads the config; `env` looks up environment variables.
    pub fn from_config(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Stamp, String> {
        let c: Config = parse_config(text)?;
        let mut fields = Vec::new();
        for (name, value) in c.fields {
            check_name("fields", &name)?;
            fields.push((name, value));
        }
        for (name, var) in c.from_env {
            check_name("from_env", &name)?;
            if fields.iter().any(|(n, _)| *n == name) {
                return Err(format!(
                    "from_env: {name} is also in fields; keep one of them"
                ));
            }
            let value = env(&var).ok_or_else(|| {
                format!(
                    "from_env: {name}: the environment variable {} is not set (or not UTF-8); set it for the agent (with systemd: `systemctl edit syslane`, then Environment={}=... under [Service])",
                    var.escape_default(),
                    var.escape_default()
                )
            })?;
            fields.push((name, value));
        }
        if fields.is_empty() {
            return Err("nothing to add: set fields = { Name = \"value\" } or from_env = { Name = \"VARIABLE\" }".into());
        }
        Ok(Stamp {
            fields,
            overwrite: c.overwrite,
        })
    }
}

/// Whether a record has a value for `name` (a column or an extra field).
fn has(r: &RecordView<'_>, name: &str) -> bool {
    match name {
        "SyslogMessage" => !r.message().is_empty(),
        "HostName" => r.host_name().is_some(),
        "ProcessName" => r.process_name().is_some(),
        "MsgId" => r.msg_id().is_some(),
        "StructuredData" => r.structured_data().is_some(),
        "ProcessID" => r.proc_id().is_some(),
        other => r.field(other).is_some(),
    }
}

pub struct Enrich {
    host: Host,
    stamp: Stamp,
    refused: bool,
}

impl Filter for Enrich {
    fn create(host: Host, config: &str) -> Result<Self, String> {
        let stamp = Stamp::from_config(config, |v| std::env::var(v).ok())?;
        host.log(
            Level::Debug,
            &format!("adding {} field(s) to every record", stamp.fields.len()),
        );
        Ok(Enrich {
            host,
            stamp,
            refused: false,
        })
    }

    fn filter(&mut self, records: &[RecordView<'_>], edits: &mut Edits<'_>) {
        let mut refused = None;
        for (i, r) in records.iter().enumerate() {
            for (name, value) in &self.stamp.fields {
                if !self.stamp.overwrite && has(r, name) {
                    continue;
                }
                if !edits.set(i, name, value.as_bytes()) {
                    refused = Some(name);
                }
            }
        }
        if let (Some(name), false) = (refused, self.refused) {
            self.refused = true;
            self.host.log(
                Level::Error,
                &format!("the agent refused field {name}: it derives that column itself (or the value is not one the column takes); rename the field"),
            );
        }
    }
}

export_plugin!(
    filter,
    Enrich,
    "enrich",
    "Adds or overwrites fields with static values or environment variables"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "REGION").then(|| "westeurope".to_string())
    }

    #[test]
    fn fields_from_config_and_environment() {
        let s = Stamp::from_config(
            r#"{"fields":{"Environment":"prod"},"from_env":{"Region":"REGION"},"overwrite":false}"#,
            env,
        )
        .unwrap();
        assert_eq!(
            s,
            Stamp {
                fields: vec![
                    ("Environment".into(), "prod".into()),
                    ("Region".into(), "westeurope".into())
                ],
                overwrite: false
            }
        );
    }

    #[test]
    fn errors_say_what_to_do() {
        let e = Stamp::from_config(r#"{"from_env":{"Region":"NOPE"}}"#, env).unwrap_err();
        assert!(
            e.contains("NOPE is not set") && e.contains("systemctl edit syslane"),
            "{e}"
        );
        let e = Stamp::from_config(r#"{"fields":{"1bad":"x"}}"#, env).unwrap_err();
        assert!(e.contains("`1bad` cannot name a column"), "{e}");
        let e = Stamp::from_config("{}", env).unwrap_err();
        assert!(e.starts_with("nothing to add"), "{e}");
        let e = Stamp::from_config(r#"{"feilds":{}}"#, env).unwrap_err();
        assert!(e.contains("unknown field `feilds`"), "{e}");
    }
}
