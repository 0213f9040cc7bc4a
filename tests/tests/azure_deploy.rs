//! `plugins/azure/deploy/deploy.sh` run against a stand-in `az` placed first on
//! `PATH`, which answers as the Azure CLI does and records its arguments. The
//! printed `[output]` section is then checked by the real agent.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use syslane_tests::emulator::rule::{deploy_rule, parameters, DEFAULT_TEMPLATE};
use syslane_tests::*;

/// The stand-in. It answers the three commands deploy.sh uses, in the Azure CLI's
/// documented forms:
/// - `az monitor log-analytics workspace show --resource-group G --workspace-name W
///   --query location --output tsv`
///   (<https://learn.microsoft.com/en-us/cli/azure/monitor/log-analytics/workspace#az-monitor-log-analytics-workspace-show>)
/// - `az monitor log-analytics workspace table list --resource-group G
///   --workspace-name W --query ... --output tsv`
///   (<https://learn.microsoft.com/en-us/cli/azure/monitor/log-analytics/workspace/table#az-monitor-log-analytics-workspace-table-list>)
/// - `az deployment group create --resource-group G --name N --template-file F
///   --parameters k=v ... --query ... --output tsv`
///   (<https://learn.microsoft.com/en-us/cli/azure/deployment/group#az-deployment-group-create>)
///
/// `--output tsv` prints values without keys, tab-separated, one row per line
/// (<https://learn.microsoft.com/en-us/cli/azure/format-output-azure-cli#tsv-output-format>);
/// errors go to stderr as `ERROR: ...` with a non-zero exit status.
const STAND_IN: &str = r#"#!/usr/bin/env bash
set -u
{ printf '%s\n' "$@"; echo '--'; } >>"$AZ_LOG"
args=" $* "
error() { echo "ERROR: $1" >&2; exit 1; }
case $args in
    *" --output tsv "*) ;;
    *) error "the stand-in only answers --output tsv" ;;
esac
case $args in
    " monitor log-analytics workspace show "*)
        [ "${AZ_FAIL:-}" = show ] && error "(ResourceNotFound) The Resource 'Microsoft.OperationalInsights/workspaces/$AZ_WORKSPACE' under resource group '$AZ_GROUP' was not found."
        printf '%s\n' "$AZ_LOCATION"
        ;;
    " monitor log-analytics workspace table list "*)
        [ "${AZ_FAIL:-}" = tables ] && error "(AuthorizationFailed) The client does not have authorization to perform action 'Microsoft.OperationalInsights/workspaces/tables/read'."
        if [ -n "${AZ_TABLES:-}" ]; then printf '%s\n' "$AZ_TABLES"; fi
        ;;
    " deployment group create "*)
        [ "${AZ_FAIL:-}" = deployment ] && error "(InvalidTemplateDeployment) The template deployment 'syslane' is not valid: InvalidOutputTable: Table for output stream 'Microsoft-CommonSecurityLog' is not available for destination 'workspace'."
        if [ "${AZ_SEPARATOR:-line}" = tab ]; then
            printf '%s\t%s\t%s\n' "$AZ_ENDPOINT" "$AZ_DCR" "$AZ_RULE_ID"
        else
            printf '%s\n%s\n%s\n' "$AZ_ENDPOINT" "$AZ_DCR" "$AZ_RULE_ID"
        fi
        ;;
    *) error "the stand-in does not know: $*" ;;
esac
"#;

const ENDPOINT: &str = "https://syslane-dcr-a1b2.westeurope-1.ingest.monitor.azure.com";
const DCR: &str = "dcr-0123456789abcdef0123456789abcdef";
const PRINCIPAL: &str = "11111111-2222-3333-4444-555555555555";
const RULE_ID: &str = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.Insights/dataCollectionRules/syslane-dcr";

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
    /// The arguments of each `az` call, in order.
    calls: Vec<Vec<String>>,
}

impl Run {
    fn deployment(&self) -> &Vec<String> {
        self.calls
            .iter()
            .find(|c| c.starts_with(&["deployment".to_string()]))
            .expect("deploy.sh ran az deployment group create")
    }

    /// The `--parameters` given to the deployment.
    fn parameters(&self) -> Vec<String> {
        let call = self.deployment();
        let at = call.iter().position(|a| a == "--parameters").unwrap();
        call[at + 1..]
            .iter()
            .take_while(|a| !a.starts_with("--"))
            .cloned()
            .collect()
    }
}

