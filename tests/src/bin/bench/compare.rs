//! The parser against `syslog_loose` (the crate the design first named): fields that
//! agree with what other implementations' test suites assert (the shared corpus's
//! valid cases) and with the device-header categories (`syslane_tests::device_cases`),
//! and messages per second on the benchmark's mix.

use base64::Engine as _;
use serde_json::Value;
use std::hint::black_box;
use syslane_syslog::Timestamp as WireTime;
use syslane_tests::corpus_dir;
use syslane_tests::device_cases::device_cases;
use syslog_loose::{ProcId, Variant};

/// The fields both parsers give, as text (timestamps as UTC `MM-DDThh:mm:ss` plus the
/// year when the message had one).
#[derive(Default, Debug)]
struct Fields {
    facility: Option<u8>,
    severity: Option<u8>,
    hostname: Option<String>,
    appname: Option<String>,
    procid: Option<String>,
    msgid: Option<String>,
    message: String,
    /// (year or None, "MM-DDThh:mm:ss.fff" in UTC when zoned, as written otherwise)
    time: Option<(Option<i32>, String)>,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn strip_bom(s: &str) -> String {
    s.strip_prefix('\u{feff}').unwrap_or(s).to_string()
}

fn syslane(raw: &[u8]) -> Fields {
    let m = syslane_syslog::parse(raw);
    Fields {
        facility: m.facility,
        severity: m.severity,
        hostname: m.hostname.map(text),
        appname: m.appname.map(text),
        procid: m.procid.map(text),
        msgid: m.msgid.map(text),
        message: strip_bom(&text(m.message)),
        time: m.timestamp.map(wire_time),
    }
}

fn wire_time(t: WireTime) -> (Option<i32>, String) {
    let base = jiff::civil::DateTime::new(
        t.year.unwrap_or(2020),
        t.month as i8,
        t.day as i8,
        t.hour as i8,
        t.minute as i8,
        t.second.min(59) as i8,
        0,
    );
    let Ok(base) = base else {
        return (None, String::new());
    };
    let utc = match t.offset_secs {
        Some(secs) => base
            .checked_sub(jiff::SignedDuration::from_secs(i64::from(secs)))
            .unwrap_or(base),
        None => base,
    };
    (
        t.year.map(|_| i32::from(utc.year())),
        utc.strftime("%m-%dT%H:%M:%S").to_string(),
    )
}

fn loose(raw: &[u8]) -> Fields {
    let Ok(s) = std::str::from_utf8(raw) else {
        return Fields {
            message: text(raw),
            ..Fields::default()
        };
    };
    let m = syslog_loose::parse_message_with_year(s, |_| 2020, Variant::Either);
    Fields {
        facility: m.facility.map(|f| f as u8),
        severity: m.severity.map(|s| s as u8),
        hostname: m.hostname.map(str::to_string),
        appname: m.appname.map(str::to_string),
        procid: m.procid.map(|p| match p {
            ProcId::PID(n) => n.to_string(),
            ProcId::Name(n) => n.to_string(),
        }),
        msgid: m.msgid.map(str::to_string),
        message: strip_bom(m.msg),
        time: m.timestamp.map(|t| {
            let utc = t.naive_utc();
            (
                Some(chrono::Datelike::year(&utc)),
                utc.format("%m-%dT%H:%M:%S").to_string(),
            )
        }),
    }
}

/// Agreement of one parser: fields that agree, fields compared, messages fully agreeing.
#[derive(Default, Clone, Copy)]
struct Score {
    fields: usize,
    of: usize,
    whole: usize,
    messages: usize,
}

impl Score {
    fn add(&mut self, results: &[bool]) {
        self.fields += results.iter().filter(|r| **r).count();
        self.of += results.len();
        self.whole += usize::from(results.iter().all(|r| *r));
        self.messages += 1;
    }

