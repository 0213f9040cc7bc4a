//! Helpers for syslane's end-to-end tests and benchmarks: start the real agent
//! binary with a temporary config on free loopback ports, send syslog over real
//! sockets, read what the file output wrote.
//!
//! The agent and plugins are taken from the cargo profile directory the test
//! binary itself was built into (`target/release` for `cargo test --release`), so
//! `cargo build --release --workspace` must have run first; README's test command
//! does both.

pub mod device_cases;
pub mod emulator;
pub mod packaging;
pub mod tools;

pub use tools::{find_program, tool};
mod daemons;
mod faults;
mod tinyproxy;
pub use daemons::{
    rsyslog_relp_forwarder, rsyslog_with_shipped_drop_in, shipped_drop_in,
    syslog_ng_with_shipped_drop_in, Daemon, Rsyslog, SyslogNg, SYSLOG_NG_DEBIAN_OPTIONS,
};
pub use faults::{read_complete_records, relp_send, Notifications, RelpOutcome, Tmpfs};
pub use tinyproxy::Tinyproxy;

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Facility names in code order, written out independently of the agent's own table.
pub const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];
/// Severity names in code order, written out independently of the agent's own table.
pub const SEVERITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// The repository root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The shared corpus, beside the project.
pub fn corpus_dir() -> PathBuf {
    workspace_root().join("../shared/corpus")
}

/// `messages`, all from `sender` and received at `received_ns`, through the built
/// `syslog` plugin (time zone UTC) and the agent's record policy on a host named
/// `host_name`: each record as the output receives it, in order.
pub fn syslog_records<'a>(
    messages: impl IntoIterator<Item = &'a [u8]>,
    sender: std::net::IpAddr,
    received_ns: i64,
    host_name: &str,
) -> Vec<Vec<u8>> {
    let frames: Vec<syslane::testing::Frame<'a>> = messages
        .into_iter()
        .map(|data| syslane::testing::Frame {
            data,
            peer: sender,
            receive_time_ns: received_ns,
        })
        .collect();
    syslane::testing::decode_to_json(
        &build_dir(),
        "syslog",
        r#"{"timezone":"UTC"}"#,
        host_name,
        &frames,
    )
    .unwrap()
}

/// The directory holding `syslane` and the built-in plugins.
pub fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let mut dir = exe.parent().unwrap().to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let agent = dir.join("syslane");
    assert!(
        agent.is_file() && dir.join("libsyslane_plugin_syslog.so").is_file(),
        "{} has no syslane binary or plugins: run `cargo build --release --workspace` before the tests",
        dir.display()
    );
    dir
}

/// The agent binary.
pub fn agent_binary() -> PathBuf {
    build_dir().join("syslane")
}

/// A port free for both TCP and UDP on 127.0.0.1, never handed out twice in one
/// test process (tests run in parallel and bind their ports a little later).
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        let mut given = GIVEN.lock().unwrap();
        if !given.contains(&port) && UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
}

/// Polls `f` until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// Every JSON line of a file (an empty list when it does not exist yet).
pub fn read_records(path: &Path) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("output line is not JSON ({e}): {l}"))
        })
        .collect()
}

/// Counts lines of a file without parsing them.
pub fn count_lines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|c| **c == b'\n').count())
        .unwrap_or(0)
}

/// A config: `state_dir = "state"`, the plugin directory, the given `[[listen]]` and
/// `[[filter]]` tables, and a file output to `output`.
/// A config with the given listener/filter tables and a file output.
pub fn config_with(plugin_dir: &Path, tables: &str, output: &Path) -> String {
    format!(
        "state_dir = \"state\"\nplugin_dir = \"{}\"\n{tables}\n[output]\nplugin = \"file\"\npath = \"{}\"\n",
        plugin_dir.display(),
        output.display()
    )
}

/// A config with a UDP and a TCP listener on `port`, extra filter tables, and a file output.
pub fn config_text(plugin_dir: &Path, port: u16, filters: &str, output: &Path) -> String {
    let listen = format!(
        "[[listen]]\naddress = \"udp://127.0.0.1:{port}\"\ninput = \"syslog\"\ntimezone = \"UTC\"\n\
         [[listen]]\naddress = \"tcp://127.0.0.1:{port}\"\ninput = \"syslog\"\ntimezone = \"UTC\"\n"
    );
    config_with(plugin_dir, &format!("{listen}{filters}"), output)
}

