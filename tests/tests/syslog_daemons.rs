//! The shipped drop-ins in real daemons: rsyslogd and syslog-ng, each started in
//! the foreground with its own configuration that includes the shipped file (ports
//! and spool directory rewritten to the test's), fed by util-linux `logger` and by
//! raw CEF lines, forwarding to a real syslane whose file output is checked record
//! by record. Also `syslane syslog-config`: every file it writes for a table of
//! selections passes the daemons' own checkers, and --install / --remove /
//! omsagent detection work on a directory.

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use syslane_tests::*;

struct Ports {
    daemon_in: u16,
    syslog: u16,
    cef: u16,
}

/// syslane with a syslog listener and a CEF listener, writing to `out.jsonl`. The
/// syslog listener keeps RawMessage on every record, so a record shows which port
/// it came in on.
fn start_agent(dir: &Path) -> (Agent, Ports) {
    let plugins = plugin_dir_with_builtins(dir);
    let ports = Ports {
        daemon_in: free_port(),
        syslog: free_port(),
        cef: free_port(),
    };
    let listen = format!(
        "[[listen]]\naddress = \"tcp://127.0.0.1:{}\"\ninput = \"syslog\"\ntimezone = \"UTC\"\nkeep_raw = true\n\
         [[listen]]\naddress = \"tcp://127.0.0.1:{}\"\ninput = \"cef\"\ntimezone = \"UTC\"\n",
        ports.syslog, ports.cef
    );
    let config = config_with(&plugins, &listen, &dir.join("out.jsonl"));
    (Agent::start(dir, &config), ports)
}

