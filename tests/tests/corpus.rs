//! The shared parsing corpus through the real `syslog` plugin: loaded by the plugin
//! host from the build directory, fed every case as one batch of frames, and each
//! record serialized exactly as the output receives it.

use base64::Engine as _;
use serde_json::Value;
use std::net::IpAddr;
use syslane_tests::{corpus_dir, syslog_records, FACILITIES, SEVERITIES};

const SENDER: &str = "192.0.2.1";

/// Valid cases where syslane deliberately differs from the source, with the reason:
/// a BSD text keeps its leading spaces beyond the one separator (indented lines
/// stay indented), where the source strips them all. c0341's colon-less tag (`außerplanmäßig`) is read as rsyslog and
/// syslog-ng read it, and c0192/c0194 (`Some message here`, `Use the BFG!`) stay text
/// because a bare word capitalised like a sentence's first word is not a tag.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "c0339",
        "`rsyslogd:  [software=...] start`: the bracket is not structured data (no SD-ID), so it is text; of the two spaces before it one is the separator and one is kept (text keeps its leading spaces beyond one separator), where the source strips both",
    ),
    (
        "c0340",
        "`host  [software=...] start`: as c0339, the text keeps the second of two spaces",
    ),
];

struct Case {
    id: String,
    raw: Vec<u8>,
    row: Value,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(corpus_dir().join("parse-cases.jsonl"))
        .expect("shared corpus beside the project");
    text.lines()
        .map(|l| {
            let row: Value = serde_json::from_str(l).unwrap();
            let raw = base64::engine::general_purpose::STANDARD
                .decode(row["raw_b64"].as_str().unwrap())
                .unwrap();
            Case {
                id: row["id"].as_str().unwrap().to_string(),
                raw,
                row,
            }
        })
        .collect()
}

/// Decodes every case in one batch through the plugin; one JSON record per case.
fn decode_all(cases: &[Case]) -> Vec<Value> {
    let peer: IpAddr = SENDER.parse().unwrap();
    let received = "2020-06-01T00:00:00Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_nanosecond() as i64;
    let records = syslog_records(
        cases.iter().map(|c| &c.raw[..]),
        peer,
        received,
        "collector",
    );
    assert_eq!(
        records.len(),
        cases.len(),
        "one record per case: none dropped, none invented"
    );
    records
        .iter()
        .map(|r| serde_json::from_slice(r).unwrap())
        .collect()
}

