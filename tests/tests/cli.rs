//! The command line as an operator uses it.

use std::time::Duration;
use syslane_tests::*;

#[test]
fn version_is_printed() {
    let (ok, out, _) = syslane(&["--version"]);
    assert!(ok);
    assert_eq!(out.trim(), format!("syslane {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn the_embedded_default_config_is_valid() {
    let config = workspace_root().join("config/local.toml");
    let (ok, out, err) = syslane(&["check-config", "--config", config.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(": OK") && out.contains("listen udp://127.0.0.1:25224 -> syslog"),
        "{out}"
    );
}

#[test]
fn a_bad_config_line_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    let good = config_text(&build_dir(), free_port(), "", &dir.path().join("o.jsonl"));
    std::fs::write(&config, good.replace("state_dir", "stat_dir")).unwrap();
    let (ok, _, err) = syslane(&["check-config", "--config", config.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains(config.to_str().unwrap())
            && err.contains("line 1")
            && err.contains("stat_dir"),
        "{err}"
    );

    let (ok, _, err) = syslane(&["check-config", "--config", "/nonexistent/syslane.toml"]);
    assert!(
        !ok && err.contains("cannot read the configuration file"),
        "{err}"
    );
}

#[test]
fn plugins_lists_the_built_in_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("syslane.toml");
    std::fs::write(
        &config,
        config_text(&build_dir(), free_port(), "", &dir.path().join("o.jsonl")),
    )
    .unwrap();
    let (ok, out, err) = syslane(&["plugins", "--config", config.to_str().unwrap()]);
    assert!(ok, "{err}");
    for (name, kind) in [
        ("syslog", "input (decoder)"),
        ("select", "filter"),
        ("file", "output"),
        ("example-tag", "filter"),
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing:\n{out}"));
        assert!(
            // ABI major 1 (a column of its own; "1.0" matched only 0.1.0's version).
            line.contains(kind)
                && line.split_whitespace().any(|f| f.starts_with("1."))
                && line.contains(env!("CARGO_PKG_VERSION")),
            "{line}"
        );
    }
}

/// A port another program holds (as the Log Analytics agent holds udp/25224 and
/// tcp/25226 during a swap) does not stop the agent: the other listeners serve,
/// the wait is logged once, and the port is taken as soon as it is freed.
#[test]
fn a_port_in_use_is_waited_for_and_taken_once_freed() {
    let dir = tempfile::tempdir().unwrap();
    let busy = free_port();
    let free = free_port();
    let held_udp = std::net::UdpSocket::bind(("127.0.0.1", busy)).unwrap();
    let held_tcp = std::net::TcpListener::bind(("127.0.0.1", busy)).unwrap();
    let out = dir.path().join("o.jsonl");
    let config = config_with(
        &build_dir(),
        &format!(
            "[[listen]]\naddress = \"udp://127.0.0.1:{busy}\"\ninput = \"syslog\"\n\
             [[listen]]\naddress = \"tcp://127.0.0.1:{busy}\"\ninput = \"syslog\"\n\
             [[listen]]\naddress = \"tcp://127.0.0.1:{free}\"\ninput = \"syslog\"\n"
        ),
        &out,
    );
    let agent = Agent::start(dir.path(), &config);
    agent.expect_log("the port is in use by another program", 20);
    let logs = agent.logs();
    for address in [
        format!("udp://127.0.0.1:{busy}"),
        format!("tcp://127.0.0.1:{busy}"),
    ] {
        assert!(logs.contains(&address), "{address}: {logs}");
    }
    // The free listener serves meanwhile.
    send_tcp_lf(free, ["<13>1 - h a - - - while-waiting".to_string()]);
    assert!(
        wait_until(Duration::from_secs(20), || count_lines(&out) == 1),
        "{}",
        agent.logs()
    );
    drop(held_tcp);
    drop(held_udp);
    assert!(
        wait_until(Duration::from_secs(20), || {
            agent
                .logs()
                .matches("the port is free now: listening")
                .count()
                == 2
        }),
        "{}",
        agent.logs()
    );
    send_tcp_lf(busy, ["<13>1 - h a - - - tcp-after".to_string()]);
    send_udp(busy, ["<13>1 - h a - - - udp-after".to_string()], 1);
    assert!(
        wait_until(Duration::from_secs(20), || count_lines(&out) == 3),
        "{}",
        agent.logs()
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("tcp-after") && text.contains("udp-after"),
        "{text}"
    );
    agent.stop();
}

/// A port that cannot be bound for another reason still stops the start, named.
#[test]
fn a_listen_address_that_cannot_be_bound_is_a_clear_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("syslane.toml");
    let port = free_port();
    std::fs::write(
        &config,
        config_with(
            &build_dir(),
            &format!("[[listen]]\naddress = \"tcp://192.0.2.1:{port}\"\ninput = \"syslog\"\n"),
            &dir.path().join("o.jsonl"),
        ),
    )
    .unwrap();
    let (ok, _, err) = syslane(&["run", "--config", config.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains(&format!("cannot listen on tcp://192.0.2.1:{port}")),
        "{err}"
    );
}

#[test]
fn stats_reads_the_counters_of_a_running_agent() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("o.jsonl");
    let agent = Agent::start(dir.path(), &config_text(&build_dir(), port, "", &out));
    send_tcp_lf(port, (0..25).map(|i| format!("<13>1 - h a - - - stat-{i}")));
    assert!(wait_until(
        std::time::Duration::from_secs(10),
        || count_lines(&out) >= 25
    ));
    let config = dir.path().join("syslane.toml");
    let mut text = String::new();
    assert!(
        wait_until(std::time::Duration::from_secs(5), || {
            text = syslane(&[
                "stats",
                "--prometheus",
                "--config",
                config.to_str().unwrap(),
            ])
            .1;
            text.contains("syslane_records_sent_total 25\n")
        }),
        "{text}"
    );
    assert!(
        text.contains("# TYPE syslane_frames_received_total counter")
            && text.contains("syslane_connections_accepted_total 1\n"),
        "{text}"
    );
    // The summary: rates between two readings, the journal, the output.
    let sender = std::thread::spawn(move || {
        for round in 0..10 {
            send_tcp_lf(
                port,
                (0..50).map(|i| format!("<13>1 - h a - - - rate-{round}-{i}")),
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let (ok, summary, err) = syslane(&[
        "stats",
        "--interval",
        "0.8",
        "--config",
        config.to_str().unwrap(),
    ]);
    sender.join().unwrap();
    assert!(ok, "{err}");
    let rate = |title: &str| -> f64 {
        let line = summary
            .lines()
            .find(|l| l.trim_start().starts_with(title))
            .unwrap_or_else(|| panic!("no {title} line:\n{summary}"));
        line.split_whitespace()
            .find_map(|w| w.strip_suffix("/s"))
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("no rate in {line}"))
    };
    assert!(
        summary.starts_with(&format!(
            "syslane {}: rates over the last 0.",
            env!("CARGO_PKG_VERSION")
        )),
        "{summary}"
    );
    assert!(rate("received") > 50.0 && rate("sent") > 0.0, "{summary}");
    assert!(
        summary.contains("journal ")
            && summary.contains("of 1.0 GiB")
            && summary.contains("output         no error since the agent started"),
        "{summary}"
    );
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let (ok, _, err) = syslane(&["stats", "--config", config.to_str().unwrap()]);
    assert!(!ok && err.contains("no agent answers"), "{err}");
}

#[test]
fn a_conf_d_drop_in_adds_a_filter_without_editing_the_main_file() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_builtins(dir.path());
    let port = free_port();
    let out = dir.path().join("out.jsonl");
    std::fs::create_dir(dir.path().join("conf.d")).unwrap();
    std::fs::write(
        dir.path().join("conf.d/50-vendor.toml"),
        "[[filter]]\nplugin = \"example-tag\"\nfields = { Site = \"lab\" }\n",
    )
    .unwrap();
    let agent = Agent::start(dir.path(), &config_text(&plugins, port, "", &out));
    send_tcp_lf(port, ["<14>Nov 25 10:00:00 h app: dropped in".to_string()]);
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) == 1));
    agent.stop();
    let records = read_records(&out);
    assert_eq!(records[0]["Site"], "lab", "{}", records[0]);
}

