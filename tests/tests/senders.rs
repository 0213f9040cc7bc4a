//! Senders nobody here wrote, driven the way their users configure them, into a
//! real agent writing with the file output: rsyslog with its built-in forwarding
//! templates over UDP, TCP (LF and octet-counted) and RELP; syslog-ng `network()`
//! and `syslog()`; Python's `logging.handlers.SysLogHandler` over UDP, TCP and unix
//! sockets; util-linux `logger` in its formats; Fluent Bit's `syslog` output.
//!
//! Each sends the same kinds of message: a bracketed prefix after the tag, a
//! kernel uptime stamp, leading spaces (indentation), `CEF:` in plain text, UTF-8,
//! a long line, and a traceback with line feeds where the transport can carry
//! them; every column of every record is compared with what was sent.

use serde_json::Value;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use syslane_tests::*;

/// The long line's filler, under rsyslog's and syslog-ng's raised limits and
/// syslane's 64 KiB, over rsyslog's 8 KiB default.
const LONG: usize = 12_000;

/// The host name the relayed messages carry.
const HOST: &str = "web01";

/// The pid the relayed messages carry for `webapp`.
const PID: u64 = 99;

/// One message as sent.
struct Sent {
    /// Unique in the test: finds the message's record.
    id: String,
    facility: &'static str,
    severity: &'static str,
    app: &'static str,
    /// The text sent.
    text: String,
    /// The text the record must carry: what was sent, unless a path changes it.
    want: String,
}

impl Sent {
    fn pri(&self) -> usize {
        let f = FACILITIES.iter().position(|f| *f == self.facility).unwrap();
        let s = SEVERITIES.iter().position(|s| *s == self.severity).unwrap();
        f * 8 + s
    }

    /// `webapp[99]` or `kernel` (the kernel has no pid).
    fn tag(&self) -> String {
        if self.app == "kernel" {
            self.app.to_string()
        } else {
            format!("{}[{PID}]", self.app)
        }
    }
}

/// The messages of one route (a sender and a transport); `newlines` adds a
/// traceback, for transports that carry line feeds inside a message.
fn messages(route: &str, newlines: bool) -> Vec<Sent> {
    let id = |n: usize| format!("~{route}-{n}~");
    let mut table = vec![
        (
            "user",
            "info",
            "webapp",
            format!("[INFO] {} started", id(0)),
        ),
        (
            "user",
            "warning",
            "kernel",
            format!("[12345.678901] eth0: link up {}", id(1)),
        ),
        (
            "daemon",
            "warning",
            "webapp",
            format!("   indented continuation {}", id(2)),
        ),
        (
            "local4",
            "err",
            "webapp",
            format!("text with CEF: in it {}", id(3)),
        ),
        (
            "auth",
            "crit",
            "webapp",
            format!("grüße, 日本語 ✓ {}", id(4)),
        ),
        (
            "local7",
            "debug",
            "webapp",
            format!("long {} {}", id(5), "x".repeat(LONG)),
        ),
    ];
    if newlines {
        table.push((
            "local3",
            "err",
            "webapp",
            format!(
                "Traceback (most recent call last):\n  File \"app.py\", line 7, in <module>\n    main()\nValueError: {}",
                id(6)
            ),
        ));
    }
    table
        .into_iter()
        .enumerate()
        .map(|(n, (facility, severity, app, text))| Sent {
            id: id(n),
            facility,
            severity,
            app,
            want: text.clone(),
            text,
        })
        .collect()
}

