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

/// Creates or updates the rule; returns its logs ingestion endpoint and immutable id.
pub(super) fn data_collection_rule(
    arm: &Arm,
    ws: &Workspace,
    rule_id: &str,
    location: &str,
    security: bool,
) -> Result<(String, String), String> {
    let wanted = rule::rule_body(location, &ws.id, security)?;
    let existing = arm.get(rule_id, rule::RULE_API)?;
    // The rule's logs ingestion endpoint and immutable id, as ARM returns them:
    // properties.endpoints.logsIngestion (kind Direct, API 2023-03-11 and later)
    // and properties.immutableId.
    // <https://learn.microsoft.com/en-us/azure/azure-monitor/data-collection/data-collection-rule-structure>
    let ids = |v: &Value| {
        (
            v["properties"]["endpoints"]["logsIngestion"]
                .as_str()
                .map(String::from),
            v["properties"]["immutableId"].as_str().map(String::from),
        )
    };
    let name = rule_id.rsplit('/').next().unwrap_or("");
    let answer = if existing.ok() && rule::rule_matches(&existing.body, &wanted) {
        ok(&format!("data collection rule {name} unchanged"));
        existing.body
    } else {
        match arm.write("PUT", rule_id, rule::RULE_API, Some(&wanted))? {
            None => existing.body,
            Some(a) if a.ok() => {
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
    match ids(&answer) {
        (Some(e), Some(d)) => Ok((e, d)),
        _ if arm.dry_run => Ok((
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
    // The VM's system-assigned identity, as ARM describes the VM.
    // <https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/how-to-configure-managed-identities#system-assigned-managed-identity>
    let found = signin::vm_resource_id(cloud, &client.agent).and_then(|vm| {
        let v = arm.get(&vm, "2024-07-01")?;
        if !v.ok() {
            return Err(format!("read {vm}: {}", v.error()));
        }
        v.body["identity"]["principalId"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| format!("{vm} has no system-assigned identity (turn it on under Identity in the portal)"))
    });
    match found {
        Ok(p) => {
            ok(&format!("agent identity {p} (this VM's managed identity)"));
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

/// Assigns Monitoring Metrics Publisher on the rule. `false` when it could not
/// (then the command for someone who may is printed).
pub(super) fn role(
    arm: &Arm,
    ws: &Workspace,
    rule_id: &str,
    principal: &str,
) -> Result<bool, String> {
    let name = rule::assignment_name(rule_id, principal);
    let path = format!("{rule_id}/providers/Microsoft.Authorization/roleAssignments/{name}");
    let body = rule::assignment_body(&ws.subscription, principal, "ServicePrincipal");
    let Some(a) = arm.write("PUT", &path, rule::ROLE_API, Some(&body))? else {
        return Ok(true);
    };
    match (a.status, a.code()) {
        (201, _) => {
            ok("Monitoring Metrics Publisher assigned on the rule (takes up to 30 min to apply)")
        }
        (200, _) => ok("Monitoring Metrics Publisher already assigned on the rule"),
        // The same principal, role and scope under another name: already there.
        (409, "RoleAssignmentExists") => {
            ok("Monitoring Metrics Publisher already assigned on the rule")
        }
        (403, _) => {
            fail(
                &format!("assign Monitoring Metrics Publisher: {}", a.error()),
                &format!(
                    "writing role assignments needs Owner, User Access Administrator or Role Based Access Control Administrator.\n\
                     The rule and the drop-in are in place; someone with that right runs:\n\
                     az role assignment create --assignee-object-id {principal} --assignee-principal-type ServicePrincipal --role 'Monitoring Metrics Publisher' --scope '{rule_id}'"
                ),
            );
            return Ok(false);
        }
        _ => {
            fail(
                &format!("assign Monitoring Metrics Publisher: {}", a.error()),
                "run setup again",
            );
            return Err(STOPPED.into());
        }
    }
    Ok(true)
}
