//! The request bodies `syslane setup` sends, held to the Azure REST API
//! specifications (Azure/azure-rest-api-specs; extracts with their origin and
//! licence in tests/data/rest-api-specs/README.md): the bodies are the exact ones a
//! dry run prints, and a Swagger 2.0 walker checks them against the operation's
//! body schema.

use super::{setup, write_config};
use serde_json::{Map, Value};
use syslane_tests::emulator::Emulator;
use syslane_tests::*;

fn spec(file: &str) -> Value {
    let path = workspace_root()
        .join("tests/data/rest-api-specs")
        .join(file);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The bodies a dry run prints, by URL: `  PUT URL (not sent: --dry-run)` and the
/// JSON indented below it.
pub(super) fn dry_run_bodies(out: &str) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    let mut lines = out.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(url) = line
            .trim_start()
            .strip_prefix("PUT ")
            .and_then(|l| l.strip_suffix(" (not sent: --dry-run)"))
        else {
            continue;
        };
        let mut text = String::new();
        while let Some(l) = lines.peek().filter(|l| l.starts_with("    ")) {
            text.push_str(l);
            text.push('\n');
            lines.next();
        }
        found.push((url.to_string(), serde_json::from_str(&text).unwrap()));
    }
    found
}

/// What a walk found: values of extensible enums (`x-ms-enum.modelAsString: true`,
/// whose list is of known values, not of all allowed ones) outside their list,
/// as `path = value`.
type Extensions = Vec<String>;

/// Resolves a `$ref` within the file; a reference to another file of the
/// repository (common-types) or a definition the extract leaves out is an error:
/// a body that reaches one is not checked, so it is refused.
fn resolve<'a>(schema: &'a Value, root: &'a Value, at: &str) -> Result<&'a Value, String> {
    match schema["$ref"].as_str() {
        None => Ok(schema),
        Some(r) => {
            let name = r
                .strip_prefix("#/definitions/")
                .ok_or(format!("{at}: {r} is in another file, not shipped"))?;
            let d = &root["definitions"][name];
            if d.is_null() {
                return Err(format!("{at}: definition {name} is not in the extract"));
            }
            resolve(d, root, at)
        }
    }
}

/// The properties a schema declares, its own and those of its `allOf` parents
/// (a parent in another file is left out: the ARM common types' `ProxyResource`
/// and `Resource` have read-only properties only, which a request never sends).
fn declared(schema: &Value, root: &Value, at: &str) -> Result<Map<String, Value>, String> {
    let mut props = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for parent in schema["allOf"].as_array().into_iter().flatten() {
        if parent["$ref"].as_str().is_some_and(|r| !r.starts_with('#')) {
            continue;
        }
        let p = resolve(parent, root, at)?;
        props.extend(declared(p, root, at)?);
    }
    Ok(props)
}

/// Checks `value` against a Swagger 2.0 schema: `$ref`, `allOf`, `type`,
/// `required`, `enum` (closed, or extensible: see [`Extensions`]), `minimum` and
/// `maximum`, `items`, `properties` and `additionalProperties`. A request must
/// not send a property the schema marks `readOnly`, nor one the schema does not
/// declare (where `additionalProperties` gives no schema for it).
fn walk(value: &Value, schema: &Value, root: &Value, at: &str) -> Result<Extensions, String> {
    let schema = resolve(schema, root, at)?;
    let mut found = Extensions::new();
    let props = declared(schema, root, at)?;
    let kind = schema["type"].as_str();
    if kind == Some("object") || !props.is_empty() || schema.get("additionalProperties").is_some() {
        let obj = value.as_object().ok_or(format!("{at}: not an object"))?;
        for r in schema["required"].as_array().into_iter().flatten() {
            let r = r.as_str().unwrap_or_default();
            if !obj.contains_key(r) {
                return Err(format!("{at}: required {r} is missing"));
            }
        }
        for (k, v) in obj {
            let here = format!("{at}.{k}");
            let p = match (props.get(k), &schema["additionalProperties"]) {
                (Some(p), _) => p,
                (None, extra) if extra.is_object() => extra,
                _ => return Err(format!("{here}: not in the schema")),
            };
            if p["readOnly"] == true || resolve(p, root, &here)?["readOnly"] == true {
                return Err(format!("{here}: read-only"));
            }
            found.extend(walk(v, p, root, &here)?);
        }
        return Ok(found);
    }
    match kind {
        Some("string") => {
            let s = value.as_str().ok_or(format!("{at}: not a string"))?;
            if let Some(e) = schema["enum"].as_array() {
                if !e.iter().any(|x| x == s) {
                    if schema["x-ms-enum"]["modelAsString"] == true {
                        found.push(format!("{at} = {s}"));
                    } else {
                        return Err(format!("{at}: {s:?} is not one of {e:?}"));
                    }
                }
            }
        }
        Some("array") => {
            let items = value.as_array().ok_or(format!("{at}: not an array"))?;
            for (i, v) in items.iter().enumerate() {
                found.extend(walk(v, &schema["items"], root, &format!("{at}[{i}]"))?);
            }
        }
        Some("boolean") if !value.is_boolean() => return Err(format!("{at}: not a boolean")),
        Some("integer") => {
            let n = value.as_i64().ok_or(format!("{at}: not an integer"))?;
            if schema["minimum"].as_i64().is_some_and(|m| n < m)
                || schema["maximum"].as_i64().is_some_and(|m| n > m)
            {
                return Err(format!(
                    "{at}: {n} is outside {}..{}",
                    schema["minimum"], schema["maximum"]
                ));
            }
        }
        Some("number") if !value.is_number() => return Err(format!("{at}: not a number")),
        _ => {}
    }
    Ok(found)
}

