//! The redact and enrich filters end to end: the real agent loads them from the
//! build like every plugin, records go in over TCP, and the file output shows
//! what leaves the host.

use std::path::Path;
use std::time::Duration;
use syslane_tests::*;

/// Starts the agent with `filters` and `env`, sends `lines` (LF-framed) and
/// returns the records written.
fn through(filters: &str, env: &[(&str, &str)], lines: &[&str]) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("out.jsonl");
    let config = config_text(&build_dir(), port, filters, &out);
    let agent = Agent::start_with(dir.path(), &config, "info", env);
    send_tcp_lf(port, lines.iter().map(|l| l.to_string()));
    let arrived = wait_until(Duration::from_secs(30), || count_lines(&out) >= lines.len());
    // What the agent counted, for a failure to say where the records stopped.
    let stats = if arrived {
        String::new()
    } else {
        stats_of(dir.path())
    };
    let (status, logs) = agent.stop();
    assert!(
        arrived && status.success(),
        "{} of {} records arrived; exit {status}\nstats:\n{stats}\nlogs:\n{logs}",
        count_lines(&out),
        lines.len()
    );
    read_records(&out)
}

fn message<'a>(records: &'a [serde_json::Value], start: &str) -> &'a serde_json::Value {
    records
        .iter()
        .find(|r| {
            r["SyslogMessage"]
                .as_str()
                .is_some_and(|m| m.starts_with(start))
        })
        .unwrap_or_else(|| panic!("no record starting {start}: {records:?}"))
}

#[test]
fn redact_masks_presets_and_rules_on_the_message_and_named_fields() {
    let filters = r#"[[filter]]
plugin  = "redact"
presets = ["password", "secret", "token", "bearer", "card_number"]
rules   = [
  { pattern = '\b\d{3}-\d{2}-\d{4}\b', replacement = "***-**-****" },
  { pattern = '^(\w)\w*', replacement = "${1}***", fields = ["ProcessName"] },
]
"#;
    let records = through(
        filters,
        &[],
        &[
            "<38>1 2026-11-25T10:00:00Z web1 sshd 77 - - login user=bob password=hunter2 ok",
            "<38>1 2026-11-25T10:00:00Z web1 api 77 - - GET /x Authorization: Bearer eyJhbGciOi.abc-def== client_secret=s3 access_token=t0k",
            "<38>1 2026-11-25T10:00:00Z web1 shop 77 - - paid with 4111 1111 1111 1111 for order 1234567890123456, ssn 123-45-6789",
            "<38>1 2026-11-25T10:00:00Z web1 cron 77 - - nothing to hide here",
        ],
    );
    assert_eq!(records.len(), 4);
    assert_eq!(
        message(&records, "login")["SyslogMessage"],
        "login user=bob password=*** ok"
    );
    assert_eq!(
        message(&records, "GET")["SyslogMessage"],
        "GET /x Authorization: Bearer *** client_secret=*** access_token=***"
    );
    let paid = message(&records, "paid");
    assert_eq!(
        paid["SyslogMessage"],
        "paid with **** **** **** 1111 for order 1234567890123456, ssn ***-**-****"
    );
    assert_eq!(paid["ProcessName"], "s***", "a rule on a named field");
    let plain = message(&records, "nothing");
    assert_eq!(plain["SyslogMessage"], "nothing to hide here");
    assert_eq!(plain["ProcessName"], "c***");
}

#[test]
fn enrich_adds_and_overwrites_fields_from_config_and_environment() {
    let filters = r#"[[filter]]
plugin   = "enrich"
fields   = { Environment = "prod", ProcessName = "renamed" }
from_env = { Region = "SYSLANE_TEST_REGION" }

[[filter]]
plugin    = "enrich"
fields    = { Environment = "staging", Team = "payments" }
overwrite = false
"#;
    let records = through(
        filters,
        &[("SYSLANE_TEST_REGION", "westeurope")],
        &["<14>1 2026-11-25T10:00:00Z web1 app 77 - - stamped"],
    );
    let r = &records[0];
    assert_eq!(r["Environment"], "prod", "overwrite = false keeps it: {r}");
    assert_eq!(r["Team"], "payments", "{r}");
    assert_eq!(r["Region"], "westeurope", "{r}");
    assert_eq!(r["ProcessName"], "renamed", "a column is overwritten: {r}");
}

