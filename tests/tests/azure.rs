//! The azure output against the workspace emulator: every auth method, the exact
//! shape of the requests, faults on a schedule, permanent refusals, token refresh,
//! the heartbeat, and check-config's own checks.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use syslane_tests::emulator::*;
use syslane_tests::*;

fn numbered(tag: &str, range: std::ops::Range<usize>) -> impl Iterator<Item = String> + '_ {
    range.map(move |i| format!("<134>Nov 25 10:00:00 web01 nginx[4242]: {tag} seq={i}"))
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

/// A temporary directory with the built-in plugins, an emulator, and a free port.
fn setup(args: &[&str]) -> (tempfile::TempDir, std::path::PathBuf, Emulator, u16) {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_builtins(dir.path());
    let emu = Emulator::start(dir.path(), args);
    (dir, plugins, emu, free_port())
}

#[test]
fn every_auth_method_delivers_and_requests_match_the_logs_ingestion_api() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_builtins(dir.path());
    let emu = Emulator::start(dir.path(), &[]);
    let methods = [
        ("client_secret", "client_secret"),
        ("client_certificate", "client_assertion"),
        ("managed_identity", "imds"),
        ("azure_arc", "arc"),
    ];
    let mut expected = 0;
    for (method, token_kind) in methods {
        let run = dir.path().join(method);
        std::fs::create_dir_all(&run).unwrap();
        let port = free_port();
        let extra = if method == "client_secret" {
            "heartbeat_stream = \"Custom-SyslaneHeartbeat\"\nheartbeat_interval_secs = 1"
        } else {
            ""
        };
        let agent = Agent::start(
            &run,
            &azure_config(&plugins, port, &emu.output_toml(method, extra)),
        );
        send_tcp_lf(port, numbered(method, 0..2000));
        expected += 2000;
        assert!(
            emu.wait_for(SYSLOG_STREAM, expected, Duration::from_secs(60)),
            "{method}: {}\n{}",
            emu.stats(),
            agent.logs()
        );
        let seen = arrivals(&emu.records(SYSLOG_STREAM), method);
        assert_eq!(seen.len(), 2000, "{method}");
        assert!(seen.values().all(|n| *n == 1), "{method}: no duplicates");
        assert!(
            emu.stats()["token_requests"][token_kind]
                .as_u64()
                .unwrap_or(0)
                >= 1,
            "{method} used its own way to a token: {}",
            emu.stats()
        );
        if method == "client_secret" {
            assert!(
                emu.wait_for(HEARTBEAT_STREAM, 2, Duration::from_secs(20)),
                "heartbeats: {}",
                emu.stats()
            );
        }
        agent.stop();
    }

    // Every request as the API documents it.
    let dcr = emu.s("dcr_immutable_id");
    let requests: Vec<Value> = emu
        .requests()
        .into_iter()
        .filter(|r| r["path"].as_str().unwrap().ends_with(SYSLOG_STREAM))
        .collect();
    assert!(requests.len() >= 4);
    for r in &requests {
        assert_eq!(r["method"], "POST");
        assert_eq!(
            r["path"],
            format!("/dataCollectionRules/{dcr}/streams/{SYSLOG_STREAM}").as_str()
        );
        assert_eq!(r["query"], json!({"api-version": "2023-01-01"}));
        assert_eq!(r["content_type"], "application/json");
        assert_eq!(r["content_encoding"], "gzip");
        assert_eq!(r["gzip_magic"], true, "the body really is gzip");
        assert_eq!(r["authorization"], "Bearer <valid token>");
        assert_eq!(r["status"], 204, "{r}");
        let plain = r["uncompressed_bytes"].as_u64().unwrap();
        assert!(plain <= 1_000_000, "within the 1 MB limit: {plain}");
        assert!(r["body_bytes"].as_u64().unwrap() < plain, "compressed");
        assert!(r["user_agent"].as_str().unwrap().starts_with("syslane/"));
    }
    // The body's schema: the Syslog columns with their types, nothing the rule drops.
    assert_eq!(emu.stats()["dropped_columns"], json!({}), "{}", emu.stats());
    let records = emu.records(SYSLOG_STREAM);
    for r in records.iter().take(500) {
        let o = r.as_object().unwrap();
        assert_eq!(o["Facility"], "local0");
        assert_eq!(o["SeverityLevel"], "info");
        assert_eq!(o["ProcessName"], "nginx");
        assert_eq!(o["ProcessID"], 4242, "an integer, not a string");
        assert_eq!(o["Computer"], "web01");
        assert_eq!(o["HostName"], "web01");
        assert_eq!(o["HostIP"], "127.0.0.1");
        assert_eq!(o["SourceSystem"], "Linux");
        assert!(o["TimeGenerated"].as_str().unwrap().ends_with('Z'));
        assert!(o["EventTime"].as_str().unwrap().contains("-11-25T10:00:00"));
    }
    let beats = emu.records(HEARTBEAT_STREAM);
    let b = &beats[beats.len() - 1];
    assert_eq!(b["OSType"], "Linux");
    assert_eq!(b["Version"], env!("CARGO_PKG_VERSION"));
    assert!(b["Computer"].as_str().is_some_and(|c| !c.is_empty()));
    assert!(b["UptimeSeconds"].as_u64().is_some());
    assert!(b["RecordsSent"].as_u64().unwrap() > 0, "{b}");
}

