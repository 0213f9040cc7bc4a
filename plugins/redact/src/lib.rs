//! The `redact` filter: masks secrets and personal data before records leave
//! the host, with regular expressions and replacements on the message and on
//! named fields, and documented presets (see [`presets`]).
//!
//! ```toml
//! [[filter]]
//! plugin  = "redact"
//! presets = ["password", "secret", "token", "bearer", "card_number"]
//! fields  = ["SyslogMessage"]                  # the default
//! rules   = [
//!   { pattern = '\b\d{3}-\d{2}-\d{4}\b', replacement = "***-**-****" },
//!   { pattern = 'user=(\w)\w*', replacement = "user=${1}…", fields = ["SyslogMessage", "SourceUserName"] },
//! ]
//! ```
//!
//! Every pattern is compiled once, at start. Per field, one `RegexSet` over the
//! patterns that apply to it decides in one pass which of them match at all, so
//! a record with nothing to mask costs that one scan and no copy; only matching
//! rules run their replacement.

#![forbid(unsafe_code)]

pub mod presets;

use regex::bytes::{Captures, Regex, RegexSet};
use serde::Deserialize;
use syslane_plugin_sdk::{export_plugin, parse_config, Edits, Filter, Host, Level, RecordView};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    presets: Vec<String>,
    #[serde(default)]
    rules: Vec<RuleConfig>,
    /// Fields the presets and the rules without their own `fields` apply to.
    #[serde(default = "default_fields")]
    fields: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleConfig {
    pattern: String,
    #[serde(default = "default_replacement")]
    replacement: String,
    fields: Option<Vec<String>>,
}

fn default_fields() -> Vec<String> {
    vec![MESSAGE.to_string()]
}

fn default_replacement() -> String {
    presets::MASK.to_string()
}

/// The message column (`Message`, the CEF records' text, names it too).
const MESSAGE: &str = "SyslogMessage";

/// How a rule replaces a match.
enum Replace {
    /// Text with `$1`/`${name}` references to the pattern's groups.
    Template(Vec<u8>),
    Preset(fn(&Captures<'_>) -> Vec<u8>),
}

struct Rule {
    regex: Regex,
    replace: Replace,
}

/// The rules that apply to one field, with the set that tells which match.
struct FieldRules {
    name: String,
    set: RegexSet,
    rules: Vec<usize>,
}

/// The compiled rules.
pub struct Rules {
    rules: Vec<Rule>,
    fields: Vec<FieldRules>,
}

pub struct Redact {
    host: Host,
    rules: Rules,
    refused: bool,
}

fn field_name(name: &str) -> String {
    if name == "Message" {
        MESSAGE.to_string()
    } else {
        name.to_string()
    }
}

/// The fields a rule on `name` reaches: for the message, also the text of CEF
/// records (the `Message` column and `AdditionalExtensions`, the pairs no column
/// took) and `RawMessage` (the message as received, with `keep_raw` or a
/// malformed message), which hold the same secrets.
fn targets(name: &str) -> impl Iterator<Item = &str> {
    let also: &[&str] = if name == MESSAGE {
        &["Message", "AdditionalExtensions", "RawMessage"]
    } else {
        &[]
    };
    std::iter::once(name).chain(also.iter().copied())
}

/// A field's current value in a record.
fn value<'a>(r: &RecordView<'a>, name: &str) -> Option<&'a [u8]> {
    match name {
        MESSAGE => Some(r.message()),
        "HostName" => r.host_name(),
        "ProcessName" => r.process_name(),
        "MsgId" => r.msg_id(),
        "StructuredData" => r.structured_data(),
        other => r.field(other),
    }
}

impl Rules {
    pub fn from_config(text: &str) -> Result<Rules, String> {
        let c: Config = parse_config(text)?;
        let mut rules = Vec::new();
        let mut applies: Vec<(String, usize)> = Vec::new();
        let defaults: Vec<String> = c.fields.iter().map(|f| field_name(f)).collect();
        if defaults.is_empty() {
            return Err(
                "fields: empty; name at least one field, such as fields = [\"SyslogMessage\"]"
                    .into(),
            );
        }
        for name in &c.presets {
            let p = presets::PRESETS
                .iter()
                .find(|p| p.name == name.as_str())
                .ok_or_else(|| {
                    format!(
                        "presets: `{name}` is not a preset; the presets are {}",
                        presets::names().join(", ")
                    )
                })?;
            rules.push(Rule {
                regex: presets::compile(p)?,
                replace: Replace::Preset(p.replace),
            });
            applies.extend(defaults.iter().map(|f| (f.clone(), rules.len() - 1)));
        }
        for (i, r) in c.rules.into_iter().enumerate() {
            let regex = Regex::new(&r.pattern).map_err(|e| {
                format!("rules[{i}].pattern: the regular expression does not compile: {e}")
            })?;
            let fields = r
                .fields
                .map(|f| f.iter().map(|n| field_name(n)).collect())
                .unwrap_or_else(|| defaults.clone());
            rules.push(Rule {
                regex,
                replace: Replace::Template(r.replacement.into_bytes()),
            });
            applies.extend(fields.into_iter().map(|f| (f, rules.len() - 1)));
        }
        if rules.is_empty() {
            return Err(format!(
                "nothing to redact: add presets (one or more of {}) or rules = [{{ pattern = \"...\", replacement = \"***\" }}]",
                presets::names().join(", ")
            ));
        }
        let mut fields: Vec<FieldRules> = Vec::new();
        for (name, rule) in applies {
            match fields.iter_mut().find(|f| f.name == name) {
                Some(f) => f.rules.push(rule),
                None => fields.push(FieldRules {
                    name,
                    set: RegexSet::empty(),
                    rules: vec![rule],
                }),
            }
        }
        for f in &mut fields {
            f.set = RegexSet::new(f.rules.iter().map(|r| rules[*r].regex.as_str()))
                .map_err(|e| format!("the patterns for {} do not compile together: {e}", f.name))?;
        }
        Ok(Rules { rules, fields })
    }

