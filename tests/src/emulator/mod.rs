//! Driving `syslane-emulator` from tests: start it, configure the agent's azure
//! output for it, schedule faults, read back what it stored.

pub mod arm;
pub mod kql;
pub mod rule;

use crate::{build_dir, wait_until};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

pub const SYSLOG_STREAM: &str = "Custom-SyslaneSyslog";
pub const SECURITY_STREAM: &str = "Custom-SyslaneSecurity";
pub const HEARTBEAT_STREAM: &str = "Custom-SyslaneHeartbeat";

pub struct Emulator {
    child: Child,
    pub dir: PathBuf,
    pub info: Value,
    client: ureq::Agent,
}

impl Emulator {
    /// Starts the emulator with its files in `dir/emulator`.
    pub fn start(dir: &Path, args: &[&str]) -> Emulator {
        let dir = dir.join("emulator");
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(build_dir().join("syslane-emulator"))
            .arg("--dir")
            .arg(&dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("syslane-emulator runs (cargo build --release --workspace first)");
        let file = dir.join("emulator.json");
        assert!(
            wait_until(Duration::from_secs(30), || file.exists()),
            "the emulator did not start"
        );
        let info: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let ca = std::fs::read(dir.join("ca.pem")).unwrap();
        let roots: Vec<_> = ureq::tls::parse_pem(&ca)
            .filter_map(|i| match i {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c.to_owned()),
                _ => None,
            })
            .collect();
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)))
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let client = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .tls_config(tls)
                .timeout_global(Some(Duration::from_secs(30)))
                .build(),
        );
        Emulator {
            child,
            dir,
            info,
            client,
        }
    }

    /// A value from emulator.json.
    pub fn s(&self, key: &str) -> String {
        match &self.info[key] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    fn get(&self, path: &str) -> Value {
        let url = format!("{}/_emulator/{path}", self.s("endpoint"));
        let text = self
            .client
            .get(&url)
            .call()
            .unwrap()
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    pub fn records(&self, stream: &str) -> Vec<Value> {
        match self.get(&format!("records?stream={stream}")) {
            Value::Array(a) => a,
            _ => Vec::new(),
        }
    }

    pub fn stats(&self) -> Value {
        self.get("stats")
    }

    pub fn requests(&self) -> Vec<Value> {
        match self.get("requests") {
            Value::Array(a) => a,
            _ => Vec::new(),
        }
    }

    /// Every token the emulator issued.
    pub fn tokens(&self) -> Vec<String> {
        match self.get("tokens") {
            Value::Array(a) => a
                .into_iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Sets deadlines from now: `forbidden_secs` (ingestion answers 403),
    /// `token_outage_secs` (token endpoints answer 503), `reject_tokens_secs`
    /// (ingestion answers 401); 0 ends one.
    pub fn set_state(&self, state: Value) {
        let url = format!("{}/_emulator/state", self.s("endpoint"));
        let r = self
            .client
            .post(&url)
            .header("content-type", "application/json")
            .send(state.to_string().as_bytes())
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }

    /// A counter from `/_emulator/stats`, such as `["statuses"]["403"]`; 0 when absent.
    pub fn stat(&self, path: &[&str]) -> u64 {
        let mut v = self.stats();
        for p in path {
            v = v[*p].clone();
        }
        v.as_u64().unwrap_or(0)
    }

    /// Appends faults for the next ingestion requests, in order.
    pub fn schedule(&self, faults: Value) {
        let url = format!("{}/_emulator/faults", self.s("endpoint"));
        let r = self
            .client
            .post(&url)
            .header("content-type", "application/json")
            .send(faults.to_string().as_bytes())
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }

    /// The `[output]` tables for `method`, with `extra` keys for `[output]`.
    pub fn output_toml(&self, method: &str, extra: &str) -> String {
        let auth = match method {
            "client_secret" => format!(
                "tenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"{}\"\nauthority_host = \"{}\"\n",
                self.s("tenant_id"),
                self.s("client_id"),
                self.s("client_secret_file"),
                self.s("authority_host")
            ),
            "client_certificate" => format!(
                "tenant_id = \"{}\"\nclient_id = \"{}\"\ncertificate_file = \"{}\"\nprivate_key_file = \"{}\"\nauthority_host = \"{}\"\n",
                self.s("tenant_id"),
                self.s("client_id"),
                self.s("certificate_file"),
                self.s("private_key_file"),
                self.s("authority_host")
            ),
            "managed_identity" => format!("identity_endpoint = \"{}\"\n", self.s("imds_endpoint")),
            "azure_arc" => format!(
                "identity_endpoint = \"{}\"\narc_token_dir = \"{}\"\n",
                self.s("arc_endpoint"),
                self.s("arc_token_dir")
            ),
            other => panic!("unknown method {other}"),
        };
        format!(
            "[output]\nplugin = \"azure\"\nendpoint = \"{}\"\ndcr_immutable_id = \"{}\"\nstream = \"{SYSLOG_STREAM}\"\nca_file = \"{}\"\n{extra}\n[output.auth]\nmethod = \"{method}\"\n{auth}",
            self.s("endpoint"),
            self.s("dcr_immutable_id"),
            self.s("ca_file"),
        )
    }

    /// Waits until `stream` holds at least `n` records.
    pub fn wait_for(&self, stream: &str, n: usize, timeout: Duration) -> bool {
        wait_until(timeout, || {
            self.stats()["records"][stream].as_u64().unwrap_or(0) as usize >= n
        })
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An agent config: a TCP listener on `port` and the given `[output]` tables.
pub fn azure_config(plugin_dir: &Path, port: u16, output: &str) -> String {
    format!(
        "state_dir = \"state\"\nshutdown_timeout_secs = 3\nplugin_dir = \"{}\"\n[[listen]]\naddress = \"tcp://127.0.0.1:{port}\"\ninput = \"syslog\"\ntimezone = \"UTC\"\n{output}",
        plugin_dir.display()
    )
}