fn deploy(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let az = bin.join("az");
    std::fs::write(&az, STAND_IN).unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = dir.join("az.log");
    let _ = std::fs::remove_file(&log);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = Command::new(workspace_root().join("plugins/azure/deploy/deploy.sh"))
        .args(args)
        .env("PATH", path)
        .env("AZ_LOG", &log)
        .env("AZ_GROUP", "rg")
        .env("AZ_WORKSPACE", "ws")
        .env("AZ_LOCATION", "westeurope")
        .env("AZ_ENDPOINT", ENDPOINT)
        .env("AZ_DCR", DCR)
        .env("AZ_RULE_ID", RULE_ID)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let mut calls = Vec::new();
    let mut call = Vec::new();
    for line in text.lines() {
        if line == "--" {
            calls.push(std::mem::take(&mut call));
        } else {
            call.push(line.to_string());
        }
    }
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
        calls,
    }
}

/// The printed section, with an `[output.auth]`, must pass the agent's own checks.
fn check_with_agent(dir: &Path, printed: &str) {
    let plugins = plugin_dir_with_builtins(dir);
    let config = dir.join("syslane.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = \"state\"\nplugin_dir = \"{}\"\n[[listen]]\naddress = \"tcp://127.0.0.1:{}\"\ninput = \"syslog\"\n{printed}\n[output.auth]\nmethod = \"managed_identity\"\n",
            plugins.display(),
            free_port()
        ),
    )
    .unwrap();
    let (ok, out, err) = syslane(&[
        "check-config",
        "--offline",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(
        ok,
        "the printed section is a valid [output]:\n{printed}\n{out}{err}"
    );
}

fn tempdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    (dir, path)
}

#[test]
fn a_workspace_with_sentinel_gets_the_security_stream_in_its_region() {
    let (_keep, dir) = tempdir();
    let run = deploy(
        &dir,
        &["rg", "ws", PRINCIPAL],
        &[("AZ_TABLES", "CommonSecurityLog")],
    );
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!("endpoint = \"{ENDPOINT}\"")),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains(&format!("dcr_immutable_id = \"{DCR}\"")));
    assert!(run
        .stdout
        .contains("security_stream = \"Custom-SyslaneSecurity\""));
    assert!(run
        .stdout
        .contains("heartbeat_stream = \"Custom-SyslaneHeartbeat\""));
    let params = run.parameters();
    for expected in [
        "workspaceName=ws",
        "location=westeurope",
        "securityStream=true",
        "dataCollectionEndpoint=false",
        &format!("agentPrincipalId={PRINCIPAL}"),
        "agentPrincipalType=ServicePrincipal",
    ] {
        assert!(
            params.iter().any(|p| p == expected),
            "{expected} in {params:?}"
        );
    }
    let show = &run.calls[0];
    assert_eq!(
        &show[..4],
        ["monitor", "log-analytics", "workspace", "show"]
    );
    assert!(show.windows(2).any(|w| w == ["--workspace-name", "ws"]));
    assert!(show.windows(2).any(|w| w == ["--resource-group", "rg"]));
    // What deploy.sh passes, the template takes: same rule, in the workspace's region.
    let rule = deploy_rule(
        DEFAULT_TEMPLATE,
        &parameters(params.iter().map(String::as_str)).unwrap(),
        "elsewhere",
    )
    .unwrap();
    assert_eq!(rule.location, "westeurope");
    assert!(rule.streams.contains_key("Custom-SyslaneSecurity"));
    let template = run
        .deployment()
        .windows(2)
        .find(|w| w[0] == "--template-file")
        .unwrap()[1]
        .clone();
    assert!(Path::new(&template).ends_with("plugins/azure/deploy/azuredeploy.json"));
    check_with_agent(&dir, &run.stdout);
}