fn hostname() -> String {
    let out = Command::new(tool("hostname")).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// (facility, severity, forwarded by the shipped `*.info` selection)
const CASES: &[(&str, &str, bool)] = &[
    ("auth", "info", true),
    ("authpriv", "notice", true),
    ("daemon", "warning", true),
    ("ftp", "err", true), // logger turns kern into user: a process cannot log as the kernel
    ("mail", "crit", true),
    ("cron", "alert", true),
    ("user", "emerg", true),
    ("local0", "info", true),
    ("local4", "notice", true),
    ("local7", "err", true),
    ("syslog", "debug", false),
    ("local3", "debug", false),
];

/// Sends every case through `logger` over TCP to the daemon, tagged and numbered.
fn feed_with_logger(port: u16, rounds: usize) {
    for round in 0..rounds {
        for (i, (facility, severity, _)) in CASES.iter().enumerate() {
            let status = Command::new(tool("logger"))
                .args([
                    "-T",
                    "-n",
                    "127.0.0.1",
                    "-P",
                    &port.to_string(),
                    "--rfc3164",
                ])
                .args(["-p", &format!("{facility}.{severity}")])
                .args(["-t", "probe-app", "--id=4242"])
                .arg(format!("case {i} round {round} {facility}.{severity}"))
                .status()
                .unwrap();
            assert!(status.success(), "logger for {facility}.{severity}");
        }
    }
}

/// Waits for the forwarded cases and checks each record's columns; the cases the
/// selection leaves out must not arrive.
fn check_cases(out: &Path, rounds: usize, logs: impl Fn() -> String) {
    let wanted = CASES.iter().filter(|c| c.2).count() * rounds;
    let arrived = wait_until(Duration::from_secs(30), || {
        read_records(out)
            .iter()
            .filter(|r| {
                r["SyslogMessage"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("case "))
            })
            .count()
            >= wanted
    });
    assert!(
        arrived,
        "{} records of {wanted}\n{}",
        count_lines(out),
        logs()
    );
    // Anything still in flight would arrive now.
    std::thread::sleep(Duration::from_millis(700));
    let host = hostname();
    let records: Vec<Value> = read_records(out)
        .into_iter()
        .filter(|r| {
            r["SyslogMessage"]
                .as_str()
                .is_some_and(|m| m.starts_with("case "))
        })
        .collect();
    assert_eq!(records.len(), wanted, "no duplicates, nothing unselected");
    for round in 0..rounds {
        for (i, (facility, severity, forwarded)) in CASES.iter().enumerate() {
            let text = format!("case {i} round {round} {facility}.{severity}");
            let found: Vec<&Value> = records
                .iter()
                .filter(|r| r["SyslogMessage"] == text.as_str())
                .collect();
            if !forwarded {
                assert!(found.is_empty(), "{text} is below the selection");
                continue;
            }
            assert_eq!(found.len(), 1, "{text}");
            let r = found[0];
            assert_eq!(r["Facility"], *facility, "{r}");
            assert_eq!(r["SeverityLevel"], *severity, "{r}");
            assert_eq!(r["HostName"], host.as_str(), "{r}");
            assert_eq!(r["ProcessName"], "probe-app", "{r}");
            assert_eq!(r["ProcessID"], 4242, "{r}");
        }
    }
}

/// The CEF case's messages, dated an hour ago in the system's zone (the decoders'
/// default `timezone`), so that their time stays inside the window TimeGenerated
/// accepts; and that time in UTC as TimeGenerated shows it (`THH:MM:SS`).
fn cef_messages() -> &'static ([String; 6], String) {
    static MESSAGES: std::sync::OnceLock<([String; 6], String)> = std::sync::OnceLock::new();
    MESSAGES.get_or_init(|| {
        let at = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 3600).unwrap();
        let stamp = |s: i64| {
            jiff::tz::TimeZone::system()
                .to_datetime(at + jiff::SignedDuration::from_secs(s))
                .strftime("%b %e %H:%M:%S")
                .to_string()
        };
        let good = format!(
            r"<132>{} fw01 CEF:0|Acme|Edge Firewall|2.1|4001|Blocked \| outbound|7|src=10.0.0.5 spt=51515 dst=203.0.113.9 dpt=443 proto=TCP act=block suser=alice msg=Denied by rule \= 5 cs1Label=Rule cs1=egress web in=1200 out=88 custom=x",
            stamp(0)
        );
        let broken = format!("<132>{} fw01 CEF:0|Acme|Edge Firewall", stamp(1));
        let plain = format!("<134>{} fw01 sshd[77]: plain line next to CEF", stamp(2));
        // Mentions CEF: without being CEF: the plain stream.
        let mention = format!("<134>{} fw01 app[50]: text with CEF: in it", stamp(3));
        // Below the `*.info` selection: not forwarded, CEF or not.
        let debug = format!("<135>{} fw01 CEF:0|Acme|Edge Firewall|2.1|4002|debug|1|src=10.0.0.6", stamp(4));
        // Cisco ASA: the security port.
        let asa = format!("<166>{} asa1 %ASA-6-302013: Built outbound TCP connection 1", stamp(5));
        let utc = jiff::tz::TimeZone::UTC
            .to_datetime(at)
            .strftime("T%H:%M:%S")
            .to_string();
        ([good, broken, plain, mention, debug, asa], utc)
    })
}

