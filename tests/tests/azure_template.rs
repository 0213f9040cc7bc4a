//! The deployment template (`plugins/azure/deploy/azuredeploy.json`), deployed by
//! the template evaluator with the parameters a user gives, held against
//! Microsoft's documentation: the role id, the region, the security stream and its
//! Sentinel prerequisite, the rule's own endpoint, and every column the real agent
//! writes, declared with the documented type of the table it lands in.

#[path = "support/azure_tables.rs"]
mod azure_tables;

use azure_tables::*;
use serde_json::Value;
use std::collections::BTreeMap;
use syslane_tests::emulator::kql::Transform;
use syslane_tests::emulator::rule::{deploy_rule, parameters, Rule, DEFAULT_TEMPLATE};
use syslane_tests::*;

const SYSLOG_STREAM: &str = "Custom-SyslaneSyslog";
const SECURITY_STREAM: &str = "Custom-SyslaneSecurity";
const HEARTBEAT_STREAM: &str = "Custom-SyslaneHeartbeat";
/// Fields the agent may add to Syslog records that the Syslog table has no column for.
const SYSLOG_EXTRAS: [&str; 6] = [
    "MsgId",
    "ProcId",
    "StructuredData",
    "RawMessage",
    "ParseFailed",
    "Truncated",
];

fn rule(params: &[&str]) -> Rule {
    let mut all = vec!["workspaceName=ws"];
    all.extend_from_slice(params);
    deploy_rule(
        DEFAULT_TEMPLATE,
        &parameters(all.iter().copied()).unwrap(),
        "westeurope",
    )
    .unwrap_or_else(|e| panic!("{params:?}: {e}"))
}

/// Every combination of the template's switches.
fn every_variant() -> Vec<(Vec<&'static str>, Rule)> {
    let mut out = Vec::new();
    for security in ["false", "true"] {
        for extras in ["false", "true"] {
            for dce in ["false", "true"] {
                let p: Vec<&'static str> = vec![
                    if security == "true" {
                        "securityStream=true"
                    } else {
                        "securityStream=false"
                    },
                    if extras == "true" {
                        "syslogExtraColumns=true"
                    } else {
                        "syslogExtraColumns=false"
                    },
                    if dce == "true" {
                        "dataCollectionEndpoint=true"
                    } else {
                        "dataCollectionEndpoint=false"
                    },
                ];
                let r = rule(&p);
                out.push((p, r));
            }
        }
    }
    out
}

#[test]
fn the_role_is_monitoring_metrics_publisher_on_the_rule_for_a_service_principal() {
    let r = rule(&[]);
    assert_eq!(
        r.deployment
            .of_type("Microsoft.Authorization/roleAssignments")
            .count(),
        0,
        "no principal, no assignment"
    );
    let r = rule(&["agentPrincipalId=11111111-2222-3333-4444-555555555555"]);
    let roles: Vec<&Value> = r
        .deployment
        .of_type("Microsoft.Authorization/roleAssignments")
        .collect();
    assert_eq!(roles.len(), 1);
    let role = roles[0];
    let id = role["properties"]["roleDefinitionId"].as_str().unwrap();
    assert!(
        id.ends_with(&format!(
            "/providers/Microsoft.Authorization/roleDefinitions/{MONITORING_METRICS_PUBLISHER}"
        )),
        "{id}"
    );
    assert_eq!(role["properties"]["principalType"], "ServicePrincipal");
    assert_eq!(
        role["properties"]["principalId"],
        "11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(
        role["scope"],
        "Microsoft.Insights/dataCollectionRules/syslane-dcr"
    );
    // Users and groups can be given too; anything else is refused by the template.
    rule(&["agentPrincipalId=x", "agentPrincipalType=User"]);
    assert!(deploy_rule(
        DEFAULT_TEMPLATE,
        &parameters(["workspaceName=ws", "agentPrincipalType=Robot"]).unwrap(),
        "westeurope"
    )
    .is_err());
}

#[test]
fn the_rule_and_its_endpoint_are_in_the_workspaces_region() {
    for dce in [
        "dataCollectionEndpoint=false",
        "dataCollectionEndpoint=true",
    ] {
        let r = rule(&[dce]);
        assert_eq!(r.location, "westeurope", "not the resource group's region");
        for e in r
            .deployment
            .of_type("Microsoft.Insights/dataCollectionEndpoints")
        {
            assert_eq!(e["location"], "westeurope");
        }
        assert_eq!(r.deployment.outputs["location"], "westeurope");
        let r = rule(&[dce, "location=eastus2"]);
        assert_eq!(r.location, "eastus2", "an explicit location wins");
    }
}