    /// `value` of field `name` redacted, or `None` when no rule changed it.
    pub fn apply(&self, name: &str, value: &[u8]) -> Option<Vec<u8>> {
        let name = field_name(name);
        let field = self.fields.iter().find(|f| f.name == name)?;
        self.redact(field, value)
    }

    /// The value with every matching rule applied, or `None` when nothing matched.
    fn redact(&self, field: &FieldRules, value: &[u8]) -> Option<Vec<u8>> {
        let matched = field.set.matches(value);
        if !matched.matched_any() {
            return None;
        }
        let mut text = value.to_vec();
        for i in matched.iter() {
            let rule = &self.rules[field.rules[i]];
            let replaced = match &rule.replace {
                Replace::Template(t) => rule.regex.replace_all(&text, t.as_slice()),
                Replace::Preset(f) => rule.regex.replace_all(&text, |c: &Captures<'_>| f(c)),
            };
            if let std::borrow::Cow::Owned(new) = replaced {
                text = new;
            }
        }
        (text != value).then_some(text)
    }
}

impl Filter for Redact {
    fn create(host: Host, config: &str) -> Result<Self, String> {
        Ok(Redact {
            host,
            rules: Rules::from_config(config)?,
            refused: false,
        })
    }

    fn filter(&mut self, records: &[RecordView<'_>], edits: &mut Edits<'_>) {
        let mut refused = None;
        // Per record, the fields changed so far: rules of several entries that
        // reach the same field apply one after the other, and it is set once.
        let mut changed: Vec<(&str, Vec<u8>)> = Vec::new();
        for (i, r) in records.iter().enumerate() {
            changed.clear();
            for field in &self.rules.fields {
                for target in targets(&field.name) {
                    let at = changed.iter().position(|(n, _)| *n == target);
                    let new = match at {
                        Some(at) => self.rules.redact(field, &changed[at].1),
                        None => value(r, target).and_then(|v| self.rules.redact(field, v)),
                    };
                    match (new, at) {
                        (Some(new), Some(at)) => changed[at].1 = new,
                        (Some(new), None) => changed.push((target, new)),
                        (None, _) => {}
                    }
                }
            }
            for (name, new) in &changed {
                if !edits.set(i, name, new) {
                    refused = Some(name.to_string());
                }
            }
        }
        if let (Some(name), false) = (refused, self.refused) {
            self.refused = true;
            self.host.log(
                Level::Error,
                &format!("the agent refused to change field {name}, a column it derives itself; redact the field it is derived from instead"),
            );
        }
    }
}

export_plugin!(
    filter,
    Redact,
    "redact",
    "Masks secrets and personal data with regular expressions and presets"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(rules: &Rules, field: &str, text: &str) -> String {
        rules
            .apply(field, text.as_bytes())
            .map_or_else(|| text.to_string(), |v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn presets_and_rules_on_their_fields() {
        let r = Rules::from_config(
            r#"{"presets":["password","card_number"],"rules":[
                {"pattern":"\\b\\d{3}-\\d{2}-\\d{4}\\b","replacement":"***-**-****"},
                {"pattern":"user=(\\w)\\w*","replacement":"user=${1}.","fields":["SourceUserName"]}]}"#,
        )
        .unwrap();
        assert_eq!(
            apply(
                &r,
                "SyslogMessage",
                "password=x ssn 123-45-6789 card 4111111111111111"
            ),
            "password=*** ssn ***-**-**** card ************1111"
        );
        assert_eq!(apply(&r, "Message", "password=x"), "password=***");
        assert_eq!(
            apply(&r, "SourceUserName", "user=alice password=x"),
            "user=a. password=x"
        );
        assert!(r.apply("SyslogMessage", b"nothing to see").is_none());
        assert!(r.apply("HostName", b"password=x").is_none());
    }

    #[test]
    fn config_errors_name_the_key() {
        let e = Rules::from_config(r#"{"presets":["passwords"]}"#)
            .err()
            .unwrap();
        assert!(
            e.contains("`passwords` is not a preset") && e.contains("password, secret"),
            "{e}"
        );
        let e = Rules::from_config(r#"{"rules":[{"pattern":"("}]}"#)
            .err()
            .unwrap();
        assert!(e.starts_with("rules[0].pattern"), "{e}");
        let e = Rules::from_config("{}").err().unwrap();
        assert!(e.starts_with("nothing to redact"), "{e}");
        let e = Rules::from_config(r#"{"preset":["password"]}"#)
            .err()
            .unwrap();
        assert!(e.contains("unknown field `preset`"), "{e}");
    }
}