/// Checks the CommonSecurityLog record of the good CEF message, the Syslog record of the
/// broken one, and that neither reached the plain syslog stream as CEF.
fn check_cef(out: &Path, logs: impl Fn() -> String) {
    assert!(
        wait_until(Duration::from_secs(30), || count_lines(out) >= 5),
        "{}",
        logs()
    );
    std::thread::sleep(Duration::from_millis(500));
    let records = read_records(out);
    let security: Vec<&Value> = records
        .iter()
        .filter(|r| r.get("DeviceVendor").is_some() && r["DeviceVendor"] != "Cisco")
        .collect();
    assert_eq!(security.len(), 1, "{records:?}");
    let r = security[0];
    for (column, value) in [
        ("Computer", "fw01"),
        ("DeviceVendor", "Acme"),
        ("DeviceProduct", "Edge Firewall"),
        ("DeviceVersion", "2.1"),
        ("DeviceEventClassID", "4001"),
        ("Activity", "Blocked | outbound"),
        ("LogSeverity", "7"),
        ("SourceIP", "10.0.0.5"),
        ("DestinationIP", "203.0.113.9"),
        ("Protocol", "TCP"),
        ("DeviceAction", "block"),
        ("SourceUserName", "alice"),
        ("Message", "Denied by rule = 5"),
        ("DeviceCustomString1Label", "Rule"),
        ("DeviceCustomString1", "egress web"),
        ("AdditionalExtensions", "custom=x"),
    ] {
        assert_eq!(r[column], value, "{column} in {r}");
    }
    for (column, value) in [
        ("SourcePort", 51515),
        ("DestinationPort", 443),
        ("ReceivedBytes", 1200),
        ("SentBytes", 88),
    ] {
        assert_eq!(r[column], value, "{column} in {r}");
    }
    assert!(
        r["TimeGenerated"]
            .as_str()
            .unwrap()
            .contains(&cef_messages().1),
        "{r}"
    );
    // The broken one is kept whole as a Syslog record (it came in on the CEF port).
    let broken: Vec<&Value> = records
        .iter()
        .filter(|r| {
            r["RawMessage"]
                .as_str()
                .is_some_and(|m| m.contains("CEF:0|Acme|Edge Firewall") && !m.contains("4001"))
        })
        .collect();
    assert_eq!(broken.len(), 1, "{records:?}");
    assert_eq!(broken[0]["HostName"], "fw01");
    // The plain line arrived once, as Syslog, and no Syslog record carries CEF text
    // except the broken one.
    let plain: Vec<&Value> = records
        .iter()
        .filter(|r| r["SyslogMessage"] == "plain line next to CEF")
        .collect();
    assert_eq!(plain.len(), 1, "{records:?}");
    assert_eq!(plain[0]["ProcessName"], "sshd");
    assert!(
        plain[0].get("RawMessage").is_some(),
        "the plain port: {records:?}"
    );
    // `CEF:` in plain text stays in the plain stream, with its tag.
    let mention: Vec<&Value> = records
        .iter()
        .filter(|r| r["SyslogMessage"] == "text with CEF: in it")
        .collect();
    assert_eq!(mention.len(), 1, "{records:?}");
    assert_eq!(mention[0]["ProcessName"], "app", "{records:?}");
    assert_eq!(mention[0]["ProcessID"], 50, "{records:?}");
    assert!(
        mention[0].get("RawMessage").is_some(),
        "the plain port: {records:?}"
    );
    // The ASA message went to the security port (no RawMessage there), whose
    // decoder made it a CommonSecurityLog record.
    let asa: Vec<&Value> = records
        .iter()
        .filter(|r| r["DeviceVendor"] == "Cisco")
        .collect();
    assert_eq!(asa.len(), 1, "{records:?}");
    assert_eq!(asa[0]["Computer"], "asa1", "{records:?}");
    assert_eq!(asa[0]["DeviceProduct"], "ASA", "{records:?}");
    assert_eq!(asa[0]["DeviceEventClassID"], "302013", "{records:?}");
    assert_eq!(
        asa[0]["Message"], "Built outbound TCP connection 1",
        "{records:?}"
    );
    assert!(
        asa[0].get("RawMessage").is_none(),
        "the security port: {records:?}"
    );
    // The debug CEF event is below the selection.
    assert!(
        !records.iter().any(|r| r.to_string().contains("4002")),
        "{records:?}"
    );
    assert_eq!(records.len(), 5, "{records:?}");
}

fn rsyslog_with_shipped_drop_in(dir: &Path, ports: &Ports) -> Daemon {
    syslane_tests::rsyslog_with_shipped_drop_in(dir, ports.daemon_in, ports.syslog, ports.cef)
}

fn syslog_ng_with_shipped_drop_in(dir: &Path, ports: &Ports) -> Daemon {
    syslane_tests::syslog_ng_with_shipped_drop_in(dir, ports.daemon_in, ports.syslog, ports.cef)
}