/// The counters of the agent started with `Agent::start(dir, …)` (`syslane stats --prometheus`).
pub fn stats_of(dir: &Path) -> String {
    syslane(&[
        "stats",
        "--prometheus",
        "--config",
        dir.join("syslane.toml").to_str().unwrap(),
    ])
    .1
}

/// One counter of a `syslane stats` text; 0 when absent.
pub fn counter(stats: &str, name: &str) -> u64 {
    // The first series starting with `name`; when that names a family (no
    // labels given), every labelled series of that family, summed.
    let samples = || {
        stats
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                Some((series, value.parse::<u64>().ok()?))
            })
    };
    let family = |series: &str| series.split('{').next().unwrap_or(series).to_string();
    let Some((first, value)) = samples().find(|(s, _)| s.starts_with(name)) else {
        return 0;
    };
    if name.contains('{') {
        return value;
    }
    let wanted = family(first);
    samples()
        .filter(|(s, _)| family(s) == wanted)
        .map(|(_, v)| v)
        .sum()
}

/// Starts `command` with no stdin or stdout, collecting its stderr lines into a
/// shared string on a thread of its own.
pub(crate) fn spawn_captured(command: &mut Command) -> (Child, Arc<Mutex<String>>) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let logs = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&logs);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut l = sink.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    (child, logs)
}

