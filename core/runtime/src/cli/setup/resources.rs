//! The Resource Manager steps: the heartbeat table, the data collection rule, the
//! agent's identity and its role on the rule. Each prints its ✓ or ✗ line.

use super::arm::Arm;
use super::progress::{fail, ok};
use super::rule;
use super::signin::{self, How};
use super::{Args, Cloud, Workspace, STOPPED};
use serde_json::Value;
use std::time::Duration;
use syslane_plugin_azure::reuse::Client;

pub(super) fn heartbeat_table(arm: &Arm, ws: &Workspace) -> Result<(), String> {
    let path = format!("{}/tables/{}", ws.id, rule::HEARTBEAT_TABLE);
    let wanted = rule::heartbeat_table()?;
    let existing = arm.get(&path, rule::WORKSPACE_API)?;
    if existing.ok() && rule::table_matches(&existing.body, &wanted) {
        ok(&format!("table {} unchanged", rule::HEARTBEAT_TABLE));
        return Ok(());
    }
    let Some(a) = arm.write("PUT", &path, rule::WORKSPACE_API, Some(&wanted))? else {
        return Ok(());
    };
    if !a.ok() {
        fail(
            &format!("create table {}: {}", rule::HEARTBEAT_TABLE, a.error()),
            &permission_hint(
                a.status,
                "Log Analytics Contributor (or Contributor) on the workspace",
            ),
        );
        return Err(STOPPED.into());
    }
    // A table write is a long-running operation: 202 and Azure-AsyncOperation.
    if a.status == 202 || a.status == 201 {
        if let Some(url) = &a.operation {
            if let Err(e) = arm.wait_operation(url, Duration::from_secs(600)) {
                fail(
                    &format!("create table {}: {e}", rule::HEARTBEAT_TABLE),
                    "run setup again",
                );
                return Err(STOPPED.into());
            }
        }
    }
    ok(&format!("table {} created", rule::HEARTBEAT_TABLE));
    Ok(())
}

pub(super) fn permission_hint(status: u16, role: &str) -> String {
    if status == 403 {
        format!("the signed-in identity lacks the permission: it needs {role}")
    } else {
        "run setup again; if it persists, the message above says why".into()
    }
}

/// The rule as ARM answered: its logs ingestion endpoint and immutable id, and
/// whether this run created it.
pub(super) struct Rule {
    pub(super) endpoint: String,
    pub(super) immutable_id: String,
    pub(super) created: bool,
}

/// Creates or updates the rule.
pub(super) fn data_collection_rule(
    arm: &Arm,
    ws: &Workspace,
    rule_id: &str,
    location: &str,
    security: bool,
) -> Result<Rule, String> {
    let wanted = rule::rule_body(location, &ws.id, security)?;
    let existing = arm.get(rule_id, rule::RULE_API)?;
    // The rule's logs ingestion endpoint and immutable id, as ARM returns them:
    // properties.endpoints.logsIngestion (kind Direct, API 2023-03-11 and later)
    // and properties.immutableId, both read-only in the specification
    // (Azure/azure-rest-api-specs, specification/monitor/resource-manager/
    // Microsoft.Insights/stable/2023-03-11/dataCollectionRules_API.json:
    // DataCollectionRule.endpoints, EndpointsSpec.logsIngestion, immutableId).
    // <https://learn.microsoft.com/en-us/azure/azure-monitor/data-collection/data-collection-rule-structure>
    // <https://learn.microsoft.com/en-us/azure/azure-monitor/logs/logs-ingestion-api-overview>
    let ids = |v: &Value| {
        (
            v["properties"]["endpoints"]["logsIngestion"]
                .as_str()
                .map(String::from),
            v["properties"]["immutableId"].as_str().map(String::from),
        )
    };
    let name = rule_id.rsplit('/').next().unwrap_or("");
    let mut created = false;
    let answer = if existing.ok() && rule::rule_matches(&existing.body, &wanted) {
        ok(&format!("data collection rule {name} unchanged"));
        existing.body
    } else {
        match arm.write("PUT", rule_id, rule::RULE_API, Some(&wanted))? {
            None => existing.body,
            Some(a) if a.ok() => {
                created = a.status == 201;
                ok(&format!(
                    "data collection rule {name} {}",
                    if a.status == 201 {
                        "created"
                    } else {
                        "updated"
                    }
                ));
                a.body
            }
            Some(a) => {
                fail(
                    &format!("create data collection rule {name}: {}", a.error()),
                    &permission_hint(
                        a.status,
                        "Monitoring Contributor (or Contributor) on the resource group",
                    ),
                );
                return Err(STOPPED.into());
            }
        }
    };
    let rule = |endpoint: String, immutable_id: String| Rule {
        endpoint,
        immutable_id,
        created,
    };
    match ids(&answer) {
        (Some(e), Some(d)) => Ok(rule(e, d)),
        _ if arm.dry_run => Ok(rule(
            "https://RULE-ENDPOINT.ingest.monitor.azure.com".into(),
            "dcr-IMMUTABLE-ID".into(),
        )),
        _ => {
            fail("the rule has no logs ingestion endpoint or immutable id", "ARM's answer lacked properties.endpoints.logsIngestion or immutableId; run setup again");
            Err(STOPPED.into())
        }
    }
}