#[test]
fn fifty_thousand_records_survive_429_500_503_hangs_resets_and_413() {
    let (dir, plugins, emu, port) = setup(&[]);
    let output = emu.output_toml(
        "client_certificate",
        "timeout_secs = 3\nmax_concurrent_requests = 4\nmax_request_bytes = 200000",
    );
    let agent = Agent::start(dir.path(), &azure_config(&plugins, port, &output));
    // Faults spread over the run, with a few good requests between them.
    let faults = [
        json!({"status": 429, "retry_after": 1}),
        json!({"status": 500}),
        json!({"reset": true}),
        json!({"status": 503, "retry_after": 1}),
        json!({"hang_secs": 5}),
        json!({"status": 413}),
        json!({"status": 500}),
        json!({"revoke_tokens": true}),
        json!({"reset": true}),
        json!({"status": 429}),
        json!({"slow_secs": 5}),
        json!({"status": 502}),
    ];
    let mut schedule = Vec::new();
    for f in faults {
        if !schedule.is_empty() {
            schedule.push(json!({"pass": 4}));
        }
        schedule.push(f);
    }
    emu.schedule(Value::Array(schedule));
    for part in 0..5 {
        send_tcp_lf(port, numbered("fault", part * 10_000..(part + 1) * 10_000));
    }
    let started = std::time::Instant::now();
    // Duplicates count towards the total, so wait for every distinct number too.
    let mut all = emu.wait_for(SYSLOG_STREAM, 50_000, Duration::from_secs(120));
    while all && arrivals(&emu.records(SYSLOG_STREAM), "fault").len() < 50_000 {
        all = started.elapsed() < Duration::from_secs(180);
        std::thread::sleep(Duration::from_millis(500));
    }
    let stats = emu.stats();
    assert!(all, "{stats}\n{}", agent.logs());
    eprintln!("delivered through the faults in {:?}", started.elapsed());
    if std::env::var_os("SHOW_LOGS").is_some() {
        eprintln!("{}", agent.logs());
    }
    assert_eq!(stats["faults_pending"], 0, "every fault was met: {stats}");
    let seen = arrivals(&emu.records(SYSLOG_STREAM), "fault");
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    // Only the slow answer (stored, then the client timed out) may cause duplicates,
    // and at most the records of that one request.
    let slow_records: u64 = emu
        .requests()
        .iter()
        .filter(|r| r["fault"] == "slow")
        .map(|r| r["records"].as_u64().unwrap_or(0))
        .sum();
    eprintln!(
        "50000 records delivered; {duplicates} duplicates after the timed-out slow answer, which stored {slow_records}; statuses {}",
        stats["statuses"]
    );
    assert!(
        seen.len() == 50_000 && duplicates as u64 <= slow_records,
        "{} distinct, {duplicates} duplicates, {slow_records} stored by the slow answer",
        seen.len()
    );
    let counters = stats_of(dir.path());
    assert!(
        counter(&counters, "syslane_batches_retried") >= 5,
        "{counters}"
    );
    assert_eq!(
        counter(&counters, "syslane_records_dead_lettered"),
        0,
        "{counters}"
    );
    assert!(
        stats["token_requests"]["client_assertion"]
            .as_u64()
            .unwrap()
            >= 2,
        "the 401 after revoking fetched a new token: {stats}"
    );
}

