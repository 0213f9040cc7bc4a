//! The azure output through a real proxy (tinyproxy from Debian, started here on
//! loopback with basic auth), and no secret in any log line, error or check output
//! of succeeding and failing runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use syslane_tests::emulator::*;
use syslane_tests::*;

/// tinyproxy's config only takes user names and passwords of `[-a-z0-9._]`; the
/// agent's config spells this one fully percent-encoded, so only a decoder that
/// works gets in. (`@`, `:`, `/` and `%` are covered by the parser's unit tests.)
const PROXY_PASSWORD: &str = "Pa.ss-w_rd";
const PROXY_PASSWORD_ENCODED: &str = "Pa%2Ess%2Dw%5Frd";

struct Tinyproxy {
    child: Child,
    log: std::path::PathBuf,
}

impl Tinyproxy {
    fn start(dir: &Path, port: u16, allowed_port: u16) -> Tinyproxy {
        let log = dir.join("tinyproxy.log");
        let conf = dir.join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Connect\nPidFile \"{}\"\nMaxClients 50\nAllow 127.0.0.1\nBasicAuth syslane {PROXY_PASSWORD}\nConnectPort {allowed_port}\n",
                log.display(),
                dir.join("tinyproxy.pid").display()
            ),
        )
        .unwrap();
        let child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tinyproxy is installed (Debian package tinyproxy)");
        assert!(
            wait_until(Duration::from_secs(10), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            }),
            "tinyproxy did not start"
        );
        Tinyproxy { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory of its own and a free port for one agent run.
fn scenario(dir: &Path, name: &str) -> (std::path::PathBuf, u16) {
    let run = dir.join(name);
    std::fs::create_dir_all(&run).unwrap();
    (run, free_port())
}

fn assert_no_secret(text: &str, secrets: &[String], context: &str) {
    for s in secrets {
        assert!(
            !text.contains(s.as_str()),
            "{context}: a secret appears in the output ({}…):\n{text}",
            &s[..s.len().min(6)]
        );
    }
}

#[test]
fn through_a_real_proxy_with_basic_auth_and_no_secret_in_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_builtins(dir.path());
    let emu = Emulator::start(dir.path(), &[]);
    let proxy_port = free_port();
    let https_port: u16 = emu.s("https_port").parse().unwrap();
    let proxy = Tinyproxy::start(dir.path(), proxy_port, https_port);
    let mut outputs: Vec<(String, String)> = Vec::new();

    // 1. Through the proxy, with the right password: everything arrives, tunnelled.
    let (run, port) = scenario(dir.path(), "good");
    let output = emu.output_toml(
        "client_secret",
        &format!("proxy = \"https://syslane:{PROXY_PASSWORD_ENCODED}@127.0.0.1:{proxy_port}\""),
    );
    let config = azure_config(&plugins, port, &output);
    std::fs::write(run.join("syslane.toml"), &config).unwrap();
    let check = syslane(&[
        "--log-level",
        "trace",
        "check-config",
        "--config",
        run.join("syslane.toml").to_str().unwrap(),
    ]);
    assert!(check.0, "{}{}", check.1, check.2);
    outputs.push(("check-config".into(), format!("{}{}", check.1, check.2)));
    let agent = Agent::start_logging(&run, &config, "trace");
    send_tcp_lf(
        port,
        (0..500).map(|i| format!("<14>Nov 25 10:00:00 h app: proxied {i}")),
    );
    assert!(
        emu.wait_for(SYSLOG_STREAM, 500, Duration::from_secs(30)),
        "{}\n{}",
        agent.logs(),
        proxy.log()
    );
    let log = proxy.log();
    assert!(
        log.contains("CONNECT") && log.contains(&format!("127.0.0.1:{https_port}")),
        "the agent tunnelled through the proxy: {log}"
    );
    outputs.push(("agent through the proxy".into(), agent.logs()));
    agent.stop();

    // 2. A wrong proxy password: nothing gets through, the reason is logged.
    let (run, port) = scenario(dir.path(), "bad-proxy");
    let output = emu.output_toml(
        "client_secret",
        &format!(
            "proxy = \"http://syslane:wrong-{PROXY_PASSWORD_ENCODED}@127.0.0.1:{proxy_port}\""
        ),
    );
    let agent = Agent::start_logging(&run, &azure_config(&plugins, port, &output), "trace");
    send_tcp_lf(port, ["<14>Nov 25 10:00:00 h app: blocked".to_string()]);
    agent.expect_log("the proxy refused", 20);
    outputs.push(("agent with a wrong proxy password".into(), agent.logs()));
    agent.stop();

    // 3. A wrong client secret: Entra's answer is shown, the secret is not.
    let (run, port) = scenario(dir.path(), "bad-secret");
    let wrong_secret = "emu~this-secret-is-wrong-0123456789".to_string();
    let secret_file = run.join("wrong-secret");
    std::fs::write(&secret_file, &wrong_secret).unwrap();
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let output = emu
        .output_toml("client_secret", "")
        .replace(&emu.s("client_secret_file"), secret_file.to_str().unwrap());
    let agent = Agent::start_logging(&run, &azure_config(&plugins, port, &output), "trace");
    send_tcp_lf(port, ["<14>Nov 25 10:00:00 h app: no token".to_string()]);
    agent.expect_log("AADSTS7000215", 20);
    let check = syslane(&[
        "check-config",
        "--config",
        run.join("syslane.toml").to_str().unwrap(),
    ]);
    assert!(
        !check.0 && check.2.contains("invalid_client"),
        "{}",
        check.2
    );
    outputs.push(("check-config with a wrong secret".into(), check.2));
    outputs.push(("agent with a wrong secret".into(), agent.logs()));
    agent.stop();

    // 4. The certificate method, with a 401 along the way.
    let (run, port) = scenario(dir.path(), "cert");
    let agent = Agent::start_logging(
        &run,
        &azure_config(&plugins, port, &emu.output_toml("client_certificate", "")),
        "trace",
    );
    emu.schedule(serde_json::json!([{"revoke_tokens": true}]));
    send_tcp_lf(
        port,
        (0..10).map(|i| format!("<14>Nov 25 10:00:00 h app: cert {i}")),
    );
    assert!(emu.wait_for(SYSLOG_STREAM, 510, Duration::from_secs(30)));
    outputs.push(("agent with a certificate".into(), agent.logs()));
    agent.stop();

    // Every secret in play.
    let mut secrets = vec![
        std::fs::read_to_string(emu.s("client_secret_file")).unwrap(),
        wrong_secret,
        PROXY_PASSWORD.to_string(),
        PROXY_PASSWORD_ENCODED.to_string(),
    ];
    let key = std::fs::read_to_string(emu.s("private_key_file")).unwrap();
    secrets.extend(
        key.lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 20)
            .map(String::from),
    );
    let tokens = emu.tokens();
    assert!(tokens.len() >= 3, "{tokens:?}");
    secrets.extend(tokens);
    for (context, text) in &outputs {
        assert!(!text.is_empty(), "{context} produced output to search");
        assert_no_secret(text, &secrets, context);
    }
}
