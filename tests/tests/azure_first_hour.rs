//! The agent's first hour against a new workspace, end to end with the real agent
//! and the emulator: a role assignment that has not applied yet (403), a token
//! endpoint that is down for a while, a token the endpoint does not accept (401),
//! check-config probing every stream, and CEF records into CommonSecurityLog.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use syslane_tests::emulator::*;
use syslane_tests::*;

fn numbered(tag: &str, range: std::ops::Range<usize>) -> impl Iterator<Item = String> + '_ {
    range.map(move |i| format!("<134>Nov 25 10:00:00 web01 app[7]: {tag} seq={i}"))
}

/// seq → how many times it arrived, for records of `tag`.
fn arrivals(records: &[Value], tag: &str) -> HashMap<usize, usize> {
    let mut seen = HashMap::new();
    for r in records {
        let m = r["SyslogMessage"].as_str().unwrap_or("");
        if let Some(seq) = m.strip_prefix(tag).and_then(|s| s.strip_prefix(" seq=")) {
            *seen.entry(seq.parse::<usize>().unwrap()).or_default() += 1;
        }
    }
    seen
}

fn setup(args: &[&str]) -> (tempfile::TempDir, PathBuf, Emulator, u16) {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_builtins(dir.path());
    let emu = Emulator::start(dir.path(), args);
    (dir, plugins, emu, free_port())
}

fn check_config(dir: &std::path::Path, config: &str) -> (bool, String) {
    let path = dir.join("check.toml");
    std::fs::write(&path, config).unwrap();
    let (ok, out, err) = syslane(&["check-config", "--config", path.to_str().unwrap()]);
    (ok, format!("{out}{err}"))
}