#[test]
fn filter_config_errors_are_placed_and_explained() {
    let dir = tempfile::tempdir().unwrap();
    let write = |filters: &str| {
        let path = dir.path().join("syslane.toml");
        std::fs::write(
            &path,
            config_text(
                &build_dir(),
                free_port(),
                filters,
                Path::new("/tmp/unused.jsonl"),
            ),
        )
        .unwrap();
        let (ok, out, err) = syslane(&[
            "check-config",
            "--offline",
            "--config",
            path.to_str().unwrap(),
        ]);
        (ok, format!("{out}{err}"))
    };
    let (ok, text) = write("[[filter]]\nplugin = \"redact\"\npresets = [\"passwords\"]\n");
    assert!(
        !ok && text.contains("[[filter]] 1 (redact)")
            && text.contains("`passwords` is not a preset; the presets are password, secret, token, bearer, card_number"),
        "{text}"
    );
    let (ok, text) = write("[[filter]]\nplugin = \"redact\"\nrules = [{ pattern = \"(\" }]\n");
    assert!(
        !ok && text.contains("rules[0].pattern: the regular expression does not compile"),
        "{text}"
    );
    let (ok, text) = write("[[filter]]\nplugin = \"enrich\"\nfrom_env = { Region = \"SYSLANE_TEST_UNSET_VARIABLE\" }\n");
    assert!(
        !ok && text.contains("[[filter]] 1 (enrich)")
            && text.contains("SYSLANE_TEST_UNSET_VARIABLE is not set"),
        "{text}"
    );
    let (ok, text) = write("[[filter]]\nplugin = \"enrich\"\nfeilds = { A = \"b\" }\n");
    assert!(
        !ok && text.contains("(enrich) feilds: unknown key `feilds` (did you mean `fields`?); the valid keys are plugin, fields, from_env, overwrite"),
        "{text}"
    );
}

/// What leaves the host holds no masked secret anywhere: not in `RawMessage`
/// (the message as received, with `keep_raw`), nor in the text of a CEF record
/// (its `Message` column and the extensions no column took).
#[test]
fn redact_reaches_raw_messages_and_cef_text() {
    let dir = tempfile::tempdir().unwrap();
    let (syslog, cef) = (free_port(), free_port());
    let out = dir.path().join("out.jsonl");
    let agent = Agent::start(
        dir.path(),
        &format!(
            "state_dir = \"state\"\nplugin_dir = \"{}\"\n\
             [[listen]]\naddress = \"tcp://127.0.0.1:{syslog}\"\ninput = \"syslog\"\nkeep_raw = true\n\
             [[listen]]\naddress = \"tcp://127.0.0.1:{cef}\"\ninput = \"cef\"\n\
             [[filter]]\nplugin = \"redact\"\npresets = [\"password\", \"token\"]\n\
             [output]\nplugin = \"file\"\npath = \"{}\"\n",
            build_dir().display(),
            out.display()
        ),
    );
    send_tcp_lf(
        syslog,
        [
            "<38>1 2026-11-25T10:00:00Z web1 sshd 77 - - login user=bob password=hunter2 ok"
                .to_string(),
        ],
    );
    send_tcp_lf(
        cef,
        ["<134>Nov 25 10:00:00 fw01 CEF:0|Acme|Edge|2.1|4001|Login|7|src=10.0.0.5 msg=login password\\=hunter2 ok api_key=t0k3n".to_string()],
    );
    assert!(
        wait_until(Duration::from_secs(20), || count_lines(&out) == 2),
        "{}",
        agent.logs()
    );
    agent.stop();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        !text.contains("hunter2") && !text.contains("t0k3n"),
        "a secret left the host:\n{text}"
    );
    let records = read_records(&out);
    let syslog = message(&records, "login user=bob");
    assert_eq!(syslog["SyslogMessage"], "login user=bob password=*** ok");
    assert!(
        syslog["RawMessage"]
            .as_str()
            .is_some_and(|raw| raw.ends_with("login user=bob password=*** ok")),
        "{syslog}"
    );
    let event = records
        .iter()
        .find(|r| r["DeviceVendor"] == "Acme")
        .unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(event["Message"], "login password=*** ok", "{event}");
    assert_eq!(event["AdditionalExtensions"], "api_key=***", "{event}");
    assert_eq!(event["SourceIP"], "10.0.0.5", "{event}");
}
