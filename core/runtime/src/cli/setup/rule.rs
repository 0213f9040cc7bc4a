//! The request bodies `setup` sends, made from `azuredeploy.json` itself so the
//! rule it creates and the template's cannot drift: the stream declarations, data
//! flows and description are the template's variables, the heartbeat table its
//! table resource. A test deploys the template and compares the two rules.
//! Bodies follow the REST specifications of the API versions below.

use serde_json::{json, Map, Value};

const TEMPLATE: &str = include_str!("../../../../../plugins/azure/deploy/azuredeploy.json");

/// `Microsoft.Insights/dataCollectionRules`.
pub(super) const RULE_API: &str = "2023-03-11";
/// `Microsoft.OperationalInsights/workspaces` and their tables.
pub(super) const WORKSPACE_API: &str = "2022-10-01";
/// `Microsoft.Authorization/roleAssignments`.
pub(super) const ROLE_API: &str = "2022-04-01";
/// Monitoring Metrics Publisher, a built-in role: its id is the same in every
/// tenant and cloud.
/// <https://learn.microsoft.com/en-us/azure/role-based-access-control/built-in-roles/monitor#monitoring-metrics-publisher>
pub(super) const MONITORING_METRICS_PUBLISHER: &str = "3913510d-42f4-4e42-8a64-420c390055eb";
pub(super) const HEARTBEAT_TABLE: &str = "SyslaneHeartbeat_CL";

/// The template's nested deployment, where the rule is.
fn inner() -> Result<Value, String> {
    let t: Value = serde_json::from_str(TEMPLATE).map_err(|e| format!("azuredeploy.json: {e}"))?;
    t["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["type"] == "Microsoft.Resources/deployments")
        .map(|r| r["properties"]["template"].clone())
        .ok_or_else(|| "azuredeploy.json: no nested deployment".to_string())
}

fn object(v: &Value, what: &str) -> Result<Map<String, Value>, String> {
    v.as_object()
        .cloned()
        .ok_or_else(|| format!("azuredeploy.json: {what} is not an object"))
}

/// The rule's body: kind `Direct`, in the workspace's region, with the
/// template's streams and flows (the security stream only with Sentinel). The
/// Syslog flow's transformation is the template's without the extra `_CF`
/// columns (its `syslogExtraColumns` parameter at its default).
pub(super) fn rule_body(
    location: &str,
    workspace_id: &str,
    security: bool,
) -> Result<Value, String> {
    let t = inner()?;
    let v = &t["variables"];
    let mut streams = object(&v["baseStreams"], "variables.baseStreams")?;
    let mut flows: Vec<Value> = v["baseFlows"].as_array().cloned().unwrap_or_default();
    if security {
        streams.extend(object(&v["securityStreams"], "variables.securityStreams")?);
        flows.extend(v["securityFlows"].as_array().cloned().unwrap_or_default());
    }
    for f in &mut flows {
        let kql = f["transformKql"].as_str().unwrap_or("source");
        if kql.starts_with('[') {
            // The one expression among the flows: the extra columns or not.
            if !kql.contains("variables('syslogKql')") {
                return Err(format!(
                    "azuredeploy.json: the transformation {kql:?} is an expression setup does not know"
                ));
            }
            f["transformKql"] = v["syslogKql"].clone();
        }
    }
    Ok(json!({
        "location": location,
        "kind": "Direct",
        "properties": {
            "description": v["ruleProperties"]["description"],
            "streamDeclarations": streams,
            "destinations": {"logAnalytics": [{"workspaceResourceId": workspace_id, "name": "workspace"}]},
            "dataFlows": flows,
        }
    }))
}

/// Whether the rule ARM holds already is `wanted` (what setup would write).
pub(super) fn rule_matches(existing: &Value, wanted: &Value) -> bool {
    let (e, w) = (&existing["properties"], &wanted["properties"]);
    existing["kind"] == wanted["kind"]
        && existing["location"]
            .as_str()
            .zip(wanted["location"].as_str())
            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
        && ["streamDeclarations", "dataFlows", "description"]
            .iter()
            .all(|k| e[*k] == w[*k])
        && e["destinations"]["logAnalytics"][0]["workspaceResourceId"]
            .as_str()
            .zip(w["destinations"]["logAnalytics"][0]["workspaceResourceId"].as_str())
            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
}

/// The heartbeat table's body: the template's table resource. Its column types
/// are spelled as the specification's `ColumnTypeEnum` lists them (`dateTime`,
/// not the `datetime` of a rule's stream declarations): Tables.json of
/// Microsoft.OperationalInsights 2022-10-01 in Azure/azure-rest-api-specs.
pub(super) fn heartbeat_table() -> Result<Value, String> {
    let t = inner()?;
    t["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| {
            r["type"] == "Microsoft.OperationalInsights/workspaces/tables"
                && r["properties"]["schema"]["name"] == HEARTBEAT_TABLE
        })
        .map(|r| json!({"properties": r["properties"]}))
        .ok_or_else(|| format!("azuredeploy.json: no {HEARTBEAT_TABLE} table"))
}