/// The object id of the agent's identity.
pub(super) fn principal(
    a: &Args,
    arm: &Arm,
    cloud: &Cloud,
    how: &How,
    client: &Client,
) -> Result<String, String> {
    if let Some(p) = &a.principal_id {
        if !rule::is_guid(p) {
            return Err(format!("--principal-id {p:?} is not an object id (a GUID)"));
        }
        ok(&format!("agent identity {p} (--principal-id)"));
        return Ok(p.clone());
    }
    if matches!(how, How::Secret { .. } | How::Certificate { .. }) {
        fail(
            "the service principal's object id is not known",
            "add --principal-id: `az ad sp show --id CLIENT_ID --query id -o tsv` prints it (not the application id)",
        );
        return Err(STOPPED.into());
    }
    // The host's system-assigned identity, as ARM describes the VM or the Arc
    // machine: `identity.principalId`.
    // <https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/how-to-configure-managed-identities#system-assigned-managed-identity>
    // <https://learn.microsoft.com/en-us/azure/azure-arc/servers/managed-identity-authentication>
    let (what, api) = if cloud.arc.is_some() {
        ("this Arc-enabled server's identity", "2022-12-27")
    } else {
        ("this VM's managed identity", "2024-07-01")
    };
    let found = signin::host_resource_id(cloud, &client.agent).and_then(|id| {
        let v = arm.get(&id, api)?;
        if !v.ok() {
            return Err(format!("read {id}: {}", v.error()));
        }
        v.body["identity"]["principalId"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| format!("{id} has no system-assigned identity (turn it on under Identity in the portal)"))
    });
    match found {
        Ok(p) => {
            ok(&format!("agent identity {p} ({what})"));
            Ok(p)
        }
        Err(e) => {
            fail(
                &format!("this host's identity: {e}"),
                "add --principal-id OBJECT_ID; for an Arc-enabled server: `az connectedmachine show -g GROUP -n SERVER --query identity.principalId -o tsv`",
            );
            Err(STOPPED.into())
        }
    }
}

/// What became of the role assignment.
pub(super) enum Role {
    Assigned,
    /// Refused (403): the command someone allowed to assign roles must run.
    Refused {
        command: String,
    },
}

/// The one command that assigns the role, for someone with the right to.
pub(super) fn role_command(principal: &str, rule_id: &str) -> String {
    format!(
        "az role assignment create --assignee-object-id {principal} --assignee-principal-type ServicePrincipal --role {} --scope {rule_id}",
        rule::MONITORING_METRICS_PUBLISHER
    )
}

/// Assigns Monitoring Metrics Publisher on the rule.
pub(super) fn role(
    arm: &Arm,
    ws: &Workspace,
    rule_id: &str,
    principal: &str,
) -> Result<Role, String> {
    let name = rule::assignment_name(rule_id, principal);
    let path = format!("{rule_id}/providers/Microsoft.Authorization/roleAssignments/{name}");
    let body = rule::assignment_body(&ws.subscription, principal, "ServicePrincipal");
    let Some(a) = arm.write("PUT", &path, rule::ROLE_API, Some(&body))? else {
        return Ok(Role::Assigned);
    };
    // 201 for a new assignment, 200 for the same name again; 409
    // RoleAssignmentExists for the same principal, role and scope under another
    // name, which is success too.
    // <https://learn.microsoft.com/en-us/rest/api/authorization/role-assignments/create>
    // <https://learn.microsoft.com/en-us/azure/role-based-access-control/troubleshooting> (RoleAssignmentExists)
    match (a.status, a.code()) {
        (201, _) => {
            ok("Monitoring Metrics Publisher assigned on the rule (takes up to 30 min to apply)")
        }
        (200, _) => ok("Monitoring Metrics Publisher already assigned on the rule"),
        (409, "RoleAssignmentExists") => {
            ok("Monitoring Metrics Publisher already assigned on the rule")
        }
        (403, _) => {
            fail(
                &format!("assign Monitoring Metrics Publisher: {}", a.error()),
                "the signed-in identity may not write role assignments (Microsoft.Authorization/roleAssignments/write): \
                 that needs Owner, User Access Administrator or Role Based Access Control Administrator on the rule, its resource group or subscription",
            );
            return Ok(Role::Refused {
                command: role_command(principal, rule_id),
            });
        }
        _ => {
            fail(
                &format!("assign Monitoring Metrics Publisher: {}", a.error()),
                "run setup again",
            );
            return Err(STOPPED.into());
        }
    }
    Ok(Role::Assigned)
}