#[test]
fn rsyslog_with_the_shipped_drop_in_forwards_the_selection_with_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, ports) = start_agent(dir.path());
    let rsyslog = rsyslog_with_shipped_drop_in(dir.path(), &ports);
    std::thread::sleep(Duration::from_millis(300));
    feed_with_logger(ports.daemon_in, 3);
    check_cases(&dir.path().join("out.jsonl"), 3, || {
        format!("rsyslog:\n{}\nsyslane:\n{}", rsyslog.logs(), agent.logs())
    });
    drop(rsyslog);
    agent.stop();
}

#[test]
fn rsyslog_sends_cef_to_the_cef_port_and_syslane_fills_common_security_log() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, ports) = start_agent(dir.path());
    let rsyslog = rsyslog_with_shipped_drop_in(dir.path(), &ports);
    std::thread::sleep(Duration::from_millis(300));
    send_tcp_lf(ports.daemon_in, cef_messages().0.clone());
    check_cef(&dir.path().join("out.jsonl"), || {
        format!("rsyslog:\n{}\nsyslane:\n{}", rsyslog.logs(), agent.logs())
    });
    drop(rsyslog);
    agent.stop();
}

#[test]
fn syslog_ng_with_the_shipped_drop_in_forwards_the_selection_and_cef() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, ports) = start_agent(dir.path());
    let sng = syslog_ng_with_shipped_drop_in(dir.path(), &ports);
    std::thread::sleep(Duration::from_millis(500));
    feed_with_logger(ports.daemon_in, 2);
    check_cases(&dir.path().join("out.jsonl"), 2, || {
        format!("syslog-ng:\n{}\nsyslane:\n{}", sng.logs(), agent.logs())
    });
    drop(sng);
    agent.stop();

    let dir = tempfile::tempdir().unwrap();
    let (agent, ports) = start_agent(dir.path());
    let sng = syslog_ng_with_shipped_drop_in(dir.path(), &ports);
    std::thread::sleep(Duration::from_millis(500));
    send_tcp_lf(ports.daemon_in, cef_messages().0.clone());
    check_cef(&dir.path().join("out.jsonl"), || {
        format!("syslog-ng:\n{}\nsyslane:\n{}", sng.logs(), agent.logs())
    });
    drop(sng);
    agent.stop();
}

/// Selections an operator might choose, in the workspace's "facility from
/// severity up" terms.
const SELECTIONS: &[&[&str]] = &[
    &["--all=info"],
    &["--all=debug", "--no-cef"],
    &["--all", "emerg"],
    &["--facility", "auth=info"],
    &[
        "--facility",
        "auth=info",
        "--facility",
        "authpriv=debug",
        "--facility",
        "daemon=warning",
    ],
    &[
        "--facility",
        "kern=err",
        "--facility",
        "ntp=notice",
        "--facility",
        "audit=info",
        "--facility",
        "alert=crit",
        "--facility",
        "clock=debug",
    ],
    &[
        "--facility",
        "local0=info",
        "--facility",
        "local7=alert",
        "--facility",
        "security=warn",
    ],
    &[
        "--all=warning",
        "--facility",
        "mail=debug",
        "--port",
        "5514",
        "--cef-port",
        "5515",
    ],
];