/// Deploy, then start the agent at once, as the book's Ship to Azure pages say: the role has not
/// applied yet. Batches wait (a log line a retry, naming the role and the rule),
/// offered again every `forbidden_retry_interval_secs` and not at the agent's
/// short backoff, nothing is dead-lettered, and everything arrives once the role
/// applies.
#[test]
fn a_role_not_yet_applied_is_waited_for_and_nothing_is_lost() {
    let (dir, plugins, emu, port) = setup(&["--role-applies-after-secs", "8"]);
    let output = emu.output_toml("client_secret", "forbidden_retry_interval_secs = 2");
    let agent = Agent::start(dir.path(), &azure_config(&plugins, port, &output));
    send_tcp_lf(port, numbered("early", 0..300));
    agent.expect_log("HTTP 403", 20);
    let logs = agent.logs();
    let dcr = emu.s("dcr_immutable_id");
    assert!(
        logs.contains("Monitoring Metrics Publisher")
            && logs.contains(&dcr)
            && logs.contains("30 minutes"),
        "the retry names the role and the rule:\n{logs}"
    );
    assert!(
        emu.wait_for(SYSLOG_STREAM, 300, Duration::from_secs(30)),
        "{}\n{}",
        emu.stats(),
        agent.logs()
    );
    let seen = arrivals(&emu.records(SYSLOG_STREAM), "early");
    assert_eq!(seen.len(), 300);
    assert!(seen.values().all(|n| *n == 1));
    // The 403s came at the configured interval (2 s), not at the backoff that
    // other failures get (1 s, then 2, 4, ... with jitter).
    let forbidden: Vec<u64> = emu
        .requests()
        .iter()
        .filter(|r| {
            r["status"] == 403
                && r["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with(&format!("/streams/{SYSLOG_STREAM}")))
        })
        .map(|r| r["at_ms"].as_u64().unwrap())
        .collect();
    assert!(
        (2..=5).contains(&forbidden.len()),
        "403s in the 8 s before the role applied, every 2 s: {forbidden:?}"
    );
    for pair in forbidden.windows(2) {
        assert!(
            pair[1] - pair[0] >= 1_900,
            "retries of a 403 wait forbidden_retry_interval_secs: {forbidden:?}"
        );
    }
    agent.expect_log("accepts records again after", 10);
    let stats = stats_of(dir.path());
    assert_eq!(
        counter(&stats, "syslane_records_dead_lettered"),
        0,
        "{stats}"
    );
    assert!(counter(&stats, "syslane_batches_retried") >= 1, "{stats}");
    assert_eq!(counter(&stats, "syslane_records_sent"), 300, "{stats}");
    agent.stop();
}

/// A 403 that lasts past the window sends the records to the dead-letter file with
/// the role named; once the role is there, replay delivers them.
#[test]
fn a_403_that_outlasts_the_window_is_dead_lettered_with_the_role_named() {
    let (dir, plugins, emu, port) = setup(&["--role-applies-after-secs", "600"]);
    let output = emu.output_toml(
        "client_secret",
        "forbidden_retry_interval_secs = 1\nforbidden_dead_letter_after_secs = 3",
    );
    let agent = Agent::start(dir.path(), &azure_config(&plugins, port, &output));
    send_tcp_lf(port, numbered("late", 0..50));
    assert!(
        wait_until(Duration::from_secs(30), || {
            counter(&stats_of(dir.path()), "syslane_records_dead_lettered") == 50
        }),
        "{}",
        agent.logs()
    );
    assert!(
        emu.stat(&["statuses", "403"]) >= 2,
        "retried before giving up: {}",
        emu.stats()
    );
    let config = dir.path().join("syslane.toml");
    let listing = syslane(&["dead-letter", "list", "--config", config.to_str().unwrap()]).1;
    assert!(
        listing.contains("HTTP 403") && listing.contains("Monitoring Metrics Publisher"),
        "{listing}"
    );
    assert_eq!(arrivals(&emu.records(SYSLOG_STREAM), "late").len(), 0);
    agent.stop();
    emu.set_state(json!({"forbidden_secs": 0}));
    let (ok, out, err) = syslane(&[
        "dead-letter",
        "replay",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    assert_eq!(arrivals(&emu.records(SYSLOG_STREAM), "late").len(), 50);
}

/// While IMDS is down and the old token is still good, records keep flowing and
/// the refresh is tried with growing pauses, not on every request.
#[test]
fn a_token_outage_is_retried_with_pauses_while_the_old_token_serves() {
    let (dir, plugins, emu, port) = setup(&["--token-lifetime-secs", "8"]);
    // Requests all through the outage (no linger), so the refresh is tried on the way.
    let agent = Agent::start(
        dir.path(),
        &azure_config(
            &plugins,
            port,
            &emu.output_toml("managed_identity", "flush_interval_secs = 0"),
        ),
    );
    send_tcp_lf(port, numbered("before", 0..10));
    assert!(emu.wait_for(SYSLOG_STREAM, 10, Duration::from_secs(20)));
    let issued = Instant::now();
    // The token is due for refresh at 4 s and expires at 8 s; IMDS is down until 6 s.
    emu.set_state(json!({"token_outage_secs": 6}));
    let mut sent = 0;
    let (mut at_refresh, mut at_recovery) = (None, None);
    while issued.elapsed() < Duration::from_secs(9) {
        send_tcp_lf(port, numbered("flow", sent..sent + 5));
        sent += 5;
        std::thread::sleep(Duration::from_millis(100));
        let t = issued.elapsed();
        if at_refresh.is_none() && t > Duration::from_millis(4300) {
            at_refresh = Some(arrivals(&emu.records(SYSLOG_STREAM), "flow").len());
        }
        if at_recovery.is_none() && t > Duration::from_millis(5900) {
            at_recovery = Some(arrivals(&emu.records(SYSLOG_STREAM), "flow").len());
        }
    }
    let during = at_recovery.unwrap() - at_refresh.unwrap();
    assert!(
        emu.wait_for(SYSLOG_STREAM, 10 + sent, Duration::from_secs(30)),
        "{}\n{}",
        emu.stats(),
        agent.logs()
    );
    let stats = emu.stats();
    let failures = stats["token_failures"]["imds"].as_u64().unwrap_or(0);
    assert!(
        (1..=5).contains(&failures),
        "{failures} token requests during the outage, for {sent} records sent in it: {stats}"
    );
    assert!(
        during > 0,
        "records kept flowing with the old token during the outage"
    );
    assert_eq!(stats["statuses"].get("401"), None, "{stats}");
    assert_eq!(arrivals(&emu.records(SYSLOG_STREAM), "flow").len(), sent);
    agent.stop();
}

/// A 401 to a fresh token is about the token (tenant, cloud, scope, secret), not
/// the role; records wait and arrive once the token is good.
#[test]
fn a_rejected_token_is_reported_as_a_token_problem_not_a_missing_role() {
    let (dir, plugins, emu, port) = setup(&[]);
    emu.set_state(json!({"reject_tokens_secs": 4}));
    let agent = Agent::start(
        dir.path(),
        &azure_config(&plugins, port, &emu.output_toml("client_secret", "")),
    );
    send_tcp_lf(port, numbered("rejected", 0..20));
    agent.expect_log("HTTP 401 with a fresh token", 20);
    let logs = agent.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("HTTP 401 with a fresh token"))
        .unwrap();
    assert!(
        line.contains("did not accept the token")
            && line.contains("tenant_id")
            && line.contains("scope"),
        "{line}"
    );
    assert!(!line.contains("role assignment"), "{line}");
    assert!(
        emu.wait_for(SYSLOG_STREAM, 20, Duration::from_secs(40)),
        "{}",
        agent.logs()
    );
    agent.stop();
}

#[test]
fn check_config_probes_every_stream_and_names_the_one_that_fails() {
    let (dir, plugins, emu, port) = setup(&["--parameter", "securityStream=true"]);
    let all = "security_stream = \"Custom-SyslaneSecurity\"\nheartbeat_stream = \"Custom-SyslaneHeartbeat\"";
    let (ok, out) = check_config(
        dir.path(),
        &azure_config(&plugins, port, &emu.output_toml("client_secret", all)),
    );
    assert!(ok, "{out}");
    for key in [
        "stream Custom-SyslaneSyslog",
        "security_stream Custom-SyslaneSecurity",
        "heartbeat_stream Custom-SyslaneHeartbeat",
    ] {
        assert!(
            out.contains(&format!("accepted a request for {key}")),
            "{key}: {out}"
        );
    }
    let typo = all.replace("Custom-SyslaneSecurity", "Custom-SyslaneSecurty");
    let (ok, out) = check_config(
        dir.path(),
        &azure_config(&plugins, port, &emu.output_toml("client_secret", &typo)),
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains("security_stream \"Custom-SyslaneSecurty\"")
            && out.contains("404")
            && out.contains("declares this stream"),
        "{out}"
    );
    let stored = emu.stats()["records"].clone();
    assert!(
        stored.as_object().unwrap().values().all(|n| n == 0),
        "check-config stores nothing: {stored}"
    );

    // A rule deployed without the security stream (no Sentinel) does not have it.
    let (dir, plugins, emu, port) = setup(&[]);
    let (ok, out) = check_config(
        dir.path(),
        &azure_config(&plugins, port, &emu.output_toml("client_secret", all)),
    );
    assert!(
        !ok && out.contains("security_stream") && out.contains("Sentinel"),
        "{out}"
    );
}

#[test]
fn check_config_reports_a_missing_role_with_what_to_do() {
    let (dir, plugins, emu, port) = setup(&["--role-applies-after-secs", "600"]);
    let (ok, out) = check_config(
        dir.path(),
        &azure_config(&plugins, port, &emu.output_toml("managed_identity", "")),
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains("HTTP 403")
            && out.contains("Monitoring Metrics Publisher")
            && out.contains(&emu.s("dcr_immutable_id"))
            && out.contains("30 minutes"),
        "{out}"
    );
}

/// CEF from a firewall to CommonSecurityLog: the custom numbers land in the
/// 64-bit columns, and in the legacy ones only when they fit; the rule drops
/// nothing the agent sends.
#[test]
fn cef_records_reach_common_security_log_with_every_column_kept() {
    let (dir, plugins, emu, port) = setup(&["--parameter", "securityStream=true"]);
    let cef_port = free_port();
    let output = emu.output_toml(
        "client_certificate",
        "security_stream = \"Custom-SyslaneSecurity\"",
    );
    let config = azure_config(&plugins, port, &output).replace(
        "[output]",
        &format!("[[listen]]\naddress = \"tcp://127.0.0.1:{cef_port}\"\ninput = \"cef\"\ntimezone = \"UTC\"\n[output]"),
    );
    let agent = Agent::start(dir.path(), &config);
    send_tcp_lf(
        cef_port,
        [
            "<134>Nov 25 10:00:00 fw01 CEF:0|Acme|FW|1|100|blocked|7|src=10.0.0.5 spt=51515 cn1=42 cn1Label=rule cn2=5000000000 in=12345678901 custom=x".to_string(),
        ],
    );
    assert!(
        emu.wait_for(SECURITY_STREAM, 1, Duration::from_secs(20)),
        "{}",
        agent.logs()
    );
    let r = &emu.records(SECURITY_STREAM)[0];
    assert_eq!(r["DeviceVendor"], "Acme");
    assert_eq!(r["SourcePort"], 51515);
    assert_eq!(r["FieldDeviceCustomNumber1"], 42);
    assert_eq!(r["DeviceCustomNumber1"], 42);
    assert_eq!(r["FieldDeviceCustomNumber2"], 5_000_000_000i64);
    assert!(r.get("DeviceCustomNumber2").is_none(), "{r}");
    assert_eq!(r["ReceivedBytes"], 12_345_678_901i64);
    assert_eq!(r["AdditionalExtensions"], "custom=x");
    assert_eq!(emu.stats()["dropped_columns"], json!({}), "{}", emu.stats());
    let algs = emu.stats()["assertion_algs"].clone();
    assert!(
        algs.as_object().unwrap().keys().eq(["PS256"].iter()),
        "client assertions are PS256: {algs}"
    );
    agent.stop();
}

/// A workspace without Sentinel has no security stream, but the packaged
/// configuration still listens for CEF: those records are kept in the dead-letter
/// file with what to do, and Syslog records keep flowing.
#[test]
fn cef_records_without_a_security_stream_are_dead_lettered_with_what_to_do() {
    let (dir, plugins, emu, port) = setup(&[]);
    let cef_port = free_port();
    let config = azure_config(&plugins, port, &emu.output_toml("client_secret", "")).replace(
        "[output]",
        &format!("[[listen]]\naddress = \"tcp://127.0.0.1:{cef_port}\"\ninput = \"cef\"\ntimezone = \"UTC\"\n[output]"),
    );
    let agent = Agent::start(dir.path(), &config);
    send_tcp_lf(
        cef_port,
        ["<134>Nov 25 10:00:00 fw01 CEF:0|Acme|FW|1|100|blocked|7|src=10.0.0.5".to_string()],
    );
    send_tcp_lf(port, numbered("plain", 0..5));
    assert!(
        wait_until(Duration::from_secs(20), || {
            counter(&stats_of(dir.path()), "syslane_records_dead_lettered") == 1
        }),
        "{}",
        agent.logs()
    );
    assert!(emu.wait_for(SYSLOG_STREAM, 5, Duration::from_secs(20)));
    let config_path = dir.path().join("syslane.toml");
    let listing = syslane(&[
        "dead-letter",
        "list",
        "--config",
        config_path.to_str().unwrap(),
    ])
    .1;
    assert!(
        listing.contains("CommonSecurityLog records (CEF and Cisco ASA/FTD) cannot be sent")
            && listing.contains("Microsoft Sentinel")
            && listing.contains("--security-stream on")
            && listing.contains("dead-letter replay"),
        "{listing}"
    );
    agent.stop();
}

/// The (section, key) pairs of a TOML text, in order.
fn keys(toml: &str) -> Vec<(String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_string();
        } else if let Some((k, _)) = line.split_once('=') {
            if !line.starts_with('#') {
                out.push((section.clone(), k.trim().to_string()));
            }
        }
    }
    out
}

