//! What `setup` does on the host and when it may not do everything: a 403 on the
//! role assignment, `--remove` answered on standard input, an earlier `[output]`
//! drop-in, and a running agent that reloads and ships.

use super::{arm, command, run, setup, write_config};
use syslane_tests::emulator::{Emulator, HEARTBEAT_STREAM, SYSLOG_STREAM};
use syslane_tests::*;

/// The one command for someone allowed to assign roles: Monitoring Metrics
/// Publisher by its built-in id
/// (<https://learn.microsoft.com/en-us/azure/role-based-access-control/built-in-roles/monitor#monitoring-metrics-publisher>)
/// for a managed identity (`--assignee-principal-type ServicePrincipal`), on the rule.
fn az_line(principal: &str, rule_id: &str) -> String {
    format!(
        "az role assignment create --assignee-object-id {principal} --assignee-principal-type ServicePrincipal --role 3913510d-42f4-4e42-8a64-420c390055eb --scope {rule_id}"
    )
}

fn rule_id(emu: &Emulator) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Insights/dataCollectionRules/syslane-dcr",
        emu.s("subscription_id"),
        emu.s("resource_group")
    )
}

/// Writing role assignments needs Owner, User Access Administrator or Role Based
/// Access Control Administrator
/// (<https://learn.microsoft.com/en-us/azure/role-based-access-control/role-assignments-steps#step-4-check-your-prerequisites>).
#[test]
fn a_refused_role_assignment_names_the_permission_keeps_the_rule_and_prints_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), &["--deny-role-assignment-writes"]);
    let config = write_config(dir.path());
    let (ok, out, err) = setup(&emu, &config, &[]);
    assert!(!ok, "{out}\n{err}");
    assert!(
        out.contains("✗ assign Monitoring Metrics Publisher: 403 AuthorizationFailed"),
        "{out}"
    );
    assert!(
        out.contains("Owner, User Access Administrator or Role Based Access Control Administrator"),
        "{out}"
    );
    // --yes keeps the rule and writes the drop-in.
    assert!(
        out.contains("write the agent's drop-in anyway (it ships once the role is assigned)? yes"),
        "{out}"
    );
    let line = az_line(&emu.s("host_principal_id"), &rule_id(&emu));
    assert!(
        out.lines().any(|l| l.trim() == line),
        "no {line:?} in:\n{out}"
    );
    let state = arm(&emu);
    assert!(state["rules"]["syslane-dcr"].is_object(), "{state}");
    assert!(state["assignments"].as_array().unwrap().is_empty());
    assert!(dir.path().join("conf.d/90-syslane-setup.toml").exists());
    assert!(out.contains("✓ check-config"), "{out}");
    // Nothing was sent to the workspace: without the role it would refuse it.
    assert!(emu.records(HEARTBEAT_STREAM).is_empty());

    // Answered "n" on a fresh workspace: the rule this run created goes again,
    // nothing is written on the host, and the command is still printed.
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), &["--deny-role-assignment-writes"]);
    let config = write_config(dir.path());
    let mut c = command(&emu, &config);
    c.args(["--identity-endpoint", &emu.s("identity_endpoint")]);
    let (ok, out, err) = run(c, "n\n");
    assert!(!ok, "{out}\n{err}");
    assert!(
        out.contains("✓ data collection rule removed again"),
        "{out}"
    );
    let line = az_line(&emu.s("host_principal_id"), &rule_id(&emu));
    assert!(
        out.lines().any(|l| l.trim() == line),
        "no {line:?} in:\n{out}"
    );
    assert!(arm(&emu)["rules"].as_object().unwrap().is_empty());
    assert!(!dir.path().join("conf.d").exists());
}

#[test]
fn remove_asks_first_and_no_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), &[]);
    let config = write_config(dir.path());
    let (ok, out, err) = setup(&emu, &config, &[]);
    assert!(ok, "{out}\n{err}");
    let drop_in = dir.path().join("conf.d/90-syslane-setup.toml");
    let before = arm(&emu);
    assert_eq!(before["assignments"].as_array().unwrap().len(), 1);

    let remove = |answer: &str| {
        let mut c = command(&emu, &config);
        c.args([
            "--identity-endpoint",
            &emu.s("identity_endpoint"),
            "--remove",
        ]);
        run(c, answer)
    };
    let (ok, out, err) = remove("n\n");
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("[y/N] no"), "{out}");
    assert!(out.contains("✓ nothing removed"), "{out}");
    let after = arm(&emu);
    assert_eq!(after["rules"], before["rules"]);
    assert_eq!(after["assignments"], before["assignments"]);
    assert!(drop_in.exists());
    assert!(
        !after["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["method"] == "DELETE"),
        "{after}"
    );

    let (ok, out, err) = remove("y\n");
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("✓ role assignment removed"), "{out}");
    assert!(out.contains("✓ data collection rule removed"), "{out}");
    let state = arm(&emu);
    assert!(state["rules"].as_object().unwrap().is_empty(), "{state}");
    assert!(state["assignments"].as_array().unwrap().is_empty());
    assert!(!drop_in.exists());
}