#[test]
fn every_file_syslog_config_writes_passes_the_daemons_own_checkers() {
    for daemon in ["rsyslog", "syslog-ng"] {
        let checker = if daemon == "rsyslog" {
            "rsyslogd -N1"
        } else {
            "syslog-ng --syntax-only"
        };
        for selection in SELECTIONS {
            let mut args = vec!["syslog-config", "--daemon", daemon];
            args.extend_from_slice(selection);
            let (ok, out, err) = syslane(&args);
            assert!(ok, "{daemon} {selection:?}: {err}");
            assert!(
                err.contains(&format!("checked with {checker}")),
                "{daemon} {selection:?} was not checked: {err}"
            );
            assert!(out.contains("127.0.0.1"), "{out}");
        }
    }
    // Bad selections are refused with what to write instead.
    for (args, says) in [
        (
            vec!["syslog-config", "--daemon", "rsyslog"],
            "choose what to forward",
        ),
        (
            vec!["syslog-config", "--daemon", "rsyslog", "--facility", "auth"],
            "FACILITY=SEVERITY",
        ),
        (
            vec![
                "syslog-config",
                "--daemon",
                "rsyslog",
                "--facility",
                "printer=info",
            ],
            "local7",
        ),
        (
            vec!["syslog-config", "--daemon", "rsyslog", "--all=loud"],
            "the lowest severity",
        ),
    ] {
        let (ok, _, err) = syslane(&args);
        assert!(!ok && err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn install_and_remove_are_atomic_and_omsagent_leftovers_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let rsyslog_d = dir.path().join("rsyslog.d");
    std::fs::create_dir_all(&rsyslog_d).unwrap();
    std::fs::write(
        rsyslog_d.join("95-omsagent.conf"),
        "auth.*  @127.0.0.1:25224\n",
    )
    .unwrap();
    let d = rsyslog_d.to_str().unwrap();
    let (ok, out, err) = syslane(&[
        "syslog-config",
        "--daemon",
        "rsyslog",
        "--facility",
        "auth=info",
        "--install",
        "--dir",
        d,
        "--no-reload",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("installed") && out.contains("systemctl restart rsyslog"),
        "{out}"
    );
    assert!(
        err.contains("95-omsagent.conf") && err.contains("sudo rm") && err.contains("second time"),
        "{err}"
    );
    let installed = std::fs::read_to_string(rsyslog_d.join("95-syslane.conf")).unwrap();
    assert!(installed.contains("prifilt(\"auth.info\")"), "{installed}");
    // Nothing else was left in the directory (the temporary file was renamed).
    let names: Vec<String> = std::fs::read_dir(&rsyslog_d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let (ok, out, _) = syslane(&[
        "syslog-config",
        "--daemon",
        "rsyslog",
        "--remove",
        "--dir",
        d,
        "--no-reload",
    ]);
    assert!(ok && out.contains("removed"), "{out}");
    assert!(!rsyslog_d.join("95-syslane.conf").exists());
    let (ok, out, _) = syslane(&[
        "syslog-config",
        "--daemon",
        "rsyslog",
        "--remove",
        "--dir",
        d,
        "--no-reload",
    ]);
    assert!(ok && out.contains("nothing to do"), "{out}");

    // syslog-ng: the old agent's block sits in syslog-ng.conf itself.
    let etc = dir.path().join("syslog-ng");
    let conf_d = etc.join("conf.d");
    std::fs::create_dir_all(&conf_d).unwrap();
    std::fs::write(
        etc.join("syslog-ng.conf"),
        "#OMS_Destination\ndestination d_oms { udp(\"127.0.0.1\" port(25224)); };\n",
    )
    .unwrap();
    let (ok, _, err) = syslane(&[
        "syslog-config",
        "--daemon",
        "syslog-ng",
        "--all=info",
        "--install",
        "--dir",
        conf_d.to_str().unwrap(),
        "--no-reload",
    ]);
    assert!(ok, "{err}");
    assert!(
        err.contains("syslog-ng.conf")
            && err.contains("d_oms")
            && err.contains("delete those lines"),
        "{err}"
    );
    assert!(conf_d.join("syslane.conf").is_file());
    // A missing directory is an error that names it.
    let (ok, _, err) = syslane(&[
        "syslog-config",
        "--daemon",
        "rsyslog",
        "--all=info",
        "--install",
        "--dir",
        "/nonexistent/rsyslog.d",
        "--no-reload",
    ]);
    assert!(
        !ok && err.contains("/nonexistent/rsyslog.d does not exist"),
        "{err}"
    );
}