/// A 413 splits a request for good: when one half is taken, one refused and one
/// must wait, the retry sends only the waiting half, and nothing is sent or
/// dead-lettered twice.
#[test]
fn after_a_413_split_only_the_unsettled_halves_are_sent_again() {
    let (dir, plugins, emu, port) = setup(&[]);
    let output = emu.output_toml("client_secret", "max_concurrent_requests = 1");
    // Faults first, so the first request (whatever the batch) meets them.
    emu.schedule(json!([
        {"status": 413},
        {"status": 413},
        {"pass": 1},
        {"status": 400},
        {"status": 500}
    ]));
    let agent = Agent::start(dir.path(), &azure_config(&plugins, port, &output));
    send_tcp_lf(port, numbered("split", 0..2000));
    let dead_letters = dir.path().join("state/dead-letter/dead-letter.jsonl");
    let settled = |emu: &Emulator| {
        let delivered = arrivals(&emu.records(SYSLOG_STREAM), "split");
        let dead = std::fs::read_to_string(&dead_letters).unwrap_or_default();
        (delivered, dead)
    };
    assert!(
        wait_until(Duration::from_secs(30), || {
            let (delivered, dead) = settled(&emu);
            delivered.len() + dead.lines().count() >= 2000
        }),
        "{}",
        agent.logs()
    );
    std::thread::sleep(Duration::from_millis(500));
    let (delivered, dead) = settled(&emu);
    let mut dead_seqs = HashMap::new();
    for line in dead.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let m = v["record"]["SyslogMessage"].as_str().unwrap();
        let seq: usize = m.strip_prefix("split seq=").unwrap().parse().unwrap();
        *dead_seqs.entry(seq).or_insert(0usize) += 1;
    }
    assert_eq!(emu.stats()["faults_pending"], 0, "{}", emu.stats());
    assert!(!dead_seqs.is_empty(), "the 400 refused one piece");
    assert!(
        delivered.values().all(|n| *n == 1) && dead_seqs.values().all(|n| *n == 1),
        "nothing twice: {} delivered more than once, {} dead-lettered more than once",
        delivered.values().filter(|n| **n > 1).count(),
        dead_seqs.values().filter(|n| **n > 1).count()
    );
    assert!(dead_seqs.keys().all(|k| !delivered.contains_key(k)));
    assert_eq!(delivered.len() + dead_seqs.len(), 2000);
    agent.stop();
}