    fn show(&self) -> String {
        format!(
            "{}/{} fields ({:.1}%), {}/{} messages whole",
            self.fields,
            self.of,
            100.0 * self.fields as f64 / self.of.max(1) as f64,
            self.whole,
            self.messages
        )
    }
}

fn opt_str(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The corpus's valid cases: each field the source asserts.
fn corpus_score(parse: fn(&[u8]) -> Fields) -> Score {
    let text = std::fs::read_to_string(corpus_dir().join("parse-cases.jsonl"))
        .expect("the shared corpus beside the project (../shared/corpus)");
    let mut score = Score::default();
    for line in text.lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        if row["valid"] != true {
            continue;
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(row["raw_b64"].as_str().unwrap())
            .unwrap();
        let got = parse(&raw);
        let e = &row["expect"];
        let mut results = Vec::new();
        if let Some(f) = e.get("facility") {
            results.push(f.as_u64() == got.facility.map(u64::from));
        }
        if let Some(s) = e.get("severity") {
            results.push(s.as_u64() == got.severity.map(u64::from));
        }
        for (key, field) in [
            ("hostname", &got.hostname),
            ("appname", &got.appname),
            ("procid", &got.procid),
            ("msgid", &got.msgid),
        ] {
            if let Some(want) = e.get(key) {
                results.push(opt_str(want) == *field);
            }
        }
        if let Some(b64) = row["expect_extra"]["message_b64"].as_str() {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap();
            results.push(strip_bom(&String::from_utf8_lossy(&bytes)) == got.message);
        } else if let Some(m) = e.get("message") {
            let want = m.as_str().map_or(String::new(), strip_bom);
            results.push(want == got.message);
        }
        if let Some(t) = e.get("timestamp") {
            let ok = match (t.as_str(), &got.time) {
                (None, None) => true,
                (Some(want), Some((_, md))) if row["timestamp_yearless"] == true => {
                    want.get(2..16) == md.get(..14)
                }
                (Some(want), Some((year, md))) => {
                    let want: jiff::Timestamp = want.parse().unwrap();
                    let utc = jiff::tz::TimeZone::UTC.to_datetime(want);
                    *year == Some(i32::from(utc.year()))
                        && utc.strftime("%m-%dT%H:%M:%S").to_string() == *md
                }
                _ => false,
            };
            results.push(ok);
        }
        score.add(&results);
    }
    score
}

/// The device-header categories: hostname, program, pid, message id and text.
fn device_score(parse: fn(&[u8]) -> Fields) -> Score {
    let mut score = Score::default();
    for case in device_cases() {
        let got = parse(case.raw.as_bytes());
        let mut results = Vec::new();
        for (column, want) in case.want.as_object().unwrap() {
            let field = match column.as_str() {
                "HostName" => &got.hostname,
                "ProcessName" => &got.appname,
                "ProcessID" | "ProcId" => &got.procid,
                "MsgId" => &got.msgid,
                "SyslogMessage" => {
                    results.push(want.as_str() == Some(got.message.as_str()));
                    continue;
                }
                _ => continue,
            };
            results.push(opt_str(want) == *field);
        }
        score.add(&results);
    }
    score
}

/// Prints the comparison table (fields agreeing, then speed on `mix`).
pub fn run(mix: &[(Vec<u8>, bool)]) {
    println!("parser comparison: syslane-syslog vs syslog_loose 0.23");
    for (name, parse) in [
        ("syslane-syslog", syslane as fn(&[u8]) -> Fields),
        ("syslog_loose", loose as fn(&[u8]) -> Fields),
    ] {
        println!(
            "parser={name} corpus: {} | device categories: {}",
            corpus_score(parse).show(),
            device_score(parse).show()
        );
    }
    let syslog_only: Vec<&[u8]> = mix.iter().map(|(m, _)| m.as_slice()).collect();
    let rate = |f: &dyn Fn(&[u8])| {
        let start = std::time::Instant::now();
        let mut done = 0usize;
        loop {
            for m in &syslog_only {
                f(m);
            }
            done += syslog_only.len();
            let elapsed = start.elapsed().as_secs_f64();
            if elapsed >= 2.0 {
                return done as f64 / elapsed;
            }
        }
    };
    let ours = rate(&|m| {
        black_box(syslane_syslog::parse(m).message);
    });
    let theirs = rate(&|m| {
        if let Ok(s) = std::str::from_utf8(m) {
            black_box(syslog_loose::parse_message_with_year(s, |_| 2020, Variant::Either).msg);
        }
    });
    println!(
        "speed on the mix (syslog parse of every message, one core): syslane-syslog={ours:.0} msgs/s syslog_loose={theirs:.0} msgs/s"
    );
}