/// The book's dry run (docs/src/azure-emulator.md) shows the whole `[output]` and `[output.auth]` for the
/// emulator; the emulator writes the same keys with its values, and they work.
#[test]
fn the_books_dry_run_section_is_the_emulators_and_it_works() {
    let page =
        std::fs::read_to_string(workspace_root().join("docs/src/azure-emulator.md")).unwrap();
    let dry_run = &page[page.find("# A dry run without Azure").unwrap()..];
    let start = dry_run.find("```toml\n[output]").unwrap() + "```toml\n".len();
    let block = &dry_run[start..start + dry_run[start..].find("```").unwrap()];
    let (dir, plugins, emu, port) = setup(&["--parameter", "securityStream=true"]);
    let written = std::fs::read_to_string(emu.s("output_file")).unwrap();
    assert_eq!(
        keys(block),
        keys(&written),
        "docs/src/azure-emulator.md:\n{block}\nemulator:\n{written}"
    );
    let (ok, out) = check_config(dir.path(), &azure_config(&plugins, port, &written));
    assert!(ok, "{out}");
}

#[test]
fn auth_keys_written_in_output_are_sent_to_output_auth() {
    let (dir, plugins, emu, port) = setup(&[]);
    let misplaced = emu.output_toml("client_secret", "").replace(
        &format!("authority_host = \"{}\"\n", emu.s("authority_host")),
        "",
    );
    let misplaced = misplaced.replace(
        "[output.auth]",
        &format!(
            "authority_host = \"{}\"\n[output.auth]",
            emu.s("authority_host")
        ),
    );
    let path = dir.path().join("misplaced.toml");
    std::fs::write(&path, azure_config(&plugins, port, &misplaced)).unwrap();
    let (ok, _, err) = syslane(&[
        "check-config",
        "--offline",
        "--config",
        path.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains(&format!(
            "{}: line {}: [output] (azure) authority_host: belongs in [output.auth], not in [output]; move it below an [output.auth] line",
            path.display(),
            line_of(&path, "authority_host = ")
        )),
        "{err}"
    );

    // A key of [output.auth] misspelled, or a method that does not exist: the
    // table, the line and the key, and [output.auth]'s own keys.
    let auth = emu.output_toml("client_secret", "");
    for (wrong, key, said) in [
        (
            auth.replace("tenant_id = ", "tenant = "),
            "tenant",
            "unknown key `tenant`; the valid keys are method, tenant_id, client_id, client_secret_file,",
        ),
        (
            auth.replace("method = \"client_secret\"", "method = \"client_secrets\""),
            "method",
            "unknown variant `client_secrets`, expected one of `client_secret`, `client_certificate`, `managed_identity`, `azure_arc`",
        ),
    ] {
        std::fs::write(&path, azure_config(&plugins, port, &wrong)).unwrap();
        let (ok, _, err) = syslane(&["check-config", "--offline", "--config", path.to_str().unwrap()]);
        let line = line_of(&path, &format!("{key} = "));
        assert!(
            !ok && err.contains(&format!(
                "{}: line {line}: [output.auth] (azure) {key}: {said}",
                path.display()
            )),
            "{err}"
        );
        assert!(!err.contains("plugin,"), "[output.auth] takes no plugin key: {err}");
    }
}

/// The 1-based line of the first line starting with `start` in `path`.
fn line_of(path: &std::path::Path, start: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .position(|l| l.trim_start().starts_with(start))
        .unwrap_or_else(|| panic!("no {start} in {}", path.display()))
        + 1
}