/// What every record of a sender must also show.
struct Expect {
    host: String,
    /// ProcessID of a message.
    pid: Box<dyn Fn(&Sent) -> Value>,
    /// EventTime between these (Unix seconds), or null when `None`.
    time: Option<(i64, i64)>,
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn hostname() -> String {
    let out = Command::new(tool("hostname")).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Listeners of every kind on loopback and a file output.
struct Target {
    agent: Agent,
    out: PathBuf,
    /// UDP and TCP.
    net: u16,
    relp: u16,
    dgram: PathBuf,
    stream: PathBuf,
}

fn start_agent(dir: &Path, timezone: &str) -> Target {
    let plugins = plugin_dir_with_builtins(dir);
    let (net, relp) = (free_port(), free_port());
    let (dgram, stream) = (dir.join("dgram.sock"), dir.join("stream.sock"));
    let mut tables = String::new();
    for address in [
        format!("udp://127.0.0.1:{net}"),
        format!("tcp://127.0.0.1:{net}"),
        format!("relp://127.0.0.1:{relp}"),
        format!("unix://{}", dgram.display()),
        format!("unixstream://{}", stream.display()),
    ] {
        tables.push_str(&format!(
            "[[listen]]\naddress = \"{address}\"\ninput = \"syslog\"\ntimezone = \"{timezone}\"\n"
        ));
    }
    let out = dir.join("out.jsonl");
    let agent = Agent::start(dir, &config_with(&plugins, &tables, &out));
    Target {
        agent,
        out,
        net,
        relp,
        dgram,
        stream,
    }
}

/// A short view of a text for failure messages.
fn short(text: &str) -> String {
    let t: String = text.chars().take(120).collect();
    format!("{t:?}{}", if text.len() > 120 { "…" } else { "" })
}

/// Waits for a record of every message, then compares each record's columns with
/// the message; nothing else may arrive (no line split off, no duplicate).
fn check(out: &Path, sent: &[Sent], expect: &Expect, logs: impl Fn() -> String) {
    let arrived = wait_until(Duration::from_secs(20), || count_lines(out) >= sent.len());
    // Anything split off or duplicated would arrive now.
    std::thread::sleep(Duration::from_millis(700));
    let records = read_records(out);
    let texts: Vec<String> = records
        .iter()
        .map(|r| short(r["SyslogMessage"].as_str().unwrap_or("")))
        .collect();
    assert!(
        arrived && records.len() == sent.len(),
        "{} records for {} messages:\n{}\n{}",
        records.len(),
        sent.len(),
        texts.join("\n"),
        logs()
    );
    for s in sent {
        let found: Vec<&Value> = records
            .iter()
            .filter(|r| {
                r["SyslogMessage"]
                    .as_str()
                    .is_some_and(|m| m.contains(&s.id))
            })
            .collect();
        assert_eq!(found.len(), 1, "{}: {}", s.id, texts.join("\n"));
        let r = found[0];
        let got = r["SyslogMessage"].as_str().unwrap_or("");
        assert!(
            got == s.want,
            "{}: SyslogMessage\n got    {}\n wanted {}",
            s.id,
            short(got),
            short(&s.want)
        );
        for (column, value) in [
            ("Facility", Value::from(s.facility)),
            ("SeverityLevel", Value::from(s.severity)),
            ("HostName", Value::from(expect.host.as_str())),
            ("Computer", Value::from(expect.host.as_str())),
            ("ProcessName", Value::from(s.app)),
            ("ProcessID", (expect.pid)(s)),
        ] {
            assert_eq!(
                r[column],
                value,
                "{}: {column} in {}",
                s.id,
                short(&r.to_string())
            );
        }
        for flag in ["ParseFailed", "Truncated", "StructuredData"] {
            if flag == "StructuredData"
                && r[flag]
                    .as_str()
                    .is_some_and(|sd| sd.contains("timeQuality"))
            {
                // logger's own RFC 5424 element.
                continue;
            }
            assert!(
                r.get(flag).is_none(),
                "{}: {flag} in {}",
                s.id,
                short(&r.to_string())
            );
        }
        match expect.time {
            None => assert!(r["EventTime"].is_null(), "{}: EventTime in {r}", s.id),
            Some((from, to)) => {
                let t: jiff::Timestamp = r["EventTime"]
                    .as_str()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or_else(|| panic!("{}: no EventTime in {r}", s.id));
                assert!(
                    (from..=to).contains(&t.as_second()),
                    "{}: EventTime {t} is not between {from} and {to} (Unix seconds)",
                    s.id
                );
            }
        }
    }
}

/// `<PRI>Mmm dd hh:mm:ss web01 tag: text`, dated now in the host's zone, as a
/// local program's syslog() call reaches the daemon.
fn bsd_line(s: &Sent) -> String {
    let stamp = jiff::tz::TimeZone::system()
        .to_datetime(jiff::Timestamp::now())
        .strftime("%b %e %H:%M:%S")
        .to_string();
    format!("<{}>{stamp} {HOST} {}: {}", s.pri(), s.tag(), s.text)
}

/// Sends each route's messages as BSD datagrams to its input port.
fn feed_udp(routes: &[(u16, Vec<Sent>)]) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for (port, sent) in routes {
        for s in sent {
            socket
                .send_to(bsd_line(s).as_bytes(), ("127.0.0.1", *port))
                .unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// What relayed messages carry: web01, pid 99 (none for the kernel), a time.
fn relayed(from: i64) -> Expect {
    Expect {
        host: HOST.to_string(),
        pid: Box::new(|s: &Sent| {
            if s.app == "kernel" {
                Value::Null
            } else {
                Value::from(PID)
            }
        }),
        time: Some((from - 2, now() + 2)),
    }
}

#[path = "senders/programs.rs"]
mod programs;

/// rsyslog relaying with each built-in forwarding template, over UDP, TCP with
/// LF framing and with octet counting, and RELP. Its limit is raised and its
/// escaping of control characters turned off, as docs/src/syslog-daemons.md says.
#[test]
fn rsyslog_forwarding_templates() {
    let dir = tempfile::tempdir().unwrap();
    let target = start_agent(dir.path(), "local");
    // (route, template, transport, carries line feeds)
    let routes = [
        ("trad-udp", "RSYSLOG_TraditionalForwardFormat", "udp", true),
        ("trad-tcp", "RSYSLOG_TraditionalForwardFormat", "tcp", false),
        ("fwd-udp", "RSYSLOG_ForwardFormat", "udp", true),
        ("fwd-tcp", "RSYSLOG_ForwardFormat", "tcp", false),
        ("fwd-octet", "RSYSLOG_ForwardFormat", "octet", true),
        ("p23-udp", "RSYSLOG_SyslogProtocol23Format", "udp", true),
        ("p23-tcp", "RSYSLOG_SyslogProtocol23Format", "tcp", false),
        ("p23-octet", "RSYSLOG_SyslogProtocol23Format", "octet", true),
        ("p23-relp", "RSYSLOG_SyslogProtocol23Format", "relp", true),
    ];
    let mut config = String::from(
        "global(maxMessageSize=\"64k\" parser.escapeControlCharactersOnReceive=\"off\")\n\
         module(load=\"imudp\")\nmodule(load=\"omrelp\")\n",
    );
    let mut feeds = Vec::new();
    for (name, template, transport, newlines) in routes {
        let port = free_port();
        let action = match transport {
            "relp" => format!(
                "action(type=\"omrelp\" target=\"127.0.0.1\" port=\"{}\" template=\"{template}\")",
                target.relp
            ),
            _ => format!(
                "action(type=\"omfwd\" target=\"127.0.0.1\" port=\"{}\" protocol=\"{}\" {}template=\"{template}\")",
                target.net,
                if transport == "udp" { "udp" } else { "tcp" },
                if transport == "octet" {
                    "TCP_Framing=\"octet-counted\" "
                } else {
                    ""
                }
            ),
        };
        config.push_str(&format!(
            "input(type=\"imudp\" address=\"127.0.0.1\" port=\"{port}\" ruleset=\"{name}\")\n\
             ruleset(name=\"{name}\") {{\n    {action}\n}}\n"
        ));
        feeds.push((port, messages(name, newlines)));
    }
    let rsyslog = Rsyslog::start(dir.path(), &config);
    std::thread::sleep(Duration::from_millis(500));
    let from = now();
    feed_udp(&feeds);
    let sent: Vec<Sent> = feeds.into_iter().flat_map(|(_, s)| s).collect();
    check(&target.out, &sent, &relayed(from), || {
        format!(
            "rsyslog:\n{}\nsyslane:\n{}",
            rsyslog.logs(),
            target.agent.logs()
        )
    });
    drop(rsyslog);
    target.agent.stop();
}

/// syslog-ng relaying with `network()` (BSD, over TCP and UDP) and `syslog()`
/// (RFC 5424, octet-counted over TCP, and UDP).
#[test]
fn syslog_ng_network_and_syslog_destinations() {
    let dir = tempfile::tempdir().unwrap();
    let target = start_agent(dir.path(), "local");
    // (route, driver, transport, carries line feeds)
    let routes = [
        ("ng-network-tcp", "network", "tcp", false),
        ("ng-network-udp", "network", "udp", true),
        ("ng-syslog-tcp", "syslog", "tcp", true),
        ("ng-syslog-udp", "syslog", "udp", true),
    ];
    let mut config = format!(
        "@version: {}\n\
         options {{ chain_hostnames(off); flush_lines(0); use_dns(no); use_fqdn(no); dns_cache(no); stats_freq(0); keep_hostname(yes); }};\n",
        SyslogNg::version()
    );
    let mut feeds = Vec::new();
    for (i, (name, driver, transport, newlines)) in routes.into_iter().enumerate() {
        let port = free_port();
        config.push_str(&format!(
            "source s{i} {{ network(ip(\"127.0.0.1\") port({port}) transport(\"udp\")); }};\n\
             destination d{i} {{ {driver}(\"127.0.0.1\" port({}) transport(\"{transport}\") persist-name(\"d{i}\")); }};\n\
             log {{ source(s{i}); destination(d{i}); }};\n",
            target.net
        ));
        let mut sent = messages(name, newlines);
        if driver == "syslog" {
            // syslog() writes RFC 5424 with nil structured data and the text after
            // exactly one space; the decoder drops one more space there, the
            // separator rsyslog's RFC 5424 template keeps (docs/src/records.md, How
            // headers are read), so indented text loses one space on this path.
            for s in &mut sent {
                if s.want.starts_with(' ') {
                    s.want.remove(0);
                }
            }
        }
        feeds.push((port, sent));
    }
    let sng = SyslogNg::start(dir.path(), &config);
    std::thread::sleep(Duration::from_millis(700));
    let from = now();
    feed_udp(&feeds);
    let sent: Vec<Sent> = feeds.into_iter().flat_map(|(_, s)| s).collect();
    check(&target.out, &sent, &relayed(from), || {
        format!(
            "syslog-ng:\n{}\nsyslane:\n{}",
            sng.logs(),
            target.agent.logs()
        )
    });
    drop(sng);
    target.agent.stop();
}
