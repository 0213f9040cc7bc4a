//! Stream declarations, read from the same ARM template that deploys the data
//! collection rule, so the emulator checks exactly what Azure will be told.

use serde_json::Value;
use std::collections::HashMap;

pub type Streams = HashMap<String, HashMap<String, String>>;

pub const DEFAULT_TEMPLATE: &str =
    include_str!("../../../../plugins/azure/deploy/azuredeploy.json");

pub fn from_template(text: &str) -> Result<Streams, String> {
    let t: Value = serde_json::from_str(text).map_err(|e| format!("template: {e}"))?;
    let resources = t["resources"].as_array().ok_or("template: no resources")?;
    let dcr = resources
        .iter()
        .find(|r| r["type"] == "Microsoft.Insights/dataCollectionRules")
        .ok_or("template: no Microsoft.Insights/dataCollectionRules resource")?;
    let declarations = dcr["properties"]["streamDeclarations"]
        .as_object()
        .ok_or("template: the rule has no streamDeclarations")?;
    let mut streams = Streams::new();
    for (name, d) in declarations {
        let mut columns = HashMap::new();
        for c in d["columns"].as_array().into_iter().flatten() {
            if let (Some(n), Some(t)) = (c["name"].as_str(), c["type"].as_str()) {
                columns.insert(n.to_string(), t.to_string());
            }
        }
        streams.insert(name.clone(), columns);
    }
    Ok(streams)
}

/// Checks one record against a stream's columns. Unknown columns are returned (the
/// service drops them); a wrong type is an error.
pub fn check(record: &Value, columns: &HashMap<String, String>) -> Result<Vec<String>, String> {
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
            ("int" | "long", Value::Number(n)) => n.is_i64() || n.is_u64(),
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