#[test]
fn without_sentinel_the_security_stream_stays_off_unless_asked_for() {
    let (_keep, dir) = tempdir();
    let run = deploy(&dir, &["rg", "ws"], &[("AZ_TABLES", "")]);
    assert!(run.ok, "{}", run.stderr);
    assert!(!run.stdout.contains("security_stream"), "{}", run.stdout);
    assert!(run
        .parameters()
        .contains(&"securityStream=false".to_string()));
    assert!(run.parameters().contains(&"agentPrincipalId=".to_string()));
    // A deployer who may not assign roles leaves the principal out; the script
    // prints the command for someone who may, with the rule's resource id.
    assert!(
        run.stderr.contains(&format!(
            "az role assignment create --assignee-object-id OBJECT_ID --assignee-principal-type ServicePrincipal \\\n#     --role 'Monitoring Metrics Publisher' --scope '{RULE_ID}'"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("Owner, User Access Administrator"),
        "{}",
        run.stderr
    );
    check_with_agent(&dir, &run.stdout);

    let run = deploy(
        &dir,
        &["--security-stream", "on", "rg", "ws"],
        &[("AZ_TABLES", "")],
    );
    assert!(run.ok, "{}", run.stderr);
    assert!(run.stdout.contains("security_stream"));
    assert!(run
        .parameters()
        .contains(&"securityStream=true".to_string()));
    assert!(
        run.calls.iter().all(|c| !c.contains(&"table".to_string())),
        "an explicit choice asks nothing"
    );
    let run = deploy(
        &dir,
        &["--security-stream", "off", "rg", "ws"],
        &[("AZ_TABLES", "CommonSecurityLog")],
    );
    assert!(run.ok && !run.stdout.contains("security_stream"));
}

#[test]
fn options_reach_the_template_and_tab_separated_answers_are_read_too() {
    let (_keep, dir) = tempdir();
    let run = deploy(
        &dir,
        &[
            "--private-link",
            "--syslog-extra-columns",
            "--principal-type",
            "Group",
            "rg",
            "ws",
            PRINCIPAL,
        ],
        &[("AZ_SEPARATOR", "tab")],
    );
    assert!(run.ok, "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!("endpoint = \"{ENDPOINT}\"")),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains(&format!("dcr_immutable_id = \"{DCR}\"")));
    let params = run.parameters();
    for expected in [
        "dataCollectionEndpoint=true",
        "syslogExtraColumns=true",
        "agentPrincipalType=Group",
    ] {
        assert!(
            params.iter().any(|p| p == expected),
            "{expected} in {params:?}"
        );
    }
    deploy_rule(
        DEFAULT_TEMPLATE,
        &parameters(params.iter().map(String::as_str)).unwrap(),
        "westeurope",
    )
    .unwrap();
}

#[test]
fn cli_failures_stop_the_script_with_the_clis_message() {
    let (_keep, dir) = tempdir();
    let run = deploy(&dir, &["rg", "ws"], &[("AZ_FAIL", "deployment")]);
    assert!(!run.ok);
    assert!(
        run.stderr.contains("InvalidOutputTable") && run.stderr.contains("the deployment failed"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stdout.contains("[output]"),
        "nothing printed: {}",
        run.stdout
    );

    let run = deploy(&dir, &["rg", "ws"], &[("AZ_FAIL", "show")]);
    assert!(
        !run.ok && run.stderr.contains("ResourceNotFound"),
        "{}",
        run.stderr
    );
    assert!(
        run.calls.iter().all(|c| c[0] != "deployment"),
        "no deployment after a failed lookup"
    );

    let run = deploy(&dir, &["rg", "ws"], &[("AZ_FAIL", "tables")]);
    assert!(
        !run.ok
            && run.stderr.contains("AuthorizationFailed")
            && run.stderr.contains("--security-stream"),
        "{}",
        run.stderr
    );
}

#[test]
fn empty_answers_are_refused() {
    let (_keep, dir) = tempdir();
    for (var, what) in [
        ("AZ_ENDPOINT", "endpoint"),
        ("AZ_DCR", "rule id"),
        ("AZ_LOCATION", "location"),
        ("AZ_RULE_ID", "resource id"),
    ] {
        let run = deploy(&dir, &["rg", "ws"], &[(var, "")]);
        assert!(!run.ok, "{var} empty: {}", run.stdout);
        assert!(run.stderr.contains(what), "{var}: {}", run.stderr);
        assert!(!run.stdout.contains("[output]"), "{}", run.stdout);
    }
    let run = deploy(&dir, &["rg"], &[]);
    assert!(
        !run.ok && run.stderr.contains("RESOURCE_GROUP WORKSPACE_NAME"),
        "usage: {}",
        run.stderr
    );
}

#[test]
fn misplaced_options_and_a_principal_that_is_not_an_object_id_are_refused_before_any_call() {
    let (_keep, dir) = tempdir();
    // An option after the names used to become the principal's object id.
    let run = deploy(&dir, &["rg", "ws", "--private-link"], &[]);
    assert!(!run.ok, "{}", run.stdout);
    assert!(
        run.stderr.contains("options go before") && run.stderr.contains("--private-link"),
        "{}",
        run.stderr
    );
    assert!(run.calls.is_empty(), "az was called: {:?}", run.calls);
    let run = deploy(&dir, &["rg", "ws", "my-vm"], &[]);
    assert!(!run.ok, "{}", run.stdout);
    assert!(
        run.stderr.contains("must be an object id") && run.stderr.contains("'my-vm'"),
        "{}",
        run.stderr
    );
    assert!(run.calls.is_empty(), "az was called: {:?}", run.calls);
}