#[test]
fn the_security_stream_exists_only_when_asked_for() {
    let r = rule(&[]);
    assert!(!r.streams.contains_key(SECURITY_STREAM));
    assert!(r
        .flows
        .iter()
        .all(|f| f.output != "Microsoft-CommonSecurityLog"));
    assert_eq!(r.deployment.outputs["securityStream"], "");
    assert_eq!(r.flow(SYSLOG_STREAM).unwrap().output, "Microsoft-Syslog");
    assert_eq!(
        r.flow(HEARTBEAT_STREAM).unwrap().output,
        "Custom-SyslaneHeartbeat_CL"
    );
    let r = rule(&["securityStream=true"]);
    assert!(r.streams.contains_key(SECURITY_STREAM));
    assert_eq!(
        r.flow(SECURITY_STREAM).unwrap().output,
        "Microsoft-CommonSecurityLog"
    );
    assert_eq!(r.deployment.outputs["securityStream"], SECURITY_STREAM);
}

/// A rule of kind Direct has its own logs ingestion endpoint (API 2023-03-11 and
/// later); a data collection endpoint is made only when asked for (private link).
/// <https://learn.microsoft.com/en-us/azure/azure-monitor/logs/logs-ingestion-api-overview#endpoint>
#[test]
fn the_rule_carries_its_own_endpoint_and_a_dce_is_only_for_private_link() {
    let r = rule(&[]);
    let dcr = r
        .deployment
        .of_type("Microsoft.Insights/dataCollectionRules")
        .next()
        .unwrap();
    assert_eq!(dcr["kind"], "Direct");
    assert!(dcr["apiVersion"].as_str().unwrap() >= "2023-03-11");
    assert!(dcr["properties"].get("dataCollectionEndpointId").is_none());
    assert_eq!(
        r.deployment
            .of_type("Microsoft.Insights/dataCollectionEndpoints")
            .count(),
        0
    );
    let endpoint = r.deployment.outputs["endpoint"].as_str().unwrap();
    assert!(
        endpoint.starts_with("https://syslane-dcr-") && endpoint.contains(".westeurope-1.ingest."),
        "the rule's own endpoint: {endpoint}"
    );
    assert!(r.deployment.outputs["dcrImmutableId"]
        .as_str()
        .unwrap()
        .starts_with("dcr-"));
    // The rule's resource id, the scope of its role assignment (deploy.sh prints
    // the `az role assignment create` command with it when no principal is given).
    let rule_id = r.deployment.outputs["dcrResourceId"].as_str().unwrap();
    assert!(
        rule_id.starts_with("/subscriptions/")
            && rule_id.ends_with("/providers/Microsoft.Insights/dataCollectionRules/syslane-dcr"),
        "{rule_id}"
    );

    let r = rule(&["dataCollectionEndpoint=true"]);
    let dce: Vec<&Value> = r
        .deployment
        .of_type("Microsoft.Insights/dataCollectionEndpoints")
        .collect();
    assert_eq!(dce.len(), 1);
    let dcr = r
        .deployment
        .of_type("Microsoft.Insights/dataCollectionRules")
        .next()
        .unwrap();
    assert!(dcr["properties"]["dataCollectionEndpointId"]
        .as_str()
        .unwrap()
        .ends_with("/dataCollectionEndpoints/syslane-dce"));
    assert!(r.deployment.outputs["endpoint"]
        .as_str()
        .unwrap()
        .starts_with("https://syslane-dce-"));
}

/// The documented columns and types of a flow's destination, with the custom
/// columns the template adds to it.
fn destination(r: &Rule, output: &str) -> BTreeMap<String, String> {
    let (documented, table): (&[(&str, &str)], &str) = match output {
        "Microsoft-Syslog" => (SYSLOG, "Syslog"),
        "Microsoft-CommonSecurityLog" => (COMMON_SECURITY_LOG, "CommonSecurityLog"),
        other => (&[], other.strip_prefix("Custom-").unwrap()),
    };
    let mut columns: BTreeMap<String, String> = documented
        .iter()
        .map(|(c, _)| (c.to_string(), type_of(documented, c).unwrap().to_string()))
        .collect();
    for t in r
        .deployment
        .of_type("Microsoft.OperationalInsights/workspaces/tables")
    {
        if t["properties"]["schema"]["name"] == table {
            for c in t["properties"]["schema"]["columns"].as_array().unwrap() {
                let name = c["name"].as_str().unwrap();
                assert!(
                    !documented.is_empty() || !name.ends_with("_CF"),
                    "custom tables take plain names"
                );
                if !documented.is_empty() {
                    assert!(
                        name.ends_with("_CF"),
                        "{name}: custom columns of an Azure table end in _CF"
                    );
                }
                columns.insert(name.to_string(), c["type"].as_str().unwrap().to_lowercase());
            }
        }
    }
    columns
}