/// `walk`, with no value outside an enum's list.
fn strict(value: &Value, schema: &Value, root: &Value) -> Result<(), String> {
    match walk(value, schema, root, "body")?.as_slice() {
        [] => Ok(()),
        outside => Err(format!("outside the known values: {outside:?}")),
    }
}

/// A dry run of setup with the security stream (so the rule has all three
/// streams): its printed bodies.
fn dry_run(emu: &Emulator, dir: &std::path::Path) -> Vec<(String, Value)> {
    let config = write_config(dir);
    let (ok, out, err) = setup(
        emu,
        &config,
        &[
            "--dry-run",
            "--security-stream",
            "on",
            "--principal-id",
            &emu.s("host_principal_id"),
        ],
    );
    assert!(ok, "{out}\n{err}");
    let bodies = dry_run_bodies(&out);
    for (u, _) in &bodies {
        assert!(u.contains("?api-version="), "{u}");
    }
    bodies
}

fn body<'a>(bodies: &'a [(String, Value)], path: &str, api: &str) -> &'a Value {
    let (url, b) = bodies
        .iter()
        .find(|(u, _)| u.contains(path))
        .unwrap_or_else(|| panic!("no PUT of {path} in {bodies:?}"));
    assert!(url.ends_with(&format!("?api-version={api}")), "{url}");
    b
}

#[test]
fn the_role_assignment_body_validates_against_the_rest_specification() {
    let spec = spec("authorization-RoleAssignments-2022-04-01.definitions.json");
    let create = &spec["definitions"]["RoleAssignmentCreateParameters"];
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), &[]);
    let bodies = dry_run(&emu, dir.path());
    let body = body(
        &bodies,
        "/providers/Microsoft.Authorization/roleAssignments/",
        "2022-04-01",
    );
    strict(body, create, &spec).unwrap();
    // Monitoring Metrics Publisher's built-in id, at subscription scope:
    // https://learn.microsoft.com/en-us/azure/role-based-access-control/built-in-roles/monitor#monitoring-metrics-publisher
    assert_eq!(
        body["properties"]["roleDefinitionId"],
        format!(
            "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/3913510d-42f4-4e42-8a64-420c390055eb",
            emu.s("subscription_id")
        )
        .as_str()
    );
    // The walker refuses what the specification refuses.
    let mut missing = body.clone();
    missing["properties"]
        .as_object_mut()
        .unwrap()
        .remove("principalId");
    assert!(strict(&missing, create, &spec).is_err());
    let mut wrong = body.clone();
    wrong["properties"]["principalType"] = "Robot".into();
    assert!(strict(&wrong, create, &spec).is_err());
    let mut read_only = body.clone();
    read_only["properties"]["scope"] = "/x".into();
    assert!(strict(&read_only, create, &spec).is_err());
}

