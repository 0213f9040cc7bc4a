//! The Azure Resource Manager requests `syslane setup` makes, for one emulated
//! subscription, resource group, workspace and VM:
//! - `GET` the workspace (`Microsoft.OperationalInsights/workspaces`, 2022-10-01)
//!   and its tables; `PUT` a table answers 202 with `Azure-AsyncOperation`, whose
//!   status reads `InProgress` once, then `Succeeded`, as ARM's asynchronous
//!   operations do:
//!   <https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/async-operations>;
//! - `GET`/`PUT`/`DELETE` a data collection rule (`Microsoft.Insights`, 2023-03-11).
//!   The answer carries `properties.immutableId` and, for kind `Direct`,
//!   `properties.endpoints.logsIngestion`
//!   (<https://learn.microsoft.com/en-us/azure/azure-monitor/data-collection/data-collection-rule-structure>);
//!   here they are the emulator's own rule id and URL, so the agent set up this
//!   way sends to the emulator. The stored body is what the test compares with
//!   the template's rule;
//! - `PUT`/`DELETE` role assignments on the rule (`Microsoft.Authorization`,
//!   2022-04-01): 201 for a new one, 200 for the same name again, 409
//!   `RoleAssignmentExists` for the same principal, role and scope under another
//!   name (<https://learn.microsoft.com/en-us/azure/role-based-access-control/troubleshooting>);
//! - `GET` the VM (`Microsoft.Compute/virtualMachines`) for `identity.principalId`,
//!   and the Arc machine (`Microsoft.HybridCompute/machines`, 2022-12-27) the same
//!   way: an Arc-enabled server's system-assigned identity is the machine
//!   resource's (<https://learn.microsoft.com/en-us/azure/azure-arc/servers/managed-identity-authentication>).
//!
//! Every request needs a bearer token issued for Resource Manager (not one for the
//! Logs Ingestion API), else 401 `InvalidAuthenticationToken`.

use crate::server::{body, header, query, reply, service_error, Reply, Shared};
use crate::setup::random_hex;
use hyper::body::Incoming;
use hyper::Request;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

pub(crate) const MONITORING_METRICS_PUBLISHER: &str = "3913510d-42f4-4e42-8a64-420c390055eb";
pub(crate) const RESOURCE_GROUP: &str = "syslane-rg";
pub(crate) const WORKSPACE: &str = "emulated-workspace";
pub(crate) const VM: &str = "emulated-vm";
pub(crate) const ARC_MACHINE: &str = "emulated-arc-server";

/// The Arc machine's resource id in subscription `sub`.
pub(crate) fn arc_machine_id_of(sub: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.HybridCompute/machines/{ARC_MACHINE}")
}

/// What ARM holds: rules by name, tables written, operations by id (polls left
/// before `Succeeded`), role assignments by their full id.
#[derive(Default)]
pub(crate) struct ArmState {
    pub(crate) rules: std::collections::BTreeMap<String, Value>,
    pub(crate) tables: std::collections::BTreeMap<String, Value>,
    pub(crate) operations: std::collections::HashMap<String, u32>,
    /// Full id → (body as stored, when it was created).
    pub(crate) assignments: std::collections::BTreeMap<String, (Value, Instant)>,
    /// Every ARM request: method, path, status.
    pub(crate) log: Vec<Value>,
}

fn group_id(sh: &Shared) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{RESOURCE_GROUP}",
        sh.s.identity.subscription_id
    )
}

pub(crate) fn workspace_id(sh: &Shared) -> String {
    format!(
        "{}/providers/Microsoft.OperationalInsights/workspaces/{WORKSPACE}",
        group_id(sh)
    )
}

pub(crate) fn vm_id(sh: &Shared) -> String {
    format!(
        "{}/providers/Microsoft.Compute/virtualMachines/{VM}",
        group_id(sh)
    )
}

/// ARM's answer to an api-version this emulator does not serve, if so.
fn wrong_api(req: &Request<Incoming>, want: &str) -> Option<Reply> {
    match query(req).get("api-version") {
        Some(v) if v == want => None,
        other => Some(service_error(
            400,
            "InvalidApiVersionParameter",
            &format!(
                "The api-version '{}' is invalid; this emulator serves {want}.",
                other.map(String::as_str).unwrap_or("")
            ),
        )),
    }
}

fn not_found(kind: &str, name: &str) -> Reply {
    service_error(
        404,
        "ResourceNotFound",
        &format!(
            "The Resource '{kind}/{name}' under resource group '{RESOURCE_GROUP}' was not found."
        ),
    )
}

