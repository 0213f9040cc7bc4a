//! The azure output through real proxies: tinyproxy from Debian (plain HTTP, Basic
//! auth) and the emulator's TLS-speaking proxy (`proxy_tls = true`, or `https://`
//! in `HTTPS_PROXY`), from `proxy_file` or from `HTTPS_PROXY` with `NO_PROXY`; and
//! no secret in any log line, error or check output of succeeding and failing runs.
//! The old agent's proxy line as written is in `azure_proxy_agent_line.rs`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;
use syslane_tests::emulator::*;
use syslane_tests::*;

/// tinyproxy's config only takes user names and passwords of `[-a-z0-9._]`; the
/// agent's config spells this one fully percent-encoded, so only a decoder that
/// works gets in. (`@`, `:`, `/` and `%` are covered by the parser's unit tests.)
const PROXY_PASSWORD: &str = "Pa.ss-w_rd";
const PROXY_PASSWORD_ENCODED: &str = "Pa%2Ess%2Dw%5Frd";

/// A proxy setting in a file only the agent may read, as `proxy_file` wants it.
fn proxy_file(run: &Path, setting: &str) -> std::path::PathBuf {
    let path = run.join("proxy.conf");
    std::fs::write(&path, format!("# the proxy\n{setting}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
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
    let proxy = Tinyproxy::start(
        dir.path(),
        proxy_port,
        https_port,
        Some(("syslane", PROXY_PASSWORD)),
    );
    let mut outputs: Vec<(String, String)> = Vec::new();

    // 1. Through the proxy, with the right password: everything arrives, tunnelled.
    let (run, port) = scenario(dir.path(), "good");
    let file = proxy_file(
        &run,
        &format!("http://syslane:{PROXY_PASSWORD_ENCODED}@127.0.0.1:{proxy_port}"),
    );
    let output = emu.output_toml(
        "client_secret",
        &format!("proxy_file = \"{}\"", file.display()),
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
    let file = proxy_file(
        &run,
        &format!("http://syslane:wrong-{PROXY_PASSWORD_ENCODED}@127.0.0.1:{proxy_port}"),
    );
    let output = emu.output_toml(
        "client_secret",
        &format!("proxy_file = \"{}\"", file.display()),
    );
    let agent = Agent::start_logging(&run, &azure_config(&plugins, port, &output), "trace");
    send_tcp_lf(port, ["<14>Nov 25 10:00:00 h app: blocked".to_string()]);
    agent.expect_log("proxy authentication failed", 20);
    assert!(!agent.logs().contains("401/401"), "{}", agent.logs());
    outputs.push(("agent with a wrong proxy password".into(), agent.logs()));
    agent.stop();

    // 2b. proxy_tls = true to a proxy that speaks plain HTTP: the fix is in the message.
    let (run, port) = scenario(dir.path(), "tls-to-plain");
    let file = proxy_file(
        &run,
        &format!("https://syslane:{PROXY_PASSWORD_ENCODED}@127.0.0.1:{proxy_port}"),
    );
    std::fs::write(
        run.join("syslane.toml"),
        azure_config(
            &plugins,
            port,
            &emu.output_toml(
                "client_secret",
                &format!("proxy_file = \"{}\"\nproxy_tls = true", file.display()),
            ),
        ),
    )
    .unwrap();
    let check = syslane(&[
        "check-config",
        "--config",
        run.join("syslane.toml").to_str().unwrap(),
    ]);
    assert!(
        !check.0 && check.2.contains("remove proxy_tls = true"),
        "{}",
        check.2
    );
    outputs.push((
        "check-config with proxy_tls to a plain proxy".into(),
        check.2,
    ));

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

/// `check-config` with extra environment variables (and no inherited proxy ones).
fn check_with_env(config: &Path, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = std::process::Command::new(agent_binary());
    cmd.args(["check-config", "--config", config.to_str().unwrap()]);
    for var in [
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.envs(env.iter().copied()).output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn through_an_https_proxy_from_proxy_file_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_builtins(dir.path());
    let emu = Emulator::start(dir.path(), &[]);
    let target = format!("127.0.0.1:{}", emu.s("https_port"));
    let setting = std::fs::read_to_string(emu.s("proxy_file"))
        .unwrap()
        .trim()
        .to_string();
    let password = setting
        .split_once("syslane:")
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(p, _)| p.to_string())
        .unwrap();
    let tunnels = || emu.stat(&["proxy_tunnels", target.as_str()]);
    let mut outputs: Vec<(String, String)> = Vec::new();

    // 1. proxy_file with proxy_tls: TLS to the proxy, then the tunnel.
    let (run, port) = scenario(dir.path(), "https-proxy");
    let output = emu.output_toml(
        "client_certificate",
        &format!("proxy_file = \"{}\"\nproxy_tls = true", emu.s("proxy_file")),
    );
    let agent = Agent::start_logging(&run, &azure_config(&plugins, port, &output), "trace");
    send_tcp_lf(
        port,
        (0..100).map(|i| format!("<14>Nov 25 10:00:00 h app: tls proxy {i}")),
    );
    assert!(
        emu.wait_for(SYSLOG_STREAM, 100, Duration::from_secs(30)),
        "{}\n{}",
        emu.stats(),
        agent.logs()
    );
    assert!(
        tunnels() >= 1,
        "token and records went through the proxy: {}",
        emu.stats()
    );
    outputs.push(("agent through the https proxy".into(), agent.logs()));
    agent.stop();

    // 2. A wrong password, inside TLS: the proxy's 407 is named for what it is.
    let (run, port) = scenario(dir.path(), "https-proxy-wrong");
    let file = proxy_file(&run, &setting.replace(&password, "not-the-password"));
    let config = run.join("syslane.toml");
    std::fs::write(
        &config,
        azure_config(
            &plugins,
            port,
            &emu.output_toml(
                "client_secret",
                &format!("proxy_file = \"{}\"\nproxy_tls = true", file.display()),
            ),
        ),
    )
    .unwrap();
    let (ok, out) = check_with_env(&config, &[]);
    assert!(!ok && out.contains("proxy authentication failed"), "{out}");
    assert!(emu.stat(&["proxy_refused", "407"]) >= 1, "{}", emu.stats());
    outputs.push(("check-config with a wrong https proxy password".into(), out));

    // 3. No proxy in the configuration: HTTPS_PROXY is used; NO_PROXY exempts.
    let (run, port) = scenario(dir.path(), "env");
    let config = run.join("syslane.toml");
    std::fs::write(
        &config,
        azure_config(&plugins, port, &emu.output_toml("client_secret", "")),
    )
    .unwrap();
    let before = tunnels();
    let (ok, out) = check_with_env(&config, &[("HTTPS_PROXY", &setting)]);
    assert!(ok, "{out}");
    assert!(
        out.contains("the endpoint is reached through the proxy 127.0.0.1:")
            && out.contains("(TLS to the proxy; HTTPS_PROXY)"),
        "{out}"
    );
    assert!(tunnels() > before, "{}", emu.stats());
    outputs.push(("check-config with HTTPS_PROXY".into(), out));
    let before = tunnels();
    let (ok, out) = check_with_env(
        &config,
        &[
            ("https_proxy", &setting),
            ("NO_PROXY", "localhost,127.0.0.1"),
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("the endpoint is reached directly"), "{out}");
    assert_eq!(
        tunnels(),
        before,
        "NO_PROXY sent it direct: {}",
        emu.stats()
    );

    // 4. A password written inline in the configuration is refused, not shown.
    let (run, port) = scenario(dir.path(), "inline");
    let config = run.join("syslane.toml");
    std::fs::write(
        &config,
        azure_config(
            &plugins,
            port,
            &emu.output_toml("client_secret", &format!("proxy = \"{setting}\"")),
        ),
    )
    .unwrap();
    let (ok, _, err) = syslane(&[
        "check-config",
        "--offline",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("proxy_file") && err.contains("0600"),
        "{err}"
    );
    outputs.push(("check-config with an inline proxy password".into(), err));

    let mut secrets = vec![
        password,
        std::fs::read_to_string(emu.s("client_secret_file")).unwrap(),
    ];
    secrets.extend(emu.tokens());
    for (context, text) in &outputs {
        assert!(!text.is_empty(), "{context} produced output to search");
        assert_no_secret(text, &secrets, context);
    }
}
