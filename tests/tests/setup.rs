//! `syslane setup` end to end against the workspace emulator, which stands in
//! for Resource Manager, the identity platform (device code flow, token
//! endpoint, instance metadata) and the Logs Ingestion API: the real binary,
//! real HTTPS, the emulator's CA trusted through `SSL_CERT_FILE`.

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use syslane_tests::emulator::rule::{deploy_rule, parameters, DEFAULT_TEMPLATE};
use syslane_tests::emulator::{Emulator, HEARTBEAT_STREAM};
use syslane_tests::*;

mod clouds;
mod host;
mod identity;
mod schemas;

/// The packaged layout in miniature: a main file with the file output (whose
/// `path` and `keep` must not leak into the azure output), conf.d beside it.
fn write_config(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("syslane.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = \"state\"\nplugin_dir = \"{}\"\n[[listen]]\naddress = \"tcp://127.0.0.1:{}\"\ninput = \"syslog\"\n[output]\nplugin = \"file\"\npath = \"records.jsonl\"\nkeep = 3\n",
            build_dir().display(),
            free_port()
        ),
    )
    .unwrap();
    config
}

/// `syslane setup` with the emulator's Resource Manager, authority and tenant,
/// trusting its CA (no host identity endpoint: see [`setup`]).
fn command(emu: &Emulator, config: &Path) -> Command {
    let mut c = Command::new(agent_binary());
    c.arg("setup")
        .args(["--workspace", &emu.s("workspace_id")])
        .args(["--arm-endpoint", &emu.s("arm_endpoint")])
        .args(["--authority-host", &emu.s("authority_host")])
        .args(["--tenant", &emu.s("tenant_id")])
        .arg("--config")
        .arg(config)
        .args(["--wait-secs", "60"])
        .env("SSL_CERT_FILE", emu.s("ca_file"))
        .env_remove("IDENTITY_ENDPOINT")
        .env_remove("IMDS_ENDPOINT");
    c
}

