//! The plugin ABI as third parties meet it: a filter in C built with the system
//! compiler, a plugin built for another ABI major, a plugin that panics, and the
//! host's refusals, all through the real agent binary.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;
use syslane_abi::SL_ABI_MINOR;
use syslane_tests::*;

fn check_config(config: &std::path::Path) -> (bool, String) {
    let (ok, out, err) = syslane(&["check-config", "--config", config.to_str().unwrap()]);
    (ok, out + &err)
}

#[test]
fn c_example_filter_drops_what_it_is_written_to_drop() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_builtins(dir.path());
    build_c_example(&plugins, "libsyslane_plugin_example_drop.so", &[]);
    let port = free_port();
    let out = dir.path().join("records.jsonl");
    let filter = "[[filter]]\nplugin = \"example-drop\"\ncontains = \"DROP-ME\"\n";
    let agent = Agent::start(dir.path(), &config_text(&plugins, port, filter, &out));
    let messages = (0..300).map(|i| {
        format!(
            "<13>1 - h a - - - c-{i:03}{}",
            if i % 3 == 0 { " DROP-ME" } else { "" }
        )
    });
    send_tcp_octet(port, messages);
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) >= 200));
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let kept: Vec<String> = read_records(&out)
        .iter()
        .map(|r| r["SyslogMessage"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (0..300)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("c-{i:03}"))
        .collect();
    assert_eq!(kept, expected);
    assert!(logs.contains("records_filtered_out=100"), "{logs}");
}

#[test]
fn c_example_reports_its_config_error_to_the_operator() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_builtins(dir.path());
    build_c_example(&plugins, "libsyslane_plugin_example_drop.so", &[]);
    let config = dir.path().join("syslane.toml");
    let filter = "[[filter]]\nplugin = \"example-drop\"\n";
    std::fs::write(
        &config,
        config_text(&plugins, free_port(), filter, &dir.path().join("o.jsonl")),
    )
    .unwrap();
    let (ok, text) = check_config(&config);
    assert!(!ok);
    assert!(
        text.contains("[[filter]] 1 (example-drop)") && text.contains("set contains"),
        "{text}"
    );
}

#[test]
fn a_plugin_built_for_another_abi_major_is_refused_by_name_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_builtins(dir.path());
    let lib = build_c_example(
        &plugins,
        "libsyslane_plugin_example_drop.so",
        &["-DEXAMPLE_ABI_MAJOR=2"],
    );
    let config = dir.path().join("syslane.toml");
    let filter = "[[filter]]\nplugin = \"example-drop\"\ncontains = \"x\"\n";
    std::fs::write(
        &config,
        config_text(&plugins, free_port(), filter, &dir.path().join("o.jsonl")),
    )
    .unwrap();

    let (ok, text) = check_config(&config);
    assert!(!ok, "{text}");
    assert!(
        text.contains(lib.to_str().unwrap()),
        "names the file: {text}"
    );
    assert!(
        text.contains(&format!("ABI 2.{SL_ABI_MINOR}"))
            && text.contains(&format!("ABI 1.{SL_ABI_MINOR}")),
        "names both versions: {text}"
    );
    assert!(text.contains("rebuild"), "says what to do: {text}");

    let foreign = format!("ABI 2.{SL_ABI_MINOR}");
    let agent = Agent::spawn(&["run", "--config", config.to_str().unwrap()]);
    agent.expect_log(&foreign, 10);
    let (status, _) = agent.stop();
    assert!(
        !status.success(),
        "run refuses to start with a foreign plugin"
    );

    let listing = Command::new(agent_binary())
        .args(["plugins", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.contains("refused:") && listing.contains(&foreign),
        "{listing}"
    );
    assert!(
        listing.contains("syslog") && listing.contains("input (decoder)"),
        "{listing}"
    );
}