#[test]
fn every_transformation_is_one_line_and_maps_declared_columns_to_documented_ones() {
    for (params, r) in every_variant() {
        for (stream, declared) in &r.streams {
            assert!(stream.starts_with("Custom-"), "{stream}");
            let flow = r
                .flow(stream)
                .unwrap_or_else(|| panic!("{params:?}: no flow reads {stream}"));
            assert!(!flow.kql.contains('\n'), "{}", flow.kql);
            let table = destination(&r, &flow.output);
            let pairs: Vec<(String, String)> = match &flow.transform {
                Transform::PassThrough => declared.keys().map(|c| (c.clone(), c.clone())).collect(),
                Transform::Project(p) => p.clone(),
            };
            assert!(pairs.iter().any(|(o, _)| o == "TimeGenerated"));
            for (out, input) in pairs {
                let in_type = declared
                    .get(&input)
                    .unwrap_or_else(|| panic!("{params:?} {stream}: {input} is not declared"));
                let out_type = table.get(&out).unwrap_or_else(|| {
                    panic!(
                        "{params:?} {stream}: {out} is not a column of {}",
                        flow.output
                    )
                });
                assert_eq!(in_type, out_type, "{params:?} {stream}: {input} -> {out}");
                assert!(
                    !RESERVED_COLUMNS.contains(&out.as_str()),
                    "{out} is reserved"
                );
            }
        }
        let syslog = r.flow(SYSLOG_STREAM).unwrap();
        let extras_on = params.contains(&"syslogExtraColumns=true");
        for extra in SYSLOG_EXTRAS {
            let kept = syslog.transform.inputs().contains(&extra);
            assert_eq!(kept, extras_on, "{params:?}: {extra}");
        }
    }
}

/// Cisco ASA/FTD lines that between them fill every column of
/// `syslane_plugin_cef::ASA_COLUMNS`.
const ASA_LINES: [&str; 4] = [
    "<166>Dec  6 10:00:00 fw01 %ASA-6-302013: Built outbound TCP connection 9 for outside:198.51.100.1/80 (198.51.100.1/80) to inside:10.0.0.2/53496 (203.0.113.2/53496) (alice)",
    "<166>Dec  6 10:00:00 fw01 %ASA-6-302014: Teardown TCP connection 9 for outside:198.51.100.1/80 to inside:10.0.0.2/53496 duration 0:00:30 bytes 5000000000 TCP FINs",
    "<164>Dec  6 10:00:00 fw01 %ASA-4-106023: Deny tcp src outside:198.51.100.1/4444 dst inside:10.0.0.2/22 by access-group \"outside_in\" [0x0, 0x0]",
    "<161>Dec  6 10:00:00 fw01 %FTD-1-430003: AccessControlRuleAction: Allow, SrcIP: 10.0.0.2, DstIP: 198.51.100.1, InitiatorBytes: 42, ResponderBytes: 5000000000",
];