/// Runs `command` with `input` on its standard input: (success, stdout, stderr).
fn run(mut c: Command, input: &str) -> (bool, String, String) {
    use std::io::Write;
    let mut child = c
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Runs `syslane setup --yes` with the emulator's endpoints, its instance
/// metadata service standing for this host's: (success, stdout, stderr).
fn setup(emu: &Emulator, config: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut c = command(emu, config);
    c.args(["--identity-endpoint", &emu.s("identity_endpoint")])
        .arg("--yes")
        .args(extra);
    run(c, "")
}

fn arm(emu: &Emulator) -> Value {
    let out = Command::new("curl")
        .args(["-sS", "--cacert", &emu.s("ca_file")])
        .arg(format!("{}/_emulator/arm", emu.s("endpoint")))
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

fn writes(arm: &Value) -> Vec<String> {
    arm["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] != "GET")
        .map(|r| format!("{} {}", r["method"], r["path"]))
        .collect()
}

#[test]
fn device_code_sign_in_to_records_accepted_then_a_second_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Ingestion answers 403 until the host's identity holds the role, and for 3 s
    // after it is assigned (the propagation window).
    let emu = Emulator::start(
        dir.path(),
        &[
            "--require-role-assignment",
            "--role-applies-after-secs",
            "3",
        ],
    );
    let config = write_config(dir.path());
    let (ok, out, err) = setup(&emu, &config, &[]);
    assert!(ok, "setup failed:\n{out}\n{err}");
    for line in [
        "To sign in, open ",
        "✓ signed in to Azure Resource Manager (device code sign-in)",
        "✓ workspace emulated-workspace in westeurope",
        "✓ CommonSecurityLog absent",
        "✓ table SyslaneHeartbeat_CL created",
        "✓ data collection rule syslane-dcr created",
        &format!(
            "✓ agent identity {} (this VM's managed identity)",
            emu.s("host_principal_id")
        ),
        "✓ Monitoring Metrics Publisher assigned on the rule",
        "✓ check-config",
        "role assignment not applied yet (403)",
        "✓ the workspace accepted a heartbeat from",
        "SyslaneHeartbeat_CL | where Computer == ",
    ] {
        assert!(out.contains(line), "no {line:?} in:\n{out}\n{err}");
    }
    assert!(!out.contains('✗'), "{out}");
    // This host's record, accepted by the emulator.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let records = emu.records(HEARTBEAT_STREAM);
    assert!(
        records.iter().any(|r| r["Computer"] == host.trim()),
        "{records:?}"
    );
    // The drop-in: azure output, managed identity through the emulator's IMDS,
    // not readable by others; check-config accepts the merged configuration.
    let drop_in = dir.path().join("conf.d/90-syslane-setup.toml");
    let text = std::fs::read_to_string(&drop_in).unwrap();
    assert!(text.contains("plugin = \"azure\""), "{text}");
    assert!(
        text.contains(&format!(
            "dcr_immutable_id = \"{}\"",
            emu.s("dcr_immutable_id")
        )),
        "{text}"
    );
    assert!(text.contains("method = \"managed_identity\""), "{text}");
    let mode = std::fs::metadata(&drop_in).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o007, 0, "mode {mode:o}");
    let (ok, out2, err2) = syslane(&[
        "check-config",
        "--offline",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(ok, "{out2}\n{err2}");
    assert!(out2.contains("output azure"), "{out2}");

    // The rule setup wrote is the template's rule.
    let state = arm(&emu);
    let written = &state["rules"]["syslane-dcr"];
    let params = parameters(["workspaceName=emulated-workspace", "securityStream=false"]).unwrap();
    let template = deploy_rule(DEFAULT_TEMPLATE, &params, "westeurope").unwrap();
    let dcr = template
        .deployment
        .of_type("Microsoft.Insights/dataCollectionRules")
        .next()
        .unwrap();
    assert_eq!(written["kind"], dcr["kind"]);
    assert_eq!(written["location"], dcr["location"]);
    for key in ["streamDeclarations", "dataFlows", "description"] {
        assert_eq!(
            written["properties"][key], dcr["properties"][key],
            "{key} differs from the template's"
        );
    }
    assert_eq!(
        written["properties"]["destinations"]["logAnalytics"][0]["workspaceResourceId"],
        emu.s("workspace_id").as_str()
    );
    let assignments = state["assignments"].as_array().unwrap();
    assert_eq!(assignments.len(), 1);
    assert_eq!(
        assignments[0]["properties"]["principalId"],
        emu.s("host_principal_id").as_str()
    );
    assert_eq!(
        assignments[0]["properties"]["principalType"],
        "ServicePrincipal"
    );

    // A second run: nothing changes.
    let before = writes(&state).len();
    let (ok, out, err) = setup(&emu, &config, &[]);
    assert!(ok, "second run failed:\n{out}\n{err}");
    for line in [
        "✓ table SyslaneHeartbeat_CL unchanged",
        "✓ data collection rule syslane-dcr unchanged",
        "✓ Monitoring Metrics Publisher already assigned on the rule",
        "90-syslane-setup.toml unchanged",
    ] {
        assert!(out.contains(line), "no {line:?} in:\n{out}\n{err}");
    }
    let after = writes(&arm(&emu));
    // Only the role assignment's PUT is sent again (answered 200: the same name).
    assert_eq!(after.len(), before + 1, "{after:?}");
    assert!(after[before].starts_with("\"PUT\""), "{after:?}");
    assert_eq!(std::fs::read_to_string(&drop_in).unwrap(), text);
}

#[test]
fn a_dry_run_writes_nothing_and_remove_takes_everything_out() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), &["--require-role-assignment"]);
    let config = write_config(dir.path());
    let secret = emu.s("client_secret_file");
    let sp = [
        "--client-id",
        &emu.s("client_id"),
        "--client-secret-file",
        &secret,
        "--principal-id",
        &emu.s("principal_id"),
    ];
    let (ok, out, err) = setup(&emu, &config, &[&sp[..], &["--dry-run"]].concat());
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("(not sent: --dry-run)"), "{out}");
    assert!(
        out.contains("\"principalType\": \"ServicePrincipal\""),
        "{out}"
    );
    assert!(writes(&arm(&emu)).is_empty(), "{:?}", writes(&arm(&emu)));
    assert!(!dir.path().join("conf.d").exists());

    // For real, as the service principal; its secret file goes into the drop-in.
    let (ok, out, err) = setup(&emu, &config, &sp);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("✓ signed in to Azure Resource Manager (service principal (client secret))"),
        "{out}"
    );
    assert!(
        out.contains("✓ the workspace accepted a heartbeat"),
        "{out}"
    );
    assert!(
        !out.contains(&std::fs::read_to_string(&secret).unwrap()),
        "the secret was printed"
    );
    let drop_in = dir.path().join("conf.d/90-syslane-setup.toml");
    assert!(std::fs::read_to_string(&drop_in)
        .unwrap()
        .contains("method = \"client_secret\""));

    let (ok, out, err) = setup(&emu, &config, &[&sp[..], &["--remove"]].concat());
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("✓ role assignment removed"), "{out}");
    assert!(out.contains("✓ data collection rule removed"), "{out}");
    let state = arm(&emu);
    assert!(state["rules"].as_object().unwrap().is_empty(), "{state}");
    assert!(
        state["assignments"].as_array().unwrap().is_empty(),
        "{state}"
    );
    assert!(!drop_in.exists());
}

#[test]
fn a_declined_device_code_sign_in_stops_with_a_cross() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(
        dir.path(),
        &[
            "--device-code-decline",
            "--device-code-approve-after-polls",
            "1",
        ],
    );
    let config = write_config(dir.path());
    let (ok, out, err) = setup(&emu, &config, &[]);
    assert!(!ok, "{out}\n{err}");
    assert!(
        out.contains("✗ sign-in (device code sign-in): the sign-in was declined"),
        "{out}\n{err}"
    );
    assert!(writes(&arm(&emu)).is_empty());
}

#[test]
fn the_host_identity_signs_in_and_ships() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), &["--require-role-assignment"]);
    let config = write_config(dir.path());
    let (ok, out, err) = setup(&emu, &config, &["--use-host-identity"]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("✓ signed in to Azure Resource Manager (the host's managed identity)"),
        "{out}"
    );
    assert!(!out.contains("To sign in"), "{out}");
    assert!(
        out.contains("✓ the workspace accepted a heartbeat"),
        "{out}"
    );
    // Resource Manager's token came from the instance metadata service.
    assert_eq!(
        emu.stat(&["token_requests", "arm_imds"]),
        1,
        "{}",
        emu.stats()
    );
}