#[test]
fn an_earlier_output_drop_in_is_kept_as_a_backup_and_put_back_by_remove() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), &[]);
    let config = write_config(dir.path());
    let conf_d = dir.path().join("conf.d");
    std::fs::create_dir(&conf_d).unwrap();
    let earlier = "[output]\nplugin = \"file\"\npath = \"elsewhere.jsonl\"\n";
    std::fs::write(conf_d.join("50-mine.toml"), earlier).unwrap();
    let (ok, out, err) = setup(&emu, &config, &[]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains(&format!(
            "{} had an [output]: kept as {}",
            conf_d.join("50-mine.toml").display(),
            conf_d.join("50-mine.toml.bak").display()
        )),
        "{out}"
    );
    assert!(!conf_d.join("50-mine.toml").exists());
    assert_eq!(
        std::fs::read_to_string(conf_d.join("50-mine.toml.bak")).unwrap(),
        earlier
    );
    // The merged configuration is the azure output, and check-config takes it.
    let (ok, out, err) = syslane(&[
        "check-config",
        "--offline",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("output azure"), "{out}");
    // --remove puts it back.
    let (ok, out, err) = setup(&emu, &config, &["--remove"]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains(&format!(
            "✓ put back {} (set aside by setup)",
            conf_d.join("50-mine.toml").display()
        )),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(conf_d.join("50-mine.toml")).unwrap(),
        earlier
    );
    assert!(!conf_d.join("50-mine.toml.bak").exists());
    assert!(!conf_d.join("90-syslane-setup.toml").exists());
    let (ok, out, err) = syslane(&[
        "check-config",
        "--offline",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("output file"), "{out}");
}

/// A real agent, running with the packaged file output, is told to reload
/// (SIGHUP) and then ships to the workspace through the new azure output.
#[test]
fn a_running_agent_reloads_and_ships_to_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), &[]);
    let port = free_port();
    let config_text = format!(
        "state_dir = \"state\"\nshutdown_timeout_secs = 3\nplugin_dir = \"{}\"\n[[listen]]\naddress = \"tcp://127.0.0.1:{port}\"\ninput = \"syslog\"\n[output]\nplugin = \"file\"\npath = \"records.jsonl\"\nkeep = 3\n",
        build_dir().display()
    );
    let agent = Agent::start(dir.path(), &config_text);
    let config = dir.path().join("syslane.toml");
    let before = "<13>1 2026-01-01T00:00:00Z web1 app 1 - - before setup";
    send_tcp_lf(port, [before.to_string()]);
    assert!(wait_until(std::time::Duration::from_secs(10), || {
        std::fs::read_to_string(dir.path().join("records.jsonl"))
            .is_ok_and(|t| t.contains("before setup"))
    }));

    let (ok, out, err) = setup(
        &emu,
        &config,
        &[
            "--client-id",
            &emu.s("client_id"),
            "--client-secret-file",
            &emu.s("client_secret_file"),
            "--principal-id",
            &emu.s("principal_id"),
        ],
    );
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains(&format!(
            "✓ the running agent (pid {}) reloads its configuration",
            agent.pid()
        )),
        "{out}"
    );
    agent.expect_log("configuration reloaded", 20);
    // After the reload a message goes to the workspace, not to the file.
    let ok = wait_until(std::time::Duration::from_secs(30), || {
        send_tcp_lf(
            port,
            ["<13>1 2026-01-01T00:00:01Z web1 app 1 - - after setup".to_string()],
        );
        emu.wait_for(SYSLOG_STREAM, 1, std::time::Duration::from_secs(3))
    });
    assert!(ok, "nothing reached the workspace:\n{}", agent.logs());
    let records = emu.records(SYSLOG_STREAM);
    assert!(
        records.iter().any(|r| r["SyslogMessage"]
            .as_str()
            .unwrap_or("")
            .contains("after setup")),
        "{records:?}"
    );
    assert!(!records.iter().any(|r| r["SyslogMessage"]
        .as_str()
        .unwrap_or("")
        .contains("before setup")));
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
}