/// What the real agent writes for Syslog, CEF and ASA/FTD input (every optional
/// field, every mapped CEF key, every ASA column, small and large numbers), column
/// by column, against the rule.
#[test]
fn every_column_the_agent_writes_is_declared_with_the_type_of_its_table() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_builtins(dir.path());
    let (syslog_port, cef_port) = (free_port(), free_port());
    let out = dir.path().join("records.jsonl");
    let config = format!(
        "max_message_size = 600\n{}",
        config_with(
            &plugins,
            &format!(
                "[[listen]]\naddress = \"tcp://127.0.0.1:{syslog_port}\"\ninput = \"syslog\"\ntimezone = \"UTC\"\nkeep_raw = true\n\
                 [[listen]]\naddress = \"tcp://127.0.0.1:{cef_port}\"\ninput = \"cef\"\ntimezone = \"UTC\"\n"
            ),
            &out,
        )
    );
    let agent = Agent::start(dir.path(), &config);
    send_tcp_lf(
        syslog_port,
        [
            "<165>1 2026-11-25T10:00:00.123Z web01 app worker-7 ID47 [origin ip=\"192.0.2.1\"] hello".to_string(),
            "<13>Nov 25 10:00:00 web01 sshd[42]: plain".to_string(),
            "\u{1}\u{2} not syslog at all".to_string(),
            format!("<13>Nov 25 10:00:00 web01 app: {}", "x".repeat(700)),
        ],
    );
    let mut small = String::from("<134>Nov 25 10:00:00 fw01 CEF:0|Acme|FW|1|100|blocked|7|");
    let mut large = small.clone();
    for (key, _, kind) in syslane_plugin_cef::COLUMNS {
        let (s, l) = match kind {
            syslane_plugin_cef::Column::String => ("v".to_string(), "v".to_string()),
            _ => ("42".to_string(), "5000000000".to_string()),
        };
        small.push_str(&format!("{key}={s} "));
        large.push_str(&format!("{key}={l} "));
    }
    small.push_str("unmapped=1");
    send_tcp_lf(cef_port, [small, large]);
    send_tcp_lf(cef_port, ASA_LINES.map(String::from));
    assert!(wait_until(
        std::time::Duration::from_secs(20),
        || count_lines(&out) >= 10
    ));
    agent.stop();
    let records = read_records(&out);

    let mut syslog_fields: BTreeMap<String, Value> = BTreeMap::new();
    let mut security_fields: BTreeMap<String, Value> = BTreeMap::new();
    for r in &records {
        let target = if r.get("DeviceVendor").is_some() {
            &mut security_fields
        } else {
            &mut syslog_fields
        };
        for (k, v) in r.as_object().unwrap() {
            if !v.is_null() {
                target.insert(k.clone(), v.clone());
            }
        }
    }
    for extra in SYSLOG_EXTRAS {
        assert!(
            syslog_fields.contains_key(extra),
            "the agent wrote {extra}: {syslog_fields:?}"
        );
    }
    for n in 1..=3 {
        assert!(security_fields.contains_key(&format!("FieldDeviceCustomNumber{n}")));
        assert!(security_fields.contains_key(&format!("DeviceCustomNumber{n}")));
    }
    let asa_records: Vec<&Value> = records
        .iter()
        .filter(|r| r["DeviceVendor"] == "Cisco")
        .collect();
    assert_eq!(asa_records.len(), ASA_LINES.len(), "{records:?}");
    for (name, kind) in syslane_plugin_cef::ASA_COLUMNS {
        assert!(
            asa_records.iter().any(|r| !r[*name].is_null()),
            "no ASA line filled {name}: {asa_records:?}"
        );
        let documented = type_of(COMMON_SECURITY_LOG, name)
            .unwrap_or_else(|| panic!("{name} is not a CommonSecurityLog column"));
        let expected = match kind {
            syslane_plugin_cef::Column::String => "string",
            syslane_plugin_cef::Column::Int => "int",
            syslane_plugin_cef::Column::Long => "long",
        };
        assert_eq!(documented, expected, "{name}");
    }

    // The book's page on records says which fields the rule drops.
    let page = std::fs::read_to_string(workspace_root().join("docs/src/records.md")).unwrap();
    for (params, r) in every_variant() {
        let extras_on = params.contains(&"syslogExtraColumns=true");
        let mut streams = vec![(SYSLOG_STREAM, &syslog_fields)];
        if params.contains(&"securityStream=true") {
            streams.push((SECURITY_STREAM, &security_fields));
        }
        for (stream, fields) in streams {
            let declared = &r.streams[stream];
            let flow = r.flow(stream).unwrap();
            let table = destination(&r, &flow.output);
            for (name, value) in fields {
                let kind = declared
                    .get(name)
                    .unwrap_or_else(|| panic!("{params:?} {stream} does not declare {name}"));
                assert!(
                    value_fits(value, kind),
                    "{stream}: {name} = {value} is declared {kind}"
                );
                let Transform::Project(pairs) = &flow.transform else {
                    panic!("{stream} is projected");
                };
                match pairs.iter().find(|(_, i)| i == name) {
                    Some((out, _)) => assert_eq!(&table[out], kind, "{name} -> {out}"),
                    None => {
                        assert!(
                            stream == SYSLOG_STREAM
                                && !extras_on
                                && SYSLOG_EXTRAS.contains(&name.as_str()),
                            "{params:?} {stream}: {name} is written but dropped by the rule"
                        );
                        assert!(
                            page.contains(&format!("`{name}`")),
                            "docs/src/records.md says {name} is dropped"
                        );
                    }
                }
            }
        }
    }
}

/// Whether a JSON value is what the Logs Ingestion API takes for a declared type.
fn value_fits(v: &Value, kind: &str) -> bool {
    match kind {
        "string" => v.is_string(),
        "int" => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        "long" => v.is_i64(),
        "boolean" => v.is_boolean(),
        "real" => v.is_number(),
        "datetime" => v
            .as_str()
            .is_some_and(|s| s.parse::<jiff::Timestamp>().is_ok()),
        "dynamic" => true,
        _ => false,
    }
}