#[test]
fn a_panicking_plugin_is_recreated_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("records.jsonl");
    let filter = "[[filter]]\nplugin = \"example-tag\"\npanic_on = \"BOOM\"\nfields = { Environment = \"test\" }\n";
    let agent = Agent::start(dir.path(), &config_text(&build_dir(), port, filter, &out));
    send_tcp_lf(
        port,
        (0..50).map(|i| format!("<13>1 - h a - - - before-{i}")),
    );
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) >= 50));
    send_tcp_lf(port, ["<13>1 - h a - - - BOOM".to_string()]);
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) >= 51));
    send_tcp_lf(
        port,
        (0..50).map(|i| format!("<13>1 - h a - - - after-{i}")),
    );
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) >= 101));
    let (status, logs) = agent.stop();
    assert!(
        status.success(),
        "agent kept running and exits cleanly: {logs}"
    );
    let records = read_records(&out);
    assert_eq!(records.len(), 101);
    for r in &records {
        let m = r["SyslogMessage"].as_str().unwrap();
        if m == "BOOM" {
            // The batch whose filter call panicked passes unfiltered.
            assert!(r.get("Environment").is_none());
        } else {
            assert_eq!(r["Environment"], "test", "{r}");
        }
    }
    assert!(
        logs.contains("plugin panicked; destroying and recreating"),
        "{logs}"
    );
    assert!(logs.contains("plugin_panics=1"), "{logs}");
}

#[test]
fn plugin_mistakes_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("syslane.toml");
    let base = config_text(&build_dir(), free_port(), "", &dir.path().join("o.jsonl"));

    std::fs::write(&config, format!("{base}[[filter]]\nplugin = \"nosuch\"\n")).unwrap();
    let (ok, text) = check_config(&config);
    assert!(
        !ok && text.contains("[[filter]] 1 (nosuch)")
            && text.contains("libsyslane_plugin_nosuch.so"),
        "{text}"
    );

    std::fs::write(&config, format!("{base}[[filter]]\nplugin = \"file\"\n")).unwrap();
    let (ok, text) = check_config(&config);
    assert!(
        !ok && text.contains("is an output plugin, but the configuration uses it as a filter"),
        "{text}"
    );

    std::fs::write(
        &config,
        format!("{base}[[filter]]\nplugin = \"select\"\nmin_severity = \"loud\"\n"),
    )
    .unwrap();
    let (ok, text) = check_config(&config);
    assert!(
        !ok && text.contains("[[filter]] 1 (select)") && text.contains("`loud` is not a severity"),
        "{text}"
    );
}

#[test]
fn a_world_writable_plugin_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_builtins(dir.path());
    std::fs::set_permissions(&plugins, std::fs::Permissions::from_mode(0o777)).unwrap();
    let config = dir.path().join("syslane.toml");
    std::fs::write(
        &config,
        config_text(&plugins, free_port(), "", &dir.path().join("o.jsonl")),
    )
    .unwrap();
    let (ok, text) = check_config(&config);
    assert!(
        !ok && text.contains("world-writable") && text.contains("chmod go-w"),
        "{text}"
    );
}

#[test]
fn an_output_built_for_abi_1_0_still_loads_checks_and_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_builtins(dir.path());
    build_c_plugin(
        &plugins,
        "libsyslane_plugin_example_reject.so",
        "plugins/examples/c-output/reject_output.c",
        &["-DEXAMPLE_ABI_1_0"],
    );
    let port = free_port();
    let out = dir.path().join("out.jsonl");
    let config = reject_output_config(&plugins, port, &out, "never-matches");
    let path = dir.path().join("syslane.toml");
    std::fs::write(&path, &config).unwrap();
    let listing = syslane(&["plugins", "--config", path.to_str().unwrap()]).1;
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("example-reject") && l.contains(" 1.0 ")),
        "{listing}"
    );
    let (ok, text, err) = syslane(&["check-config", "--config", path.to_str().unwrap()]);
    assert!(ok, "{text}{err}");
    assert!(
        !text.contains("own checks"),
        "a 1.0 output has no check: {text}"
    );
    let agent = Agent::start(dir.path(), &config);
    send_tcp_lf(port, (0..10).map(|i| format!("<14>old abi {i}")));
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) == 10));
    agent.stop();
}
