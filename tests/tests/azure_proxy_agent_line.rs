//! The Log Analytics agent's proxy line, as its users have it: the documented
//! example `https://user01:password@proxy01.contoso.com:30443` (pointed at a
//! tinyproxy on loopback that demands Basic authentication), a host behind the
//! Log Analytics gateway (`-p https://<gateway>:<port>`: a plain CONNECT proxy
//! without authentication, with and without the dummy credentials the old agent
//! asked for), read through `proxy_file` exactly as the old agent's `proxy.conf`
//! holds it (`omsadmin.sh` writes it with `echo -n`: no trailing newline, mode
//! 0600) and as written by hand (with one). `https://` there names the traffic, not
//! TLS to the proxy: every run must tunnel through the plain proxy.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use syslane_tests::emulator::*;
use syslane_tests::*;

/// Writes `content` as the proxy file of a run, mode 0600.
fn proxy_conf(run: &Path, content: &str) -> PathBuf {
    let path = run.join("proxy.conf");
    std::fs::write(&path, content).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// Starts an agent whose output reads `proxy_file`, sends `n` records tagged
/// `tag`, and asserts they all reach the emulator (`total` records in all so far)
/// and that the proxy logged a new CONNECT to the emulator.
fn ship_through(
    dir: &Path,
    emu: &Emulator,
    plugins: &Path,
    proxy: &Tinyproxy,
    name: &str,
    content: &str,
    total: usize,
) {
    let run = dir.join(name);
    std::fs::create_dir_all(&run).unwrap();
    let port = free_port();
    let file = proxy_conf(&run, content);
    let output = emu.output_toml(
        "client_secret",
        &format!("proxy_file = \"{}\"", file.display()),
    );
    let connects_before = proxy.log().matches("CONNECT").count();
    let agent = Agent::start_logging(&run, &azure_config(plugins, port, &output), "debug");
    send_tcp_lf(
        port,
        (0..50).map(|i| format!("<14>Nov 25 10:00:00 h app: {name} {i}")),
    );
    assert!(
        emu.wait_for(SYSLOG_STREAM, total, Duration::from_secs(30)),
        "{name}: records did not arrive through the proxy\n{}\n{}",
        agent.logs(),
        proxy.log()
    );
    let target = format!("127.0.0.1:{}", emu.s("https_port"));
    let log = proxy.log();
    assert!(
        log.matches("CONNECT").count() > connects_before && log.contains(&target),
        "{name}: the agent tunnelled through the plain proxy: {log}"
    );
    assert!(
        !agent.logs().contains("TLS failed"),
        "{name}: {}",
        agent.logs()
    );
    agent.stop();
}

#[test]
fn the_old_agents_proxy_line_works_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_builtins(dir.path());
    let emu = Emulator::start(dir.path(), &[]);
    let https_port: u16 = emu.s("https_port").parse().unwrap();

    // The documented example's credentials, demanded by the proxy.
    let auth_port = free_port();
    let auth_proxy = Tinyproxy::start(
        dir.path(),
        auth_port,
        https_port,
        Some(("user01", "password")),
    );
    let example = format!("https://user01:password@127.0.0.1:{auth_port}");
    // As omsadmin.sh writes proxy.conf: `echo -n`, no newline.
    ship_through(
        dir.path(),
        &emu,
        &plugins,
        &auth_proxy,
        "omsadmin-written",
        &example,
        50,
    );
    // Written by hand, with a newline.
    ship_through(
        dir.path(),
        &emu,
        &plugins,
        &auth_proxy,
        "hand-written",
        &format!("{example}\n"),
        100,
    );

    // A gateway-like proxy: plain CONNECT, no authentication.
    let gw_port = free_port();
    let gateway = Tinyproxy::start(dir.path(), gw_port, https_port, None);
    ship_through(
        dir.path(),
        &emu,
        &plugins,
        &gateway,
        "gateway",
        &format!("https://127.0.0.1:{gw_port}"),
        150,
    );
    // The old agent wanted a user and password even without authentication.
    ship_through(
        dir.path(),
        &emu,
        &plugins,
        &gateway,
        "gateway-dummy-credentials",
        &format!("https://dummy:dummy@127.0.0.1:{gw_port}"),
        200,
    );

    // check-config names the hop for what it is.
    let run = dir.path().join("check");
    std::fs::create_dir_all(&run).unwrap();
    let file = proxy_conf(&run, &example);
    let config = run.join("syslane.toml");
    std::fs::write(
        &config,
        azure_config(
            &plugins,
            free_port(),
            &emu.output_toml(
                "client_secret",
                &format!("proxy_file = \"{}\"", file.display()),
            ),
        ),
    )
    .unwrap();
    let (ok, out, err) = syslane(&["check-config", "--config", config.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(
        format!("{out}{err}").contains(&format!(
            "through the proxy 127.0.0.1:{auth_port} (plain TCP to the proxy; proxy_file"
        )),
        "{out}{err}"
    );
    assert!(!format!("{out}{err}").contains("password@"), "{out}{err}");
}