/// Whether the table ARM holds has the template's columns (names and types;
/// the service may answer a type in another case than it was given, as
/// `datetime` for `dateTime`).
pub(super) fn table_matches(existing: &Value, wanted: &Value) -> bool {
    let cols = |v: &Value| -> Vec<(String, String)> {
        v["properties"]["schema"]["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                (
                    c["name"].as_str().unwrap_or("").to_string(),
                    c["type"].as_str().unwrap_or("").to_ascii_lowercase(),
                )
            })
            .collect()
    };
    let (e, w) = (cols(existing), cols(wanted));
    !w.is_empty() && e == w
}

/// The role assignment: Monitoring Metrics Publisher for `principal`.
pub(super) fn assignment_body(subscription: &str, principal: &str, principal_type: &str) -> Value {
    json!({
        "properties": {
            "roleDefinitionId": format!("/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{MONITORING_METRICS_PUBLISHER}"),
            "principalId": principal,
            "principalType": principal_type,
        }
    })
}

/// The assignment's name: a GUID derived from the rule, the principal and the
/// role (name-based, SHA-1, RFC 9562 version 5 layout), so a second run writes
/// the same name (200) instead of a new one.
pub(super) fn assignment_name(rule_id: &str, principal: &str) -> String {
    let text = format!(
        "{}|{}|{MONITORING_METRICS_PUBLISHER}",
        rule_id.to_ascii_lowercase(),
        principal.to_ascii_lowercase()
    );
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, text.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d.as_ref()[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Whether `s` is a GUID (an object id).
pub(super) fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_has_the_template_streams_and_the_security_stream_only_with_sentinel() {
        let ws = "/subscriptions/s/resourceGroups/g/providers/Microsoft.OperationalInsights/workspaces/w";
        let plain = rule_body("westeurope", ws, false).unwrap();
        let streams = plain["properties"]["streamDeclarations"]
            .as_object()
            .unwrap();
        assert!(streams.contains_key("Custom-SyslaneSyslog"));
        assert!(streams.contains_key("Custom-SyslaneHeartbeat"));
        assert!(!streams.contains_key("Custom-SyslaneSecurity"));
        assert_eq!(plain["kind"], "Direct");
        let sentinel = rule_body("westeurope", ws, true).unwrap();
        assert!(sentinel["properties"]["streamDeclarations"]
            .as_object()
            .unwrap()
            .contains_key("Custom-SyslaneSecurity"));
        for f in sentinel["properties"]["dataFlows"].as_array().unwrap() {
            assert!(!f["transformKql"].as_str().unwrap().starts_with('['), "{f}");
        }
        assert!(rule_matches(&plain, &plain));
        assert!(!rule_matches(&sentinel, &plain));
    }

    #[test]
    fn a_table_matches_whatever_the_case_of_its_column_types() {
        let wanted = heartbeat_table().unwrap();
        assert_eq!(
            wanted["properties"]["schema"]["columns"][0]["type"],
            "dateTime"
        );
        let mut answered = wanted.clone();
        answered["properties"]["schema"]["columns"][0]["type"] = "datetime".into();
        assert!(table_matches(&answered, &wanted));
        answered["properties"]["schema"]["columns"][0]["type"] = "string".into();
        assert!(!table_matches(&answered, &wanted));
        assert!(!table_matches(&serde_json::Value::Null, &wanted));
    }

    #[test]
    fn assignment_names_are_stable_guids() {
        let a = assignment_name("/subscriptions/s/x", "00000000-0000-0000-0000-000000000001");
        assert!(is_guid(&a), "{a}");
        assert_eq!(
            a,
            assignment_name("/SUBSCRIPTIONS/s/x", "00000000-0000-0000-0000-000000000001")
        );
        assert_ne!(
            a,
            assignment_name("/subscriptions/s/x", "00000000-0000-0000-0000-000000000002")
        );
        assert!(!is_guid("not-a-guid"));
    }
}