pub(crate) async fn arm(sh: Arc<Shared>, req: Request<Incoming>) -> Reply {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let result = arm_checked(&sh, req, &path).await;
    let status = result.as_ref().map(|r| r.status().as_u16()).unwrap_or(0);
    sh.lock()
        .arm
        .log
        .push(json!({"method": method, "path": path, "status": status}));
    result
}

async fn arm_checked(sh: &Shared, req: Request<Incoming>, path: &str) -> Reply {
    let auth = header(&req, "authorization");
    let valid = auth.strip_prefix("Bearer ").is_some_and(|t| {
        sh.lock()
            .arm_tokens
            .get(t)
            .is_some_and(|exp| Instant::now() < *exp)
    });
    if !valid {
        return service_error(
            401,
            "InvalidAuthenticationToken",
            "The access token is invalid, expired, or not issued for Resource Manager.",
        );
    }
    let group = group_id(sh);
    let Some(rest) = path.strip_prefix(&group) else {
        if path.starts_with(&format!(
            "/subscriptions/{}/providers/Microsoft.OperationalInsights/locations/",
            sh.s.identity.subscription_id
        )) {
            return operation(sh, path);
        }
        return service_error(
            404,
            "ResourceGroupNotFound",
            "Resource group or subscription could not be found.",
        );
    };
    let parts: Vec<String> = rest
        .trim_start_matches('/')
        .split('/')
        .map(String::from)
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let method = req.method().as_str().to_string();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["providers", "Microsoft.OperationalInsights", "workspaces", ws]) => {
            if let Some(r) = wrong_api(&req, "2022-10-01") {
                return r;
            }
            if *ws != WORKSPACE {
                return not_found("Microsoft.OperationalInsights/workspaces", ws);
            }
            reply(
                200,
                json!({"id": workspace_id(sh), "name": WORKSPACE, "type": "Microsoft.OperationalInsights/workspaces",
                       "location": sh.s.workspace_location,
                       "properties": {"customerId": sh.s.identity.workspace_customer_id, "provisioningState": "Succeeded"}}),
            )
        }
        (m, ["providers", "Microsoft.OperationalInsights", "workspaces", ws, "tables", table]) => {
            if let Some(r) = wrong_api(&req, "2022-10-01") {
                return r;
            }
            if *ws != WORKSPACE {
                return not_found("Microsoft.OperationalInsights/workspaces", ws);
            }
            let (table, m) = (table.to_string(), m.to_string());
            table_request(sh, req, &table, &m).await
        }
        (m, ["providers", "Microsoft.Insights", "dataCollectionRules", name]) => {
            if let Some(r) = wrong_api(&req, "2023-03-11") {
                return r;
            }
            let (name, m) = (name.to_string(), m.to_string());
            rule_request(sh, req, &name, &m).await
        }
        (
            m,
            ["providers", "Microsoft.Insights", "dataCollectionRules", rule, "providers", "Microsoft.Authorization", "roleAssignments", name],
        ) => {
            if let Some(r) = wrong_api(&req, "2022-04-01") {
                return r;
            }
            if !sh.lock().arm.rules.contains_key(*rule) {
                return not_found("Microsoft.Insights/dataCollectionRules", rule);
            }
            let scope = format!("{group}/providers/Microsoft.Insights/dataCollectionRules/{rule}");
            let (name, m) = (name.to_string(), m.to_string());
            assignment_request(sh, req, &scope, &name, &m).await
        }
        ("GET", ["providers", "Microsoft.Compute", "virtualMachines", vm]) => {
            if *vm != VM {
                return not_found("Microsoft.Compute/virtualMachines", vm);
            }
            reply(
                200,
                json!({"id": vm_id(sh), "name": VM, "location": sh.s.workspace_location,
                       "identity": {"type": "SystemAssigned", "principalId": sh.s.identity.host_principal_id, "tenantId": sh.s.identity.tenant_id}}),
            )
        }
        ("GET", ["providers", "Microsoft.HybridCompute", "machines", m]) => {
            if let Some(r) = wrong_api(&req, "2022-12-27") {
                return r;
            }
            if *m != ARC_MACHINE {
                return not_found("Microsoft.HybridCompute/machines", m);
            }
            reply(
                200,
                json!({"id": arc_machine_id_of(&sh.s.identity.subscription_id), "name": ARC_MACHINE,
                       "type": "Microsoft.HybridCompute/machines", "location": sh.s.workspace_location,
                       "identity": {"type": "SystemAssigned", "principalId": sh.s.identity.host_principal_id, "tenantId": sh.s.identity.tenant_id},
                       "properties": {"status": "Connected", "provisioningState": "Succeeded"}}),
            )
        }
        _ => service_error(404, "NotFound", &format!("no such endpoint: {path}")),
    }
}

