//! `setup --remove`: the role assignment, the rule and the drop-in, after
//! confirmation. The heartbeat table and its data stay.

use super::arm::Arm;
use super::progress::{self, fail, note, ok};
use super::resources::{permission_hint, principal};
use super::signin::How;
use super::{host, rule, Args, Cloud, STOPPED};
use std::time::Duration;
use syslane_plugin_azure::reuse::{roots, Client};

pub(super) fn remove(
    a: &Args,
    arm: &Arm,
    cloud: &Cloud,
    how: &How,
    rule_id: &str,
    config: &std::path::Path,
) -> Result<(), String> {
    let question = format!(
        "Delete the data collection rule {rule_id}, its role assignment and {}?",
        host::conf_d(config).join(host::DROP_IN).display()
    );
    if !progress::confirm(&question, a.yes || a.dry_run, a.yes) {
        ok("nothing removed");
        return Ok(());
    }
    let client = Client::new(&roots(None)?, None, Duration::from_secs(30))?;
    if let Ok(p) = principal(a, arm, cloud, how, &client) {
        let name = rule::assignment_name(rule_id, &p);
        let path = format!("{rule_id}/providers/Microsoft.Authorization/roleAssignments/{name}");
        if let Some(r) = arm.write("DELETE", &path, rule::ROLE_API, None)? {
            match r.status {
                200 | 204 | 404 => ok("role assignment removed"),
                _ => fail(&format!("remove role assignment: {}", r.error()), &permission_hint(r.status, "Owner, User Access Administrator or Role Based Access Control Administrator")),
            }
        }
    }
    if let Some(r) = arm.write("DELETE", rule_id, rule::RULE_API, None)? {
        if r.ok() || r.status == 404 {
            ok("data collection rule removed");
        } else {
            fail(
                &format!("remove the rule: {}", r.error()),
                &permission_hint(r.status, "Monitoring Contributor (or Contributor)"),
            );
            return Err(STOPPED.into());
        }
    }
    if a.dry_run {
        ok(&format!(
            "would remove {}",
            host::conf_d(config).join(host::DROP_IN).display()
        ));
        return Ok(());
    }
    let removed = host::remove_drop_in(config)?;
    match removed.drop_in {
        Some(p) => ok(&format!("removed {}", p.display())),
        None => ok("no drop-in to remove"),
    }
    for p in removed.restored {
        ok(&format!("put back {} (set aside by setup)", p.display()));
    }
    if let Ok(Some(pid)) = host::reload(config) {
        ok(&format!(
            "the running agent (pid {pid}) reloads its configuration"
        ));
    }
    note(&format!(
        "the table {} and its data stay in the workspace",
        rule::HEARTBEAT_TABLE
    ));
    Ok(())
}
