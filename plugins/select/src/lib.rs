//! The `select` filter: keeps records by severity, facility and message pattern.
//!
//! A record is kept when all of these hold:
//! - its severity is `min_severity` or more severe (per facility when
//!   `severity_by_facility` names its facility);
//! - `facilities` is empty or names its facility;
//! - `include` is unset or matches the message; `exclude` is unset or does not.

#![forbid(unsafe_code)]

use regex::bytes::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use syslane_plugin_sdk::{export_plugin, Edits, Filter, Host, RecordView};
use syslane_syslog::{facility_code, severity_code, FACILITY_NAMES, SEVERITY_NAMES};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    min_severity: Option<String>,
    #[serde(default)]
    facilities: Vec<String>,
    #[serde(default)]
    severity_by_facility: BTreeMap<String, String>,
    #[serde(default)]
    include: Option<String>,
    #[serde(default)]
    exclude: Option<String>,
}

/// The compiled selection.
pub struct Select {
    /// Per facility code: the highest severity code kept (7 keeps everything).
    max_severity: [u8; 24],
    include: Option<Regex>,
    exclude: Option<Regex>,
}

fn severity(name: &str, key: &str) -> Result<u8, String> {
    severity_code(name).ok_or_else(|| {
        format!(
            "{key}: `{name}` is not a severity; use one of {}",
            SEVERITY_NAMES.join(", ")
        )
    })
}

fn facility(name: &str, key: &str) -> Result<usize, String> {
    facility_code(name).map(usize::from).ok_or_else(|| {
        format!(
            "{key}: `{name}` is not a facility; use one of {}",
            FACILITY_NAMES.join(", ")
        )
    })
}

fn regex(pattern: Option<String>, key: &str) -> Result<Option<Regex>, String> {
    pattern
        .map(|p| {
            Regex::new(&p)
                .map_err(|e| format!("{key}: the regular expression does not compile: {e}"))
        })
        .transpose()
}

impl Select {
    pub fn from_config(text: &str) -> Result<Select, String> {
        let c: Config = syslane_plugin_sdk::parse_config(text)?;
        let default = match &c.min_severity {
            Some(name) => severity(name, "min_severity")?,
            None => 7,
        };
        let mut max_severity = [default; 24];
        if !c.facilities.is_empty() {
            let mut listed = [false; 24];
            for name in &c.facilities {
                listed[facility(name, "facilities")?] = true;
            }
            for (code, keep) in listed.iter().enumerate() {
                if !keep {
                    max_severity[code] = u8::MAX;
                }
            }
        }
        for (fac, sev) in &c.severity_by_facility {
            max_severity[facility(fac, "severity_by_facility")?] =
                severity(sev, "severity_by_facility")?;
        }
        Ok(Select {
            max_severity,
            include: regex(c.include, "include")?,
            exclude: regex(c.exclude, "exclude")?,
        })
    }

    /// Whether a record with these values is kept.
    pub fn keeps(&self, facility: u8, severity: u8, message: &[u8]) -> bool {
        let limit = self
            .max_severity
            .get(usize::from(facility))
            .copied()
            .unwrap_or(7);
        limit != u8::MAX
            && severity <= limit
            && self.include.as_ref().is_none_or(|r| r.is_match(message))
            && !self.exclude.as_ref().is_some_and(|r| r.is_match(message))
    }
}

impl Filter for Select {
    fn create(_host: Host, config: &str) -> Result<Self, String> {
        Select::from_config(config)
    }

    fn filter(&mut self, records: &[RecordView<'_>], edits: &mut Edits<'_>) {
        for (i, r) in records.iter().enumerate() {
            if !self.keeps(r.facility(), r.severity(), r.message()) {
                edits.drop_record(i);
            }
        }
    }
}

export_plugin!(
    filter,
    Select,
    "select",
    "Keeps records by severity, facility and message regex"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_severity_keeps_more_severe() {
        let s = Select::from_config(r#"{"min_severity":"warning"}"#).unwrap();
        assert!(s.keeps(3, 4, b"x"));
        assert!(s.keeps(3, 0, b"x"));
        assert!(!s.keeps(3, 5, b"x"));
    }

    #[test]
    fn facility_list_and_overrides() {
        let s = Select::from_config(
            r#"{"facilities":["auth","daemon"],"severity_by_facility":{"daemon":"err"}}"#,
        )
        .unwrap();
        assert!(s.keeps(4, 7, b"x"));
        assert!(s.keeps(3, 3, b"x"));
        assert!(!s.keeps(3, 4, b"x"));
        assert!(!s.keeps(1, 0, b"x"));
    }

    #[test]
    fn include_and_exclude() {
        let s = Select::from_config(r#"{"include":"^sshd","exclude":"Accepted"}"#).unwrap();
        assert!(s.keeps(4, 6, b"sshd: Failed password"));
        assert!(!s.keeps(4, 6, b"sshd: Accepted publickey"));
        assert!(!s.keeps(4, 6, b"cron: job"));
    }

    #[test]
    fn errors_name_the_key_and_the_choices() {
        let e = Select::from_config(r#"{"min_severity":"loud"}"#)
            .err()
            .unwrap();
        assert!(e.contains("min_severity") && e.contains("warning"), "{e}");
        let e = Select::from_config(r#"{"facilities":["kernel"]}"#)
            .err()
            .unwrap();
        assert!(e.contains("`kernel`") && e.contains("kern"), "{e}");
        let e = Select::from_config(r#"{"include":"("}"#).err().unwrap();
        assert!(e.contains("include"), "{e}");
        let e = Select::from_config(r#"{"min_severty":"info"}"#)
            .err()
            .unwrap();
        assert!(e.contains("min_severty"), "{e}");
    }
}