/// Tables: `CommonSecurityLog` exists when the emulated workspace has Sentinel
/// (the rule was deployed with the security stream), `Syslog` always.
async fn table_request(sh: &Shared, req: Request<Incoming>, table: &str, method: &str) -> Reply {
    let id = format!("{}/tables/{table}", workspace_id(sh));
    match method {
        "GET" => {
            let stored = sh.lock().arm.tables.get(table).cloned();
            let builtin = table == "Syslog"
                || (table == "CommonSecurityLog"
                    && sh.s.streams.contains_key("Custom-SyslaneSecurity"));
            match stored {
                Some(t) => reply(200, t),
                None if builtin => reply(
                    200,
                    json!({"id": id, "name": table, "properties": {"schema": {"name": table, "tableType": "Microsoft"}}}),
                ),
                None => not_found("Microsoft.OperationalInsights/workspaces/tables", table),
            }
        }
        "PUT" => {
            let Ok(raw) = body(req, 1 << 20).await else {
                return service_error(400, "InvalidBody", "body");
            };
            let Ok(mut t) = serde_json::from_slice::<Value>(&raw) else {
                return service_error(400, "InvalidBody", "the body is not JSON");
            };
            if t["properties"]["schema"]["name"] != table {
                return service_error(
                    400,
                    "InvalidParameter",
                    "properties.schema.name must be the table's name",
                );
            }
            t["id"] = json!(id);
            t["name"] = json!(table);
            let op = random_hex(16);
            {
                let mut st = sh.lock();
                st.arm.tables.insert(table.to_string(), t);
                st.arm.operations.insert(op.clone(), 1);
            }
            let url = format!(
                "{}/subscriptions/{}/providers/Microsoft.OperationalInsights/locations/{}/operationStatuses/{op}?api-version=2022-10-01",
                sh.https_url, sh.s.identity.subscription_id, sh.s.workspace_location
            );
            let mut r = reply(202, Value::Null)?;
            if let Ok(v) = hyper::header::HeaderValue::from_str(&url) {
                r.headers_mut().insert("azure-asyncoperation", v.clone());
                r.headers_mut().insert("location", v);
            }
            r.headers_mut()
                .insert("retry-after", hyper::header::HeaderValue::from_static("1"));
            Ok(r)
        }
        _ => service_error(405, "MethodNotAllowed", method),
    }
}

fn operation(sh: &Shared, path: &str) -> Reply {
    let id = path.rsplit('/').next().unwrap_or("").to_string();
    let mut st = sh.lock();
    let Some(left) = st.arm.operations.get_mut(&id) else {
        return service_error(404, "NotFound", "no such operation");
    };
    let status = if *left > 0 {
        *left -= 1;
        "InProgress"
    } else {
        "Succeeded"
    };
    reply(200, json!({"id": path, "name": id, "status": status}))
}

