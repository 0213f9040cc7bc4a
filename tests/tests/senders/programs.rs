//! The senders that are programs rather than daemons: Python's `SysLogHandler`,
//! util-linux `logger` and Fluent Bit's `syslog` output.

use super::*;

/// Python's `logging.handlers.SysLogHandler` as applications set it up: a logger
/// per component, a `name[pid]: message` formatter (the handler sends no header but
/// the PRI), the facility set on the handler, and Python's level names mapped to
/// severities by the handler itself. Messages come as JSON on stdin.
const PYTHON: &str = r#"
import json, logging, logging.handlers, socket, sys
kind, where = sys.argv[1], sys.argv[2]
if kind == "udp":
    handler = logging.handlers.SysLogHandler(address=("127.0.0.1", int(where)), socktype=socket.SOCK_DGRAM)
elif kind == "tcp":
    handler = logging.handlers.SysLogHandler(address=("127.0.0.1", int(where)), socktype=socket.SOCK_STREAM)
else:
    handler = logging.handlers.SysLogHandler(address=where)
handler.setFormatter(logging.Formatter("%(name)s[%(process)d]: %(message)s"))
levels = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "err": logging.ERROR, "crit": logging.CRITICAL}
for m in json.load(sys.stdin):
    log = logging.getLogger(m["app"])
    log.propagate = False
    log.handlers = [handler]
    log.setLevel(logging.DEBUG)
    handler.facility = handler.facility_names[m["facility"]]
    log.log(levels[m["severity"]], m["text"])
handler.close()
"#;

/// Runs the Python sender over `kind` (`udp`, `tcp` or `unix`) to `where`; returns its pid.
fn python(kind: &str, to: &str, sent: &[Sent]) -> u32 {
    let json: Vec<Value> = sent
        .iter()
        .map(|s| {
            serde_json::json!({"app": s.app, "facility": s.facility, "severity": s.severity, "text": s.text})
        })
        .collect();
    let mut child = Command::new(tool("python3"))
        .args(["-c", PYTHON, kind, to])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, Value::from(json).to_string().as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python3 {kind}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    pid
}

/// Python over UDP, TCP (messages end with NUL: a traceback stays one record),
/// a unix datagram socket and a unix stream socket (NUL-terminated too).
#[test]
fn python_syslog_handler() {
    let dir = tempfile::tempdir().unwrap();
    let target = start_agent(dir.path(), "local");
    let routes = [
        ("py-udp", "udp", target.net.to_string()),
        ("py-tcp", "tcp", target.net.to_string()),
        ("py-unix-dgram", "unix", target.dgram.display().to_string()),
        (
            "py-unix-stream",
            "unix",
            target.stream.display().to_string(),
        ),
    ];
    let mut sent = Vec::new();
    let mut pids = std::collections::HashMap::new();
    for (name, kind, to) in routes {
        let mine = messages(name, true);
        let pid = python(kind, &to, &mine);
        for s in &mine {
            pids.insert(s.id.clone(), pid);
        }
        sent.extend(mine);
    }
    let expect = Expect {
        host: hostname(),
        pid: Box::new(move |s: &Sent| Value::from(pids[&s.id])),
        // The handler sends no timestamp.
        time: None,
    };
    check(&target.out, &sent, &expect, || target.agent.logs());
    target.agent.stop();
}