/// Runs `syslane` with `args` to completion: (success, stdout, stderr).
pub fn syslane(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(agent_binary()).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A running agent process; killed if the test fails before `stop`.
pub struct Agent {
    pub(crate) child: Option<Child>,
    pub(crate) logs: Arc<Mutex<String>>,
}

impl Agent {
    /// Writes `config` to `dir/syslane.toml` and starts `syslane run` on it, waiting
    /// until it says it is ready.
    pub fn start(dir: &Path, config: &str) -> Agent {
        Agent::start_logging(dir, config, "info")
    }

    /// As `start`, with the agent's log filter set to `level`.
    pub fn start_logging(dir: &Path, config: &str, level: &str) -> Agent {
        Agent::start_with(dir, config, level, &[])
    }

    /// As `start_logging`, with `env` added to the agent's environment.
    pub fn start_with(dir: &Path, config: &str, level: &str, env: &[(&str, &str)]) -> Agent {
        let path = dir.join("syslane.toml");
        std::fs::write(&path, config).unwrap();
        let agent = Agent::spawn_with(&["run", "--config", path.to_str().unwrap()], level, env);
        let ready = wait_until(Duration::from_secs(20), || {
            agent.logs().contains("syslane ready") || agent.exited()
        });
        assert!(
            ready && !agent.logs().contains("syslane: "),
            "agent did not start:\n{}",
            agent.logs()
        );
        agent
    }

    /// Starts the agent binary with `args`, capturing its stderr.
    pub fn spawn(args: &[&str]) -> Agent {
        Agent::spawn_logging(args, "info")
    }

    /// As `spawn`, with the agent's log filter set to `level`.
    pub fn spawn_logging(args: &[&str], level: &str) -> Agent {
        Agent::spawn_with(args, level, &[])
    }

    fn spawn_with(args: &[&str], level: &str, env: &[(&str, &str)]) -> Agent {
        let mut command = Command::new(agent_binary());
        command
            .args(args)
            .env("SYSLANE_LOG", level)
            .envs(env.iter().copied());
        Agent::from_command(command)
    }

    /// Waits up to `secs` seconds for `text` in the agent's log; fails the test with
    /// the whole log if it never comes.
    pub fn expect_log(&self, text: &str, secs: u64) {
        assert!(
            wait_until(Duration::from_secs(secs), || self.logs().contains(text)),
            "the agent never logged {text:?}:\n{}",
            self.logs()
        );
    }

    /// Everything the agent logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    fn exited(&self) -> bool {
        let child = self.child.as_ref().unwrap();
        Command::new(tool("kill"))
            .args(["-0", &child.id().to_string()])
            .stderr(Stdio::null())
            .status()
            .map(|s| !s.success())
            .unwrap_or(true)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends SIGTERM and waits for the exit; returns the status and the logs.
    pub fn stop(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        Command::new(tool("kill"))
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let end = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < end,
                "agent did not exit within 60 s of SIGTERM:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(100));
        (status, self.logs())
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends messages over one TCP connection, LF-delimited.
pub fn send_tcp_lf(port: u16, messages: impl IntoIterator<Item = String>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut buf = Vec::new();
    for m in messages {
        buf.extend_from_slice(m.as_bytes());
        buf.push(b'\n');
    }
    s.write_all(&buf).unwrap();
}

/// Sends messages over one TCP connection, octet-counted (RFC 6587).
pub fn send_tcp_octet(port: u16, messages: impl IntoIterator<Item = String>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(&octet_stream(messages)).unwrap();
}

/// Messages framed with octet counting.
pub fn octet_stream(messages: impl IntoIterator<Item = String>) -> Vec<u8> {
    let mut buf = Vec::new();
    for m in messages {
        buf.extend_from_slice(format!("{} {m}", m.len()).as_bytes());
    }
    buf
}

/// Sends one datagram per message, pausing briefly every `burst` datagrams so a
/// loopback socket buffer is not overrun by the test itself.
pub fn send_udp(port: u16, messages: impl IntoIterator<Item = String>, burst: usize) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    for (i, m) in messages.into_iter().enumerate() {
        s.send_to(m.as_bytes(), ("127.0.0.1", port)).unwrap();
        if burst > 0 && i % burst == burst - 1 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Peak resident memory (VmHWM) of a process in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmHWM:")
}

/// A field of `/proc/PID/status` counted in KiB (`VmRSS:`, `VmHWM:`).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Compiles the C example filter with the system C compiler into `dir`, with extra
/// compiler arguments; returns the library path.
pub fn build_c_example(dir: &Path, file_name: &str, extra: &[&str]) -> PathBuf {
    build_c_plugin(
        dir,
        file_name,
        "plugins/examples/c-filter/drop_filter.c",
        extra,
    )
}

/// Compiles a C plugin source of the repository with the system C compiler into
/// `dir`; returns the library path.
pub fn build_c_plugin(dir: &Path, file_name: &str, source: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(file_name);
    let root = workspace_root();
    let status = Command::new(tool("cc"))
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror"])
        .arg("-I")
        .arg(root.join("include"))
        .args(extra)
        .arg(root.join(source))
        .arg("-o")
        .arg(&out)
        .status()
        .expect("the system C compiler (cc) runs");
    assert!(status.success(), "cc failed to build {source}");
    out
}

/// A plugin directory holding copies of the built-in plugins (and room for more).
pub fn plugin_dir_with_builtins(dir: &Path) -> PathBuf {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    for entry in std::fs::read_dir(build_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("libsyslane_plugin_") && name.ends_with(".so") {
            std::fs::copy(&path, plugins.join(&name)).unwrap();
        }
    }
    plugins
}

/// A config with one RELP listener on `port` and a file output.
pub fn relp_config_text(plugin_dir: &Path, port: u16, output: &Path) -> String {
    config_with(
        plugin_dir,
        &format!("[[listen]]\naddress = \"relp://127.0.0.1:{port}\"\ninput = \"syslog\"\n"),
        output,
    )
}

/// A plugin directory with the built-in plugins and the C example output
/// `example-reject` (it rejects batches holding `reject`, and retries while it
/// cannot write `out`).
pub fn plugin_dir_with_reject_output(dir: &Path) -> PathBuf {
    let plugins = plugin_dir_with_builtins(dir);
    build_c_plugin(
        &plugins,
        "libsyslane_plugin_example_reject.so",
        "plugins/examples/c-output/reject_output.c",
        &[],
    );
    plugins
}

/// A config with a TCP listener on `port` and the `example-reject` output.
pub fn reject_output_config(plugin_dir: &Path, port: u16, out: &Path, reject: &str) -> String {
    format!(
        "state_dir = \"state\"\nplugin_dir = \"{}\"\n[[listen]]\naddress = \"tcp://127.0.0.1:{port}\"\ninput = \"syslog\"\n\
         [output]\nplugin = \"example-reject\"\npath = \"{}\"\nreject = \"{reject}\"\n",
        plugin_dir.display(),
        out.display()
    )
}