async fn rule_request(sh: &Shared, req: Request<Incoming>, name: &str, method: &str) -> Reply {
    let id = format!(
        "{}/providers/Microsoft.Insights/dataCollectionRules/{name}",
        group_id(sh)
    );
    match method {
        "GET" => match sh.lock().arm.rules.get(name) {
            Some(r) => reply(200, r.clone()),
            None => not_found("Microsoft.Insights/dataCollectionRules", name),
        },
        "DELETE" => {
            let mut st = sh.lock();
            let existed = st.arm.rules.remove(name).is_some();
            st.arm.assignments.retain(|k, _| !k.starts_with(&id));
            reply(if existed { 200 } else { 204 }, Value::Null)
        }
        "PUT" => {
            let Ok(raw) = body(req, 4 << 20).await else {
                return service_error(400, "InvalidPayload", "body");
            };
            let Ok(mut rule) = serde_json::from_slice::<Value>(&raw) else {
                return service_error(400, "InvalidPayload", "the body is not JSON");
            };
            if rule["location"] != sh.s.workspace_location.as_str() {
                return service_error(
                    400,
                    "InvalidPayload",
                    "The data collection rule must be in the workspace's region.",
                );
            }
            let destination = rule["properties"]["destinations"]["logAnalytics"][0]
                ["workspaceResourceId"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if !destination.eq_ignore_ascii_case(&workspace_id(sh)) {
                return service_error(
                    400,
                    "InvalidOutputTable",
                    &format!("The destination workspace {destination:?} is not this workspace."),
                );
            }
            let created = !sh.lock().arm.rules.contains_key(name);
            rule["id"] = json!(id);
            rule["name"] = json!(name);
            rule["type"] = json!("Microsoft.Insights/dataCollectionRules");
            rule["properties"]["immutableId"] = json!(sh.s.identity.dcr_immutable_id);
            rule["properties"]["provisioningState"] = json!("Succeeded");
            if rule["kind"] == "Direct" {
                rule["properties"]["endpoints"] = json!({"logsIngestion": sh.https_url});
            }
            sh.lock().arm.rules.insert(name.to_string(), rule.clone());
            reply(if created { 201 } else { 200 }, rule)
        }
        _ => service_error(405, "MethodNotAllowed", method),
    }
}

async fn assignment_request(
    sh: &Shared,
    req: Request<Incoming>,
    scope: &str,
    name: &str,
    method: &str,
) -> Reply {
    let id = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}");
    match method {
        "GET" => match sh.lock().arm.assignments.get(&id) {
            Some((a, _)) => reply(200, a.clone()),
            None => service_error(
                404,
                "RoleAssignmentNotFound",
                &format!("The role assignment '{name}' is not found."),
            ),
        },
        "DELETE" => match sh.lock().arm.assignments.remove(&id) {
            Some((a, _)) => reply(200, a),
            None => reply(204, Value::Null),
        },
        "PUT" => {
            let Ok(raw) = body(req, 1 << 20).await else {
                return service_error(400, "InvalidRequestContent", "body");
            };
            let Ok(a) = serde_json::from_slice::<Value>(&raw) else {
                return service_error(400, "InvalidRequestContent", "the body is not JSON");
            };
            // As Resource Manager answers an identity without
            // Microsoft.Authorization/roleAssignments/write on the scope.
            // <https://learn.microsoft.com/en-us/azure/role-based-access-control/troubleshooting>
            if sh.s.deny_role_assignment_writes {
                return service_error(
                    403,
                    "AuthorizationFailed",
                    &format!("The client does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/write' over scope '{id}' or the scope is invalid. If access was recently granted, please refresh your credentials."),
                );
            }
            let p = &a["properties"];
            let role = format!(
                "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{MONITORING_METRICS_PUBLISHER}",
                sh.s.identity.subscription_id
            );
            if !p["roleDefinitionId"]
                .as_str()
                .is_some_and(|r| r.eq_ignore_ascii_case(&role))
            {
                return service_error(
                    400,
                    "RoleDefinitionDoesNotExist",
                    "The specified role definition does not exist.",
                );
            }
            let principal = p["principalId"].as_str().unwrap_or("").to_string();
            let mut st = sh.lock();
            if let Some((existing, _)) = st.arm.assignments.get(&id) {
                if existing["properties"]["principalId"] == principal.as_str() {
                    return reply(200, existing.clone());
                }
                return service_error(
                    409,
                    "RoleAssignmentUpdateNotPermitted",
                    "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
                );
            }
            if st.arm.assignments.iter().any(|(k, (v, _))| {
                k.starts_with(scope) && v["properties"]["principalId"] == principal.as_str()
            }) {
                return service_error(
                    409,
                    "RoleAssignmentExists",
                    "The role assignment already exists.",
                );
            }
            let stored = json!({
                "id": id, "name": name, "type": "Microsoft.Authorization/roleAssignments",
                "properties": {"roleDefinitionId": role, "principalId": principal,
                               "principalType": p["principalType"], "scope": scope},
            });
            st.arm
                .assignments
                .insert(id, (stored.clone(), Instant::now()));
            reply(201, stored)
        }
        _ => service_error(405, "MethodNotAllowed", method),
    }
}

/// Whether `principal` holds the role on the emulated rule, applied (its
/// assignment older than the configured propagation delay).
pub(crate) fn role_applied(sh: &Shared, principal: &str) -> bool {
    let delay = sh.s.role_applies_after;
    sh.lock()
        .arm
        .assignments
        .values()
        .any(|(a, at)| a["properties"]["principalId"] == principal && at.elapsed() >= delay)
}
