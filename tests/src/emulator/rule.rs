//! The data collection rule that `plugins/azure/deploy/azuredeploy.json` creates for
//! given parameters: its streams, data flows and transformations. The emulator
//! serves this rule, and the template tests inspect it.
//!
//! Runtime state that only Azure knows (the rule's immutable id and its logs
//! ingestion endpoint, the workspace's region) is modelled on the shapes the
//! documentation gives: a rule of kind `Direct` carries
//! `properties.endpoints.logsIngestion` (API 2023-03-11 and later), a data
//! collection endpoint `properties.logsIngestion.endpoint`:
//! <https://learn.microsoft.com/en-us/azure/azure-monitor/data-collection/data-collection-rule-structure>

use super::arm::{deploy, Deployment, Environment};
use super::kql::{self, Transform};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The template as shipped.
pub const DEFAULT_TEMPLATE: &str = include_str!("../../../plugins/azure/deploy/azuredeploy.json");

/// Column name → declared type, for one stream.
pub type Columns = BTreeMap<String, String>;

/// One data flow of the rule.
#[derive(Debug, Clone)]
pub struct Flow {
    pub stream: String,
    pub kql: String,
    pub transform: Transform,
    pub output: String,
}

/// The deployed rule.
#[derive(Debug)]
pub struct Rule {
    pub location: String,
    pub streams: BTreeMap<String, Columns>,
    pub flows: Vec<Flow>,
    pub deployment: Deployment,
}

impl Rule {
    /// The flow that reads `stream`.
    pub fn flow(&self, stream: &str) -> Option<&Flow> {
        self.flows.iter().find(|f| f.stream == stream)
    }
}

/// Parses `key=value` pairs as `az deployment group create --parameters` takes them:
/// `true`/`false` are bools, digits are numbers, the rest strings.
pub fn parameters<'a>(
    pairs: impl IntoIterator<Item = &'a str>,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for pair in pairs {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("parameter {pair:?} is not name=value"))?;
        let value = match v {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                json!(n.parse::<i64>().map_err(|e| e.to_string())?)
            }
            s => Value::String(s.to_string()),
        };
        out.insert(k.to_string(), value);
    }
    Ok(out)
}

/// Deploys `template` with `params` into a workspace in `workspace_location`.
pub fn deploy_rule(
    template: &str,
    params: &Map<String, Value>,
    workspace_location: &str,
) -> Result<Rule, String> {
    let t: Value = serde_json::from_str(template).map_err(|e| format!("template: {e}"))?;
    let reference = |id: &str, full: bool, deployed: Option<&Value>| -> Result<Value, String> {
        let kind = id.rsplit('/').nth(1).unwrap_or_default();
        let name = id.rsplit('/').next().unwrap_or_default();
        let location = deployed
            .and_then(|r| r["location"].as_str())
            .unwrap_or(workspace_location)
            .to_string();
        let properties = match (kind, deployed) {
            ("workspaces", None) => json!({"customerId": "00000000-0000-0000-0000-000000000000"}),
            ("dataCollectionRules", Some(r)) => {
                let mut p = r["properties"].clone();
                p["immutableId"] = json!(format!("dcr-{:0>32}", name.len()));
                if r["kind"] == "Direct" {
                    p["endpoints"] = json!({
                        "logsIngestion": format!("https://{name}-a1b2.{location}-1.ingest.monitor.azure.com"),
                        "metricsIngestion": format!("https://{name}-a1b2.{location}-1.metrics.ingest.monitor.azure.com"),
                    });
                }
                p
            }
            ("dataCollectionEndpoints", Some(_)) => json!({
                "logsIngestion": {"endpoint": format!("https://{name}-c3d4.{location}-1.ingest.monitor.azure.com")}
            }),
            _ => return Err(format!("reference({id}): nothing known about it")),
        };
        Ok(if full {
            json!({"id": id, "name": name, "location": location, "properties": properties})
        } else {
            properties
        })
    };
    let env = Environment {
        subscription: "00000000-0000-0000-0000-000000000000".into(),
        resource_group: "syslane-rg".into(),
        resource_group_location: "resource-group-region".into(),
        reference: &reference,
    };
    let deployment = deploy(&t, params, &env)?;
    let dcr = deployment
        .of_type("Microsoft.Insights/dataCollectionRules")
        .next()
        .ok_or("the template deploys no data collection rule")?;
    let location = dcr["location"].as_str().unwrap_or_default().to_string();
    let mut streams = BTreeMap::new();
    for (name, d) in dcr["properties"]["streamDeclarations"]
        .as_object()
        .ok_or("the rule has no streamDeclarations")?
    {
        let mut columns = Columns::new();
        for c in d["columns"].as_array().into_iter().flatten() {
            if let (Some(n), Some(t)) = (c["name"].as_str(), c["type"].as_str()) {
                if columns.insert(n.to_string(), t.to_string()).is_some() {
                    return Err(format!("stream {name} declares {n} twice"));
                }
            }
        }
        streams.insert(name.clone(), columns);
    }
    let mut flows = Vec::new();
    for f in dcr["properties"]["dataFlows"]
        .as_array()
        .ok_or("the rule has no dataFlows")?
    {
        let stream = f["streams"][0].as_str().unwrap_or_default().to_string();
        let kql = f["transformKql"].as_str().unwrap_or("source").to_string();
        flows.push(Flow {
            transform: kql::parse(&kql).map_err(|e| format!("flow of {stream}: {e}"))?,
            stream,
            kql,
            output: f["outputStream"].as_str().unwrap_or_default().to_string(),
        });
    }
    Ok(Rule {
        location,
        streams,
        flows,
        deployment,
    })
}