/// The values outside an extensible enum's known list that Microsoft documents
/// for a rule the Logs Ingestion API sends to:
/// - `kind: Direct`, a rule with its own logs ingestion endpoint, no data
///   collection endpoint needed (API version 2023-03-11 and later):
///   <https://learn.microsoft.com/en-us/azure/azure-monitor/data-collection/data-collection-rule-structure>
///   and <https://learn.microsoft.com/en-us/azure/azure-monitor/logs/logs-ingestion-api-overview>;
/// - custom streams, whose names begin with `Custom-` (the specification's list
///   has the agent's `Microsoft-` streams only), declared in `streamDeclarations`
///   of the same rule.
fn documented_for_direct_rules(found: &str, declared: &Map<String, Value>) -> bool {
    if found == "body.kind = Direct" {
        return true;
    }
    let stream = found
        .split_once(".streams[")
        .filter(|(p, _)| p.starts_with("body.properties.dataFlows["))
        .and_then(|(_, rest)| rest.split_once("] = "))
        .map(|(_, v)| v);
    stream.is_some_and(|s| s.starts_with("Custom-") && declared.contains_key(s))
}

#[test]
fn the_rule_and_table_bodies_validate_against_the_rest_specifications() {
    let dcr_spec = spec("monitor-DataCollectionRules-2023-03-11.definitions.json");
    let rule_schema = &dcr_spec["definitions"]["DataCollectionRuleResource"];
    let table_spec = spec("operationalinsights-Tables-2022-10-01.definitions.json");
    let table_schema = &table_spec["definitions"]["Table"];
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), &[]);
    let bodies = dry_run(&emu, dir.path());

    // The rule: every property declared and writable, types and closed enums as
    // specified; outside the extensible enums' lists only what Microsoft
    // documents for rules of the Logs Ingestion API.
    let rule = body(
        &bodies,
        "/providers/Microsoft.Insights/dataCollectionRules/syslane-dcr?",
        "2023-03-11",
    );
    let found = walk(rule, rule_schema, &dcr_spec, "body").unwrap();
    let declared = rule["properties"]["streamDeclarations"]
        .as_object()
        .unwrap();
    assert_eq!(declared.len(), 3, "{declared:?}");
    assert!(
        found.contains(&"body.kind = Direct".to_string()),
        "{found:?}"
    );
    for f in &found {
        assert!(
            documented_for_direct_rules(f, declared),
            "{f}: not a value the specification or Microsoft's documentation gives"
        );
    }
    // Every declared stream flows somewhere, and every flow names a declared one.
    let flows = rule["properties"]["dataFlows"].as_array().unwrap();
    for s in declared.keys() {
        assert!(
            flows.iter().any(|f| f["streams"][0] == s.as_str()),
            "{s} has no flow"
        );
    }
    // The walker refuses what the specification refuses.
    let mut no_location = rule.clone();
    no_location.as_object_mut().unwrap().remove("location");
    assert!(walk(&no_location, rule_schema, &dcr_spec, "body").is_err());
    let mut endpoints = rule.clone();
    endpoints["properties"]["endpoints"] = serde_json::json!({"logsIngestion": "https://x"});
    assert!(walk(&endpoints, rule_schema, &dcr_spec, "body")
        .unwrap_err()
        .contains("read-only"));
    let mut unknown = rule.clone();
    unknown["properties"]["dataFlows"][0]["transform"] = "source".into();
    assert!(walk(&unknown, rule_schema, &dcr_spec, "body").is_err());
    let mut bad_type = rule.clone();
    bad_type["properties"]["streamDeclarations"]["Custom-SyslaneSyslog"]["columns"][0]["type"] =
        "datetme".into();
    let found = walk(&bad_type, rule_schema, &dcr_spec, "body").unwrap();
    assert!(
        !found
            .iter()
            .all(|f| documented_for_direct_rules(f, declared)),
        "{found:?}"
    );

    // The table: strictly as specified (no value outside a list, retention in range).
    let table = body(
        &bodies,
        "/providers/Microsoft.OperationalInsights/workspaces/emulated-workspace/tables/SyslaneHeartbeat_CL?",
        "2022-10-01",
    );
    strict(table, table_schema, &table_spec).unwrap();
    let mut retention = table.clone();
    retention["properties"]["retentionInDays"] = 3000.into();
    assert!(strict(&retention, table_schema, &table_spec).is_err());
    let mut read_only = table.clone();
    read_only["properties"]["schema"]["tableType"] = "CustomLog".into();
    assert!(strict(&read_only, table_schema, &table_spec).is_err());
}
