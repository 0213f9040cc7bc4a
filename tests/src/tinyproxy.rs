//! tinyproxy from Debian, started by a test in the foreground on loopback: a
//! plain-TCP CONNECT proxy, with Basic authentication or (like the Log Analytics
//! gateway) without.

use crate::{tool, wait_until};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Tinyproxy {
    child: Child,
    log: PathBuf,
}

impl Tinyproxy {
    /// Listens on 127.0.0.1:`port`, tunnels only to `allowed_port`, and demands
    /// `basic_auth` (user, password) when given. tinyproxy takes only user names
    /// and passwords of `[-a-z0-9._]`. `dir` holds its files (one proxy per dir).
    pub fn start(
        dir: &Path,
        port: u16,
        allowed_port: u16,
        basic_auth: Option<(&str, &str)>,
    ) -> Tinyproxy {
        let dir = dir.join(format!("tinyproxy-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("tinyproxy.log");
        let conf = dir.join("tinyproxy.conf");
        let auth = basic_auth
            .map(|(user, password)| format!("BasicAuth {user} {password}\n"))
            .unwrap_or_default();
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Connect\nPidFile \"{}\"\nMaxClients 50\nAllow 127.0.0.1\n{auth}ConnectPort {allowed_port}\n",
                log.display(),
                dir.join("tinyproxy.pid").display()
            ),
        )
        .unwrap();
        let child = Command::new(tool("tinyproxy"))
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tinyproxy starts");
        assert!(
            wait_until(Duration::from_secs(20), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            }),
            "tinyproxy did not start"
        );
        Tinyproxy { child, log }
    }

    /// Its log (connections and CONNECT requests).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