/// `syslane-bench --help` and a bad option answer like `syslane` does (clap),
/// never with a panic, and the help names every mode and option.
#[test]
fn the_benchmark_documents_its_modes_and_refuses_bad_options_without_a_panic() {
    let bench = env!("CARGO_BIN_EXE_syslane-bench");
    let out = std::process::Command::new(bench)
        .arg("--help")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let (help, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{help}{err}");
    assert!(
        help.starts_with("End-to-end benchmarks of the real agent"),
        "{help}"
    );
    for option in [
        "--messages <N>",
        "--connections <N,N,...>",
        "--workers <N>",
        "--fsync <POLICY>",
        "--filter <FILTER,...>",
        "--recovery-mib <MIB>",
        "--azure <N,N,...>",
        "--rsyslog",
        "--parse",
        "--rounds <N>",
        "--compare",
    ] {
        assert!(help.contains(option), "{option} missing:\n{help}");
    }
    for mode in [
        "Mode: fill the journal",
        "Mode: ship to the workspace emulator",
        "Mode: a real rsyslogd",
        "Mode: the parser",
    ] {
        assert!(help.contains(mode), "{mode} missing:\n{help}");
    }
    assert!(!err.contains("panicked"), "{err}");

    for bad in [
        &["--messages", "0"][..],
        &["--connections", "x"],
        &["--parse", "--azure", "1"],
        &["--compare"],
        &["--no-such-option"],
    ] {
        let out = std::process::Command::new(bench)
            .args(bad)
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {err}");
        assert!(
            err.starts_with("error: ") && !err.contains("panicked"),
            "{bad:?}: {err}"
        );
    }
}
