//! `metrics_address`: `/metrics` over HTTP in the Prometheus text format, read
//! with a real HTTP client from the real agent, checked against the format's
//! rules (https://prometheus.io/docs/instrumenting/exposition_formats/) and
//! against the stats socket.

use std::collections::BTreeSet;
use std::time::Duration;
use syslane_tests::*;

fn client() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build(),
    )
}

/// A metric name of the text format: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Checks the text against the format's rules and returns the metric names:
/// every sample's family has one `# TYPE` before its samples, names and values
/// are well formed, label values are quoted, the text ends with a line feed.
fn parse_exposition(text: &str) -> BTreeSet<String> {
    assert!(
        text.ends_with('\n'),
        "the last line must end with a line feed"
    );
    let mut typed: BTreeSet<String> = BTreeSet::new();
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split(' ');
            let name = words.next().unwrap();
            let kind = words.next().unwrap();
            assert!(valid_name(name), "{line}");
            assert!(["counter", "gauge"].contains(&kind), "{line}");
            assert!(typed.insert(name.to_string()), "TYPE given twice: {line}");
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let name = match series.split_once('{') {
            Some((name, labels)) => {
                assert!(labels.ends_with('}'), "{line}");
                for pair in labels.trim_end_matches('}').split("\",") {
                    let (key, v) = pair.split_once('=').unwrap();
                    assert!(valid_name(key) && v.starts_with('"'), "{line}");
                }
                name
            }
            None => series,
        };
        assert!(valid_name(name), "{line}");
        assert!(typed.contains(name), "sample before its TYPE: {line}");
        names.insert(name.to_string());
    }
    names
}

#[test]
fn metrics_are_served_over_http_in_the_prometheus_text_format() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let metrics_port = free_port();
    let out = dir.path().join("o.jsonl");
    let config = format!(
        "metrics_address = \"127.0.0.1:{metrics_port}\"\n{}",
        config_text(&build_dir(), port, "", &out)
    );
    let agent = Agent::start(dir.path(), &config);
    agent.expect_log(
        &format!("serving metrics url=http://127.0.0.1:{metrics_port}/metrics"),
        5,
    );
    send_tcp_lf(
        port,
        (0..30).map(|i| format!("<14>1 - h app - - - scraped {i}")),
    );
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) == 30));

    let http = client();
    let url = format!("http://127.0.0.1:{metrics_port}/metrics");
    let mut body = String::new();
    let mut content_type = String::new();
    assert!(
        wait_until(Duration::from_secs(20), || {
            let mut r = http.get(&url).call().unwrap();
            assert_eq!(r.status(), 200);
            content_type = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            body = r.body_mut().read_to_string().unwrap();
            body.contains("\nsyslane_records_sent_total 30\n")
        }),
        "{body}"
    );
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(
        body.contains(&format!(
            "syslane_build_info{{version=\"{}\",abi=\"1.2\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{body}"
    );
    for line in [
        "# TYPE syslane_journal_bytes gauge",
        "# TYPE syslane_journal_max_bytes gauge\nsyslane_journal_max_bytes 1073741824\n",
        "# TYPE syslane_connections_open gauge",
        "syslane_frames_received_total 30\n",
    ] {
        assert!(body.contains(line), "{line} missing:\n{body}");
    }
    let over_http = parse_exposition(&body);
    let over_socket = parse_exposition(&stats_of(dir.path()));
    assert_eq!(
        over_http, over_socket,
        "the same metrics as the stats socket"
    );
    assert!(over_http.len() > 20, "{over_http:?}");

    let r = http.head(&url).call().unwrap();
    assert_eq!(r.status(), 200);
    let mut r = http
        .get(&format!("http://127.0.0.1:{metrics_port}/"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.body_mut().read_to_string().unwrap().contains("/metrics"));
    let r = http.post(&url).send("").unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers().get("allow").unwrap(), "GET, HEAD");

    // A second agent asking for the same address is told which key to change.
    let other = tempfile::tempdir().unwrap();
    let path = other.path().join("syslane.toml");
    std::fs::write(
        &path,
        format!(
            "metrics_address = \"127.0.0.1:{metrics_port}\"\n{}",
            config_text(&build_dir(), free_port(), "", &other.path().join("o.jsonl"))
        ),
    )
    .unwrap();
    let (ok, _, err) = syslane(&["run", "--config", path.to_str().unwrap()]);
    assert!(
        !ok && err.contains(&format!(
            "metrics_address: cannot listen on 127.0.0.1:{metrics_port}"
        )),
        "{err}"
    );

    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    assert!(
        http.get(&url).call().is_err(),
        "the endpoint closes with the agent"
    );
}

/// Off unless configured; an address beyond loopback is served, and the log
/// says that other hosts can read it.
#[test]
fn metrics_are_off_by_default_and_a_wide_address_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let agent = Agent::start(
        dir.path(),
        &config_text(&build_dir(), free_port(), "", &out),
    );
    let (status, logs) = agent.stop();
    assert!(
        status.success() && !logs.contains("serving metrics"),
        "{logs}"
    );

    let metrics_port = free_port();
    let agent = Agent::start(
        dir.path(),
        &format!(
            "metrics_address = \"0.0.0.0:{metrics_port}\"\n{}",
            config_text(&build_dir(), free_port(), "", &out)
        ),
    );
    agent.expect_log("serving /metrics beyond loopback", 5);
    let mut r = client()
        .get(&format!("http://127.0.0.1:{metrics_port}/metrics"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .body_mut()
        .read_to_string()
        .unwrap()
        .contains("syslane_build_info{"));
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
}
