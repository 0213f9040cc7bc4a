//! The transformations syslane's rule uses: `source` (records pass unchanged) and
//! `source | project A, B, C_CF = C` (keep, and rename, columns). Anything else is
//! refused, so the template cannot grow a transformation the emulator would not
//! apply. Structure and supported operators:
//! <https://learn.microsoft.com/en-us/azure/azure-monitor/data-collection/data-collection-transformations-structure>

use serde_json::{Map, Value};

/// A parsed `transformKql`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transform {
    /// `source`
    PassThrough,
    /// `source | project ...`: (output column, input column) in order.
    Project(Vec<(String, String)>),
}

fn is_column_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses one transformation; it must be a single line.
pub fn parse(kql: &str) -> Result<Transform, String> {
    if kql.contains(['\n', '\r']) {
        return Err(format!("transformKql must be one line: {kql:?}"));
    }
    let text = kql.trim();
    if text == "source" {
        return Ok(Transform::PassThrough);
    }
    let list = text
        .strip_prefix("source")
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix('|'))
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix("project "))
        .ok_or_else(|| {
            format!("only `source` and `source | project ...` are supported: {kql:?}")
        })?;
    let mut columns = Vec::new();
    for item in list.split(',') {
        let (out, input) = match item.split_once('=') {
            Some((o, i)) => (o.trim(), i.trim()),
            None => (item.trim(), item.trim()),
        };
        if !is_column_name(out) || !is_column_name(input) {
            return Err(format!(
                "{item:?} in {kql:?} is not `Column` or `Output = Column`"
            ));
        }
        if columns.iter().any(|(o, _): &(String, String)| o == out) {
            return Err(format!("column {out} is projected twice in {kql:?}"));
        }
        columns.push((out.to_string(), input.to_string()));
    }
    Ok(Transform::Project(columns))
}

impl Transform {
    /// The columns of `record` the transformation reads.
    pub fn inputs(&self) -> Vec<&str> {
        match self {
            Transform::PassThrough => Vec::new(),
            Transform::Project(c) => c.iter().map(|(_, i)| i.as_str()).collect(),
        }
    }

    /// Applies the transformation to one record: the stored row, and the input
    /// columns that did not make it into the row.
    pub fn apply(&self, record: &Map<String, Value>) -> (Map<String, Value>, Vec<String>) {
        match self {
            Transform::PassThrough => (record.clone(), Vec::new()),
            Transform::Project(columns) => {
                let mut row = Map::new();
                for (out, input) in columns {
                    if let Some(v) = record.get(input) {
                        if !v.is_null() {
                            row.insert(out.clone(), v.clone());
                        }
                    }
                }
                let dropped = record
                    .keys()
                    .filter(|k| !columns.iter().any(|(_, i)| i == *k))
                    .cloned()
                    .collect();
                (row, dropped)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn projections_parse_and_apply() {
        assert_eq!(parse("source").unwrap(), Transform::PassThrough);
        let t = parse("source | project TimeGenerated, MsgId_CF = MsgId").unwrap();
        let record = json!({"TimeGenerated": "x", "MsgId": "ID1", "Other": 1});
        let (row, dropped) = t.apply(record.as_object().unwrap());
        assert_eq!(
            Value::Object(row),
            json!({"TimeGenerated": "x", "MsgId_CF": "ID1"})
        );
        assert_eq!(dropped, vec!["Other".to_string()]);
        for bad in [
            "source | where x == 1",
            "source\n| project a",
            "source | project a, a",
            "source | project a = tostring(b)",
            "other | project a",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