#[test]
fn permanent_refusals_and_oversized_records_go_to_the_dead_letter_file() {
    let (dir, plugins, emu, port) = setup(&[]);
    let config = format!(
        "max_message_size = 2097152\n{}",
        azure_config(&plugins, port, &emu.output_toml("client_secret", ""))
    );
    let agent = Agent::start(dir.path(), &config);
    emu.schedule(json!([{"status": 400}]));
    send_tcp_lf(port, numbered("refused", 0..10));
    agent.expect_log("refused for good", 20);
    let big = format!(
        "<134>Nov 25 10:00:00 web01 app: big {}",
        "x".repeat(1_200_000)
    );
    send_tcp_lf(port, [big]);
    send_tcp_lf(port, numbered("after", 0..100));
    assert!(
        emu.wait_for(SYSLOG_STREAM, 100, Duration::from_secs(30)),
        "{}",
        agent.logs()
    );
    assert!(wait_until(Duration::from_secs(20), || {
        counter(&stats_of(dir.path()), "syslane_records_dead_lettered") == 11
    }));
    let listing = syslane(&[
        "dead-letter",
        "list",
        "--config",
        dir.path().join("syslane.toml").to_str().unwrap(),
    ])
    .1;
    assert!(
        listing.contains("HTTP 400") && listing.contains("fault injected by the test"),
        "the status and the service's own text: {listing}"
    );
    assert!(
        listing.contains("exceeds the Logs Ingestion API's limit"),
        "{listing}"
    );
    assert_eq!(arrivals(&emu.records(SYSLOG_STREAM), "after").len(), 100);
    assert_eq!(arrivals(&emu.records(SYSLOG_STREAM), "refused").len(), 0);

    // Once the cause is gone, replay (the agent stopped: one writer per state_dir)
    // delivers the refused records; the record that can never fit is
    // dead-lettered again, alone.
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    let config = dir.path().join("syslane.toml");
    let (ok, out, err) = syslane(&[
        "dead-letter",
        "replay",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    let seen = arrivals(&emu.records(SYSLOG_STREAM), "refused");
    assert_eq!(seen.len(), 10, "{out}{err}");
    assert!(seen.values().all(|n| *n == 1));
    let listing = syslane(&["dead-letter", "list", "--config", config.to_str().unwrap()]).1;
    assert!(
        listing.contains("exceeds the Logs Ingestion API's limit") && !listing.contains("HTTP 400"),
        "{listing}"
    );
}

#[test]
fn short_lived_tokens_are_refreshed_before_they_expire() {
    let (dir, plugins, emu, port) = setup(&["--token-lifetime-secs", "4"]);
    // Each wave is its own request (no linger), so requests span the token's life.
    let agent = Agent::start(
        dir.path(),
        &azure_config(
            &plugins,
            port,
            &emu.output_toml("managed_identity", "flush_interval_secs = 0"),
        ),
    );
    for wave in 0..4 {
        send_tcp_lf(port, numbered("wave", wave * 100..(wave + 1) * 100));
        std::thread::sleep(Duration::from_millis(2500));
    }
    assert!(emu.wait_for(SYSLOG_STREAM, 400, Duration::from_secs(20)));
    let stats = emu.stats();
    assert!(
        stats["token_requests"]["imds"].as_u64().unwrap() >= 3,
        "refreshed at half-life: {stats}"
    );
    assert_eq!(
        stats["statuses"].get("401"),
        None,
        "never sent an expired token: {stats}\n{}",
        agent.logs()
    );
}

fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("syslane.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn check_config_checks_files_token_and_endpoint() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, plugins, emu, port) = setup(&[]);
    let good = write_config(
        dir.path(),
        &azure_config(&plugins, port, &emu.output_toml("client_secret", "")),
    );
    let (ok, out, err) = syslane(&["check-config", "--config", &good]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("network included"), "{out}");
    assert!(
        err.contains("obtained a token") && err.contains("accepted a request"),
        "{err}"
    );
    assert_eq!(
        emu.stats()["records"][SYSLOG_STREAM],
        0,
        "check-config delivers no records"
    );

    // A wrong rule id: the endpoint's answer is shown.
    let wrong = emu
        .output_toml("client_secret", "")
        .replace(&emu.s("dcr_immutable_id"), "dcr-0000");
    let path = write_config(dir.path(), &azure_config(&plugins, port, &wrong));
    let (ok, _, err) = syslane(&["check-config", "--config", &path]);
    assert!(
        !ok && err.contains("404") && err.contains("dcr-0000"),
        "{err}"
    );

    // Without the emulator's CA its certificate is not trusted, and nothing turns
    // the check off.
    let untrusted = emu
        .output_toml("client_secret", "")
        .replace(&format!("ca_file = \"{}\"\n", emu.s("ca_file")), "");
    let path = write_config(dir.path(), &azure_config(&plugins, port, &untrusted));
    let (ok, _, err) = syslane(&["check-config", "--config", &path]);
    assert!(!ok && err.contains("TLS failed"), "{err}");

    // A secret file others may read is refused, with the fix.
    let secret = emu.s("client_secret_file");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, _, err) = syslane(&["check-config", "--offline", "--config", &good]);
    assert!(
        !ok && err.contains("chmod 600") && err.contains("0644"),
        "{err}"
    );
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();

    // Offline needs no network; online without one fails with the reason.
    drop(emu);
    let (ok, out, err) = syslane(&["check-config", "--offline", "--config", &good]);
    assert!(ok && out.contains("network skipped"), "{out}{err}");
    let (ok, _, err) = syslane(&["check-config", "--config", &good]);
    assert!(!ok && err.contains("could not obtain a token"), "{err}");
}