fn expected_message(row: &Value) -> Option<String> {
    if let Some(b64) = row["expect_extra"]["message_b64"].as_str() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        return Some(String::from_utf8_lossy(&bytes).into_owned());
    }
    match &row["expect"]["message"] {
        // DESIGN section 4: SyslogMessage has the RFC 5424 BOM removed.
        Value::String(s) => Some(s.strip_prefix('\u{feff}').unwrap_or(s).to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// Mismatches of one valid case, as text.
fn compare(c: &Case, rec: &Value) -> Vec<String> {
    let e = &c.row["expect"];
    let mut bad = Vec::new();
    let mut check = |field: &str, got: &Value, want: Value| {
        if *got != want {
            bad.push(format!("{field}: got {got}, want {want}"));
        }
    };
    if let Some(f) = e.get("facility") {
        let want = f
            .as_u64()
            .map_or(Value::from("user"), |f| Value::from(FACILITIES[f as usize]));
        check("Facility", &rec["Facility"], want);
    }
    if let Some(s) = e.get("severity") {
        let want = s.as_u64().map_or(Value::from("notice"), |s| {
            Value::from(SEVERITIES[s as usize])
        });
        check("SeverityLevel", &rec["SeverityLevel"], want);
    }
    if let Some(h) = e.get("hostname") {
        // With no hostname in the message, HostName is the sender's address.
        check(
            "HostName",
            &rec["HostName"],
            if h.is_null() {
                Value::from(SENDER)
            } else {
                h.clone()
            },
        );
    }
    if let Some(a) = e.get("appname") {
        check("ProcessName", &rec["ProcessName"], a.clone());
    }
    if let Some(p) = e.get("procid") {
        let got = match (&rec["ProcessID"], &rec["ProcId"]) {
            (Value::Number(n), _) => Value::from(n.to_string()),
            (_, text) => text.clone(),
        };
        check("ProcessID/ProcId", &got, p.clone());
    }
    if let Some(m) = e.get("msgid") {
        check("MsgId", &rec["MsgId"], m.clone());
    }
    if e.get("message").is_some() || c.row["expect_extra"].get("message_b64").is_some() {
        if let Some(want) = expected_message(&c.row) {
            check("SyslogMessage", &rec["SyslogMessage"], Value::from(want));
        }
    }
    if let Some(t) = e.get("timestamp") {
        match t.as_str() {
            None => check("EventTime", &rec["EventTime"], Value::Null),
            Some(want) if c.row["timestamp_yearless"].as_bool() == Some(true) => {
                // `--MM-DDThh:mm:ss`: month, day and time only (the decoder reads zone-less stamps as UTC here).
                let got = rec["EventTime"].as_str().unwrap_or("");
                if got.get(5..19) != want.get(2..16) {
                    bad.push(format!("EventTime: got {got}, want {want} (year-less)"));
                }
            }
            Some(want) => {
                let want: jiff::Timestamp = want.parse().unwrap();
                let got: Option<jiff::Timestamp> =
                    rec["EventTime"].as_str().and_then(|s| s.parse().ok());
                if got != Some(want) {
                    bad.push(format!(
                        "EventTime: got {:?}, want {want}",
                        rec["EventTime"]
                    ));
                }
            }
        }
    }
    bad
}

#[test]
fn valid_cases_match_what_their_source_asserts() {
    let cases = cases();
    let records = decode_all(&cases);
    let valid: Vec<_> = cases
        .iter()
        .zip(&records)
        .filter(|(c, _)| c.row["valid"] == true)
        .collect();
    assert_eq!(valid.len(), 107);
    assert!(KNOWN_DIFFERENCES.len() <= 10);
    let mut failures = Vec::new();
    for (c, rec) in &valid {
        let bad = compare(c, rec);
        let excused = KNOWN_DIFFERENCES.iter().any(|(id, _)| *id == c.id);
        match (bad.is_empty(), excused) {
            (false, false) => failures.push(format!(
                "{} {:?}\n    {}",
                c.id,
                String::from_utf8_lossy(&c.raw),
                bad.join("\n    ")
            )),
            (true, true) => failures.push(format!(
                "{}: listed as a known difference but now matches; remove it",
                c.id
            )),
            _ => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} valid cases differ:\n{}",
        failures.len(),
        valid.len(),
        failures.join("\n")
    );
}

/// Invalid cases: a collector keeps them. Each still yields a record (checked in
/// `decode_all`); one the parser could not fully read carries the input whole (as
/// SyslogMessage with ParseFailed, or as RawMessage); one it read leniently has every
/// word of the input in its fields.
#[test]
fn invalid_cases_are_kept_not_dropped() {
    let cases = cases();
    let records = decode_all(&cases);
    let mut lost = Vec::new();
    for (c, rec) in cases
        .iter()
        .zip(&records)
        .filter(|(c, _)| c.row["valid"] == false)
    {
        let raw = String::from_utf8_lossy(&c.raw).into_owned();
        if rec["ParseFailed"] == true {
            if rec["SyslogMessage"] != raw.strip_prefix('\u{feff}').unwrap_or(&raw) {
                lost.push(format!("{}: parse failure not kept whole: {rec}", c.id));
            }
            continue;
        }
        if let Some(kept) = rec["RawMessage"].as_str() {
            if kept != raw {
                lost.push(format!(
                    "{}: RawMessage differs from the input: {rec}",
                    c.id
                ));
            }
            continue;
        }
        let text: String = rec
            .as_object()
            .unwrap()
            .values()
            .filter_map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let after_pri = raw.split_once('>').map_or(raw.as_str(), |(_, r)| r);
        for word in after_pri.split_whitespace().skip(2) {
            let word = word.strip_prefix('\u{feff}').unwrap_or(word);
            if word != "-" && !text.contains(word) {
                lost.push(format!("{}: {word:?} not found in {rec}", c.id));
            }
        }
    }
    assert!(
        lost.is_empty(),
        "text lost from invalid cases:\n{}",
        lost.join("\n")
    );
}
