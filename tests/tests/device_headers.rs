//! What appliances, routers and old daemons send straight to the agent, through real
//! sockets into the real agent and out of its file output: each category of header
//! (tags without colons, loose spacing, device timestamps, headers without a
//! hostname, IPv6 hostnames, long RFC 5424 fields), year inference, and the
//! TimeGenerated window with its counter in `syslane stats --prometheus` and /metrics.

use jiff::{tz::TimeZone, Timestamp, ToSpan};
use serde_json::Value;
use std::io::{Read, Write};
use std::time::Duration;
use syslane_tests::device_cases::device_cases;
use syslane_tests::*;

fn bsd(t: Timestamp) -> String {
    TimeZone::UTC
        .to_datetime(t)
        .strftime("%b %e %H:%M:%S")
        .to_string()
}

fn rfc3339(t: Timestamp) -> String {
    t.to_string()
}

#[test]
fn device_headers_year_and_time_window_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let metrics_port = free_port();
    let out = dir.path().join("records.jsonl");
    let config = format!(
        "metrics_address = \"127.0.0.1:{metrics_port}\"\n{}",
        config_text(&build_dir(), port, "", &out)
    );
    let agent = Agent::start(dir.path(), &config);

    let cases = device_cases();
    // Year inference and the TimeGenerated window need dates relative to now.
    let now = Timestamp::now();
    let soon = now + (10 * 24).hours();
    let far = now + (40 * 24).hours();
    let timed = [
        // 10 days ahead: this year's date (but more than a day ahead of receipt).
        ("zq-y1", format!("<13>{} edge-5 app: zq-y1", bsd(soon))),
        // 40 days ahead: last year's.
        ("zq-y2", format!("<13>{} edge-5 app: zq-y2", bsd(far))),
        // An hour ago: inside the window.
        (
            "zq-w1",
            format!("<13>1 {} edge-6 app - - - zq-w1", rfc3339(now - 1.hour())),
        ),
        // Three days ago and two days ahead: outside.
        (
            "zq-w2",
            format!("<13>1 {} edge-6 app - - - zq-w2", rfc3339(now - 72.hours())),
        ),
        (
            "zq-w3",
            format!("<13>1 {} edge-6 app - - - zq-w3", rfc3339(now + 48.hours())),
        ),
    ];
    // Half of the device cases over UDP, the rest over TCP.
    let (udp, tcp): (Vec<_>, Vec<_>) = cases.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    send_udp(port, udp.iter().map(|(_, c)| c.raw.clone()), 1);
    send_tcp_lf(
        port,
        tcp.iter()
            .map(|(_, c)| c.raw.clone())
            .chain(timed.iter().map(|(_, m)| m.clone())),
    );
    let total = cases.len() + timed.len();
    assert!(
        wait_until(Duration::from_secs(20), || count_lines(&out) >= total),
        "records: {:?}",
        read_records(&out)
    );
    let records = read_records(&out);
    let find = |marker: &str| -> &Value {
        records
            .iter()
            .find(|r| {
                let text = r.to_string();
                text.contains(marker)
            })
            .unwrap_or_else(|| panic!("no record for {marker}: {records:?}"))
    };

    for c in &cases {
        let r = find(c.marker);
        for (column, want) in c.want.as_object().unwrap() {
            // No hostname in the message from a local sender: this host's name.
            let want = match (column.as_str(), want) {
                ("HostName", Value::Null) => r["CollectorHostName"].clone(),
                _ => want.clone(),
            };
            let got = r.get(column).cloned().unwrap_or(Value::Null);
            assert_eq!(got, want, "{} {column}: {}\n{r}", c.marker, c.raw);
        }
    }

    let time =
        |r: &Value, column: &str| -> Timestamp { r[column].as_str().unwrap().parse().unwrap() };
    let year = |t: Timestamp| TimeZone::UTC.to_datetime(t).year();
    let received = |r: &Value| {
        let t = time(r, "TimeGenerated");
        assert!(
            t.duration_since(now).as_secs().abs() < 120,
            "TimeGenerated is the receive time: {r}"
        );
    };
    // Year inference: 10 days ahead is this year's date, 40 days ahead last year's.
    let y1 = find("zq-y1");
    assert_eq!(year(time(y1, "EventTime")), year(soon), "{y1}");
    let y2 = find("zq-y2");
    assert_eq!(year(time(y2, "EventTime")), year(far) - 1, "{y2}");
    // Both are outside the window (10 days ahead, ~325 days back): receive time.
    received(y1);
    received(y2);
    // Inside the window: TimeGenerated is the message's time.
    let w1 = find("zq-w1");
    assert_eq!(w1["TimeGenerated"], w1["EventTime"], "{w1}");
    assert_eq!(time(w1, "EventTime"), now - 1.hour());
    // Outside: the receive time, with EventTime keeping the message's.
    for (marker, event) in [("zq-w2", now - 72.hours()), ("zq-w3", now + 48.hours())] {
        let r = find(marker);
        received(r);
        assert_eq!(time(r, "EventTime"), event, "{r}");
    }
    // Device cases from March 2026 and October 2026 are all out of the window too.
    let out_of_range = records
        .iter()
        .filter(|r| r["EventTime"].is_string() && r["TimeGenerated"] != r["EventTime"])
        .count() as u64;
    assert!(out_of_range >= 4, "{records:?}");

    let stats = stats_of(dir.path());
    assert!(
        stats.contains("# HELP syslane_time_out_of_range_total ")
            && stats.contains("# TYPE syslane_time_out_of_range_total counter"),
        "{stats}"
    );
    assert_eq!(
        counter(&stats, "syslane_time_out_of_range_total"),
        out_of_range,
        "{stats}"
    );
    let mut http = std::net::TcpStream::connect(("127.0.0.1", metrics_port)).unwrap();
    http.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    http.read_to_string(&mut body).unwrap();
    assert_eq!(
        counter(
            body.split_once("\r\n\r\n").map_or("", |(_, b)| b),
            "syslane_time_out_of_range_total"
        ),
        out_of_range,
        "{body}"
    );
    let (status, _) = agent.stop();
    assert!(status.success());
}