/// util-linux `logger` in its formats: RFC 3164 over UDP and TCP, RFC 5424 over
/// UDP and octet-counted TCP, and RFC 3164 to a unix datagram socket.
#[test]
fn logger_formats() {
    let dir = tempfile::tempdir().unwrap();
    let target = start_agent(dir.path(), "local");
    let net = target.net.to_string();
    let dgram = target.dgram.display().to_string();
    // (route, arguments, carries line feeds)
    let routes: [(&str, Vec<&str>, bool); 5] = [
        (
            "lg-3164-udp",
            vec!["--rfc3164", "--udp", "-n", "127.0.0.1", "-P", &net],
            true,
        ),
        (
            "lg-3164-tcp",
            vec!["--rfc3164", "--tcp", "-n", "127.0.0.1", "-P", &net],
            false,
        ),
        (
            "lg-5424-udp",
            vec!["--rfc5424", "--udp", "-n", "127.0.0.1", "-P", &net],
            true,
        ),
        (
            "lg-5424-octet",
            vec![
                "--rfc5424",
                "--tcp",
                "--octet-count",
                "-n",
                "127.0.0.1",
                "-P",
                &net,
            ],
            true,
        ),
        (
            "lg-3164-unix",
            vec!["--rfc3164", "-u", &dgram, "--socket-errors=on"],
            true,
        ),
    ];
    let from = now();
    let mut sent = Vec::new();
    for (name, args, newlines) in routes {
        for s in messages(name, newlines) {
            let mut logger = Command::new(tool("logger"));
            logger
                .args(&args)
                .args(["--size", "65536", "-t", s.app])
                .args(["-p", &format!("{}.{}", s.facility, s.severity)]);
            if s.app != "kernel" {
                logger.arg(format!("--id={PID}"));
            }
            let out = logger.arg("--").arg(&s.text).output().unwrap();
            assert!(
                out.status.success(),
                "logger {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            sent.push(s);
        }
    }
    let mut expect = relayed(from);
    expect.host = hostname();
    check(&target.out, &sent, &expect, || target.agent.logs());
    target.agent.stop();
}

/// Fluent Bit, from the peers beside the project (CI has it there).
fn fluent_bit() -> PathBuf {
    let path = workspace_root().join("../shared/peers/fluent-bit/fluent-bit");
    assert!(
        path.is_file(),
        "{} is missing: this test drives Fluent Bit 5.1's syslog output and needs its binary there (see its README.md)",
        path.display()
    );
    path
}

/// Fluent Bit's `syslog` output in RFC 3164 and RFC 5424 over TCP and UDP, its
/// records read from stdin with the keys it is told to map. Its RFC 3164 stamps
/// are UTC, so the listener reads zone-less dates as UTC, as docs/src/syslog-daemons.md says.
#[test]
fn fluent_bit_syslog_output() {
    let program = fluent_bit();
    let dir = tempfile::tempdir().unwrap();
    let target = start_agent(dir.path(), "UTC");
    // (route, syslog_format, mode, carries line feeds)
    let routes = [
        ("fb-3164-tcp", "rfc3164", "tcp", false),
        ("fb-3164-udp", "rfc3164", "udp", true),
        ("fb-5424-tcp", "rfc5424", "tcp", false),
        ("fb-5424-udp", "rfc5424", "udp", true),
    ];
    let from = now();
    let mut sent = Vec::new();
    for (name, format, mode, newlines) in routes {
        let mine = messages(name, newlines);
        let mut input = String::new();
        for s in &mine {
            let mut record = serde_json::json!({
                "log": s.text,
                "host": HOST,
                "app": s.app,
                "sev": SEVERITIES.iter().position(|v| *v == s.severity).unwrap(),
                "fac": FACILITIES.iter().position(|v| *v == s.facility).unwrap(),
            });
            if s.app != "kernel" {
                record["pid"] = Value::from(PID.to_string());
            }
            input.push_str(&record.to_string());
            input.push('\n');
        }
        let mut child = Command::new(&program)
            .args(["-q", "-f", "1", "-i", "stdin", "-o", "syslog", "-m", "*"])
            .args([
                "-p",
                "host=127.0.0.1",
                "-p",
                &format!("port={}", target.net),
            ])
            .args([
                "-p",
                &format!("mode={mode}"),
                "-p",
                &format!("syslog_format={format}"),
            ])
            .args(["-p", "syslog_maxsize=65536", "-p", "syslog_message_key=log"])
            .args([
                "-p",
                "syslog_hostname_key=host",
                "-p",
                "syslog_appname_key=app",
            ])
            .args([
                "-p",
                "syslog_procid_key=pid",
                "-p",
                "syslog_severity_key=sev",
            ])
            .args(["-p", "syslog_facility_key=fac"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut stdin, input.as_bytes()).unwrap();
        drop(stdin);
        // Fluent Bit flushes and exits at the end of its input.
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "fluent-bit {format} {mode}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        sent.extend(mine);
    }
    check(&target.out, &sent, &relayed(from), || target.agent.logs());
    target.agent.stop();
}
