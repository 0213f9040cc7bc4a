//! Helpers for the fault-injection tests: a tmpfs to fill, a service manager's
//! notification socket, and a bare RELP client that reports how each message
//! was answered.

use crate::{agent_binary, spawn_captured, tool, wait_until, Agent};
use serde_json::Value;
use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A tmpfs of `size` (such as "5m") mounted on a fresh directory, unmounted when
/// dropped (also when the test fails). Mounting needs root, as CI has; anywhere
/// else the test fails with that reason rather than being skipped.
pub struct Tmpfs {
    pub path: PathBuf,
}

impl Tmpfs {
    pub fn mount(path: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new(tool("mount"))
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(path)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "cannot mount a tmpfs on {} ({}); this test needs root (CI runs the tests as root)",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Tmpfs {
            path: path.to_path_buf(),
        }
    }

    /// Fills the file system: a file of zeros until ENOSPC. Returns its path.
    pub fn fill(&self) -> PathBuf {
        let filler = self.path.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.flush();
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily, so a process still holding a file there cannot keep it mounted.
        let _ = Command::new(tool("umount"))
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

/// A service manager's notification socket: starts the agent as systemd would
/// (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID) and collects what it sends.
pub struct Notifications {
    messages: Arc<Mutex<Vec<String>>>,
    pub socket: PathBuf,
}

impl Notifications {
    pub fn bind(dir: &Path) -> Notifications {
        let socket = dir.join("notify.sock");
        let sock = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&messages);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = sock.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                sink.lock().unwrap().push(text);
            }
        });
        Notifications { messages, socket }
    }

    /// Writes `config` to `dir/syslane.toml` and starts `syslane run` on it as a
    /// Type=notify service with a watchdog of `watchdog_ms`; waits for READY.
    pub fn start_agent(&self, dir: &Path, config: &str, watchdog_ms: u64) -> Agent {
        let path = dir.join("syslane.toml");
        std::fs::write(&path, config).unwrap();
        // systemd sets WATCHDOG_PID to the service's pid: exec keeps the shell's.
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg("WATCHDOG_PID=$$ exec \"$0\" run --config \"$1\"")
            .arg(agent_binary())
            .arg(&path)
            .env("NOTIFY_SOCKET", &self.socket)
            .env("WATCHDOG_USEC", (watchdog_ms * 1000).to_string())
            .env("SYSLANE_LOG", "info");
        let agent = Agent::from_command(command);
        assert!(
            wait_until(Duration::from_secs(20), || self.seen("READY=1") > 0),
            "no READY=1:\n{}",
            agent.logs()
        );
        agent
    }

    /// Every message received so far.
    pub fn all(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }

    /// How many messages so far contain `text`.
    pub fn seen(&self, text: &str) -> usize {
        self.all().iter().filter(|m| m.contains(text)).count()
    }

    /// The last STATUS= sent, if any.
    pub fn status(&self) -> Option<String> {
        self.all().iter().rev().find_map(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("STATUS="))
                .map(str::to_string)
        })
    }
}

/// How a RELP server answered each message of a session.
#[derive(Debug, Default)]
pub struct RelpOutcome {
    /// Messages answered `200 OK` (the server promises they are journaled).
    pub acked: Vec<usize>,
    /// Messages answered otherwise (`500 …`): the sender keeps them.
    pub refused: Vec<usize>,
    /// Messages sent that got no answer before the session ended.
    pub unanswered: Vec<usize>,
    /// The first non-200 answer, for messages.
    pub first_refusal: Option<String>,
}

/// A bare RELP client (no resending, unlike rsyslog): opens a session on `port`,
/// sends `messages` one at a time, waiting for each answer, and reports how each
/// was answered. Numbers are indexes into `messages`.
pub fn relp_send(port: u16, messages: &[String]) -> RelpOutcome {
    fn frame(txnr: usize, command: &str, data: &str) -> Vec<u8> {
        format!("{txnr} {command} {} {data}\n", data.len()).into_bytes()
    }
    /// Reads one response: (txnr, data), or None when the server closed.
    fn response(r: &mut BufReader<TcpStream>) -> Option<(usize, String)> {
        let mut word = |stop: &[u8]| -> Option<(String, u8)> {
            let mut w = Vec::new();
            loop {
                let mut b = [0u8; 1];
                std::io::Read::read_exact(r, &mut b).ok()?;
                if stop.contains(&b[0]) {
                    return Some((String::from_utf8_lossy(&w).to_string(), b[0]));
                }
                w.push(b[0]);
            }
        };
        let (txnr, _) = word(b" ")?;
        let (_command, _) = word(b" ")?;
        let (len, end) = word(b" \n")?;
        let len: usize = len.parse().ok()?;
        let mut data = vec![0u8; len];
        if end == b' ' {
            std::io::Read::read_exact(r, &mut data).ok()?;
            let mut lf = [0u8; 1];
            std::io::Read::read_exact(r, &mut lf).ok()?;
        }
        Some((
            txnr.parse().ok()?,
            String::from_utf8_lossy(&data).to_string(),
        ))
    }
    let mut outcome = RelpOutcome::default();
    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else {
        outcome.unanswered = (0..messages.len()).collect();
        return outcome;
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let open = "relp_version=0\nrelp_software=syslane-tests\ncommands=syslog";
    let opened = w.write_all(&frame(1, "open", open)).is_ok()
        && response(&mut r).is_some_and(|(_, d)| d.starts_with("200"));
    for (i, m) in messages.iter().enumerate() {
        if !opened || w.write_all(&frame(i + 2, "syslog", m)).is_err() {
            outcome.unanswered.push(i);
            continue;
        }
        match response(&mut r) {
            Some((txnr, data)) if txnr == i + 2 && data.starts_with("200") => outcome.acked.push(i),
            Some((txnr, data)) if txnr == i + 2 => {
                outcome.first_refusal.get_or_insert(data);
                outcome.refused.push(i);
            }
            // serverclose (txnr 0) or the end of the session.
            _ => outcome.unanswered.push(i),
        }
    }
    outcome
}

/// The JSON lines of a file that another process may be writing: only lines
/// already ended by a newline.
pub fn read_complete_records(path: &Path) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("output line is not JSON ({e}): {l}"))
        })
        .collect()
}

impl Agent {
    /// Starts `command` (which runs the agent), capturing its stderr.
    pub fn from_command(mut command: Command) -> Agent {
        let (child, logs) = spawn_captured(&mut command);
        Agent {
            child: Some(child),
            logs,
        }
    }

    /// Waits up to `secs` for the process to exit; its status, or `None` if it runs on.
    pub fn wait_exit(&mut self, secs: u64) -> Option<ExitStatus> {
        let child = self.child.as_mut().unwrap();
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if let Some(s) = child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Sends SIGHUP (reload the configuration).
    pub fn hup(&self) {
        let pid = self.child.as_ref().unwrap().id();
        assert!(Command::new(tool("kill"))
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap()
            .success());
    }

    /// Kills the agent with SIGKILL (as a crash would) and waits for it.
    pub fn kill9(mut self) -> String {
        let mut child = self.child.take().unwrap();
        let _ = child.kill();
        let _ = child.wait();
        std::thread::sleep(Duration::from_millis(100));
        self.logs()
    }
}
