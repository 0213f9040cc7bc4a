//! Example filter in Rust: adds fixed fields to every record (enrichment), for
//! example the environment or the team that owns the host.
//!
//! ```toml
//! [[filter]]
//! plugin = "example-tag"
//! fields = { Environment = "prod", Team = "payments" }
//! ```
//!
//! It doubles as a conformance fixture of the ABI: `panic_on = "text"` makes it
//! panic on a batch holding a message with that text, which shows the host
//! recovering from a plugin that crashes.

use serde::Deserialize;
use std::collections::BTreeMap;
use syslane_plugin_sdk::{export_plugin, Edits, Filter, Host, Level, RecordView};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    fields: BTreeMap<String, String>,
    #[serde(default)]
    panic_on: Option<String>,
}

struct Tag {
    fields: Vec<(String, String)>,
    panic_on: Option<String>,
}

impl Filter for Tag {
    fn create(host: Host, config: &str) -> Result<Self, String> {
        let c: Config = syslane_plugin_sdk::parse_config(config)?;
        host.log(
            Level::Debug,
            &format!("adding {} field(s) to every record", c.fields.len()),
        );
        Ok(Tag {
            fields: c.fields.into_iter().collect(),
            panic_on: c.panic_on,
        })
    }

    fn filter(&mut self, records: &[RecordView<'_>], edits: &mut Edits<'_>) {
        for (i, record) in records.iter().enumerate() {
            if let Some(trigger) = &self.panic_on {
                if record.message_text().contains(trigger.as_str()) {
                    panic!("example-tag: asked to panic on a message containing {trigger:?}");
                }
            }
            for (name, value) in &self.fields {
                edits.set(i, name, value.as_bytes());
            }
        }
    }
}

export_plugin!(
    filter,
    Tag,
    "example-tag",
    "Adds fixed fields to every record (example)"
);
