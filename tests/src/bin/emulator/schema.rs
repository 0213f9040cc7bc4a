//! The data collection rule the emulator serves: deployed from the same ARM
//! template users deploy (with the same parameters), so the emulator checks
//! exactly the stream declarations and applies exactly the transformations Azure
//! will be given.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use syslane_tests::emulator::kql::Transform;
use syslane_tests::emulator::rule::{deploy_rule, Columns};

pub use syslane_tests::emulator::rule::DEFAULT_TEMPLATE;

/// One stream the rule declares, with the transformation that reads it.
pub struct Stream {
    pub columns: Columns,
    pub transform: Transform,
    pub output: String,
}

pub type Streams = BTreeMap<String, Stream>;

pub fn from_template(text: &str, params: &Map<String, Value>) -> Result<Streams, String> {
    let rule = deploy_rule(text, params, "local")?;
    let mut streams = Streams::new();
    for (name, columns) in rule.streams.clone() {
        let flow = rule
            .flow(&name)
            .ok_or_else(|| format!("template: no data flow reads stream {name}"))?;
        streams.insert(
            name,
            Stream {
                columns,
                transform: flow.transform.clone(),
                output: flow.output.clone(),
            },
        );
    }
    Ok(streams)
}

/// Checks one record against a stream's columns. Undeclared columns are returned
/// (the service drops them); a wrong type is an error, as the service's 400. An
/// integer outside a 32-bit `int` column's range is refused too: the service's
/// handling is not documented, and the agent must never send one.
/// Column types: <https://learn.microsoft.com/en-us/azure/azure-monitor/data-collection/data-collection-rule-structure#input-streams>
pub fn check(record: &Value, columns: &Columns) -> Result<Vec<String>, String> {
    let object = record
        .as_object()
        .ok_or("every element of the array must be a JSON object")?;
    let mut unknown = Vec::new();
    for (name, value) in object {
        let Some(kind) = columns.get(name) else {
            unknown.push(name.clone());
            continue;
        };
        let ok = match (kind.as_str(), value) {
            (_, Value::Null) => true,
            ("string", Value::String(_)) => true,
            ("int", Value::Number(n)) => n.as_i64().is_some_and(|v| i32::try_from(v).is_ok()),
            ("long", Value::Number(n)) => n.is_i64(),
            ("real", Value::Number(_)) => true,
            ("boolean", Value::Bool(_)) => true,
            ("datetime", Value::String(s)) => s.parse::<jiff::Timestamp>().is_ok(),
            ("dynamic", _) => true,
            _ => false,
        };
        if !ok {
            return Err(format!(
                "column {name} is declared {kind} but the value is {value}"
            ));
        }
    }
    Ok(unknown)
}
