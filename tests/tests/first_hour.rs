//! A new operator's first hour: the README's run command, and every mistake in a
//! configuration answered with the file, the line, the section, the key and what
//! to do, through the real `syslane` binary.

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use syslane_tests::*;

/// `syslane check-config --offline --config FILE`: (success, stdout + stderr).
fn check(config: &Path) -> (bool, String) {
    let (ok, out, err) = syslane(&[
        "check-config",
        "--offline",
        "--config",
        config.to_str().unwrap(),
    ]);
    (ok, format!("{out}{err}"))
}

/// A directory with a config built from `body` (after state_dir and plugin_dir).
fn config_file(dir: &Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("syslane.toml");
    std::fs::write(
        &path,
        format!(
            "state_dir = \"state\"\nplugin_dir = \"{}\"\n{body}",
            build_dir().display()
        ),
    )
    .unwrap();
    path
}

const LISTEN: &str = "[[listen]]\naddress = \"udp://127.0.0.1:25224\"\ninput = \"syslog\"\n";
const OUTPUT: &str = "[output]\nplugin = \"file\"\npath = \"o.jsonl\"\n";

#[test]
fn without_config_and_without_the_packaged_file_it_says_how_to_start() {
    assert!(
        !Path::new("/etc/syslane/syslane.toml").exists(),
        "/etc/syslane/syslane.toml exists on this machine (a package was installed?): this test needs it absent; remove it"
    );
    for command in ["run", "check-config", "stats"] {
        let (ok, _, err) = syslane(&[command]);
        assert!(!ok, "{command}");
        assert!(
            err.contains("/etc/syslane/syslane.toml does not exist")
                && err.contains("--config FILE")
                && err.contains("--config config/local.toml")
                && err.contains("--embedded-config"),
            "{command}: {err}"
        );
    }
}

#[test]
fn the_readme_run_command_works_on_the_embedded_default() {
    // README: `./target/release/syslane run --embedded-config`, then logger to
    // 25224 and data/records.jsonl in the current directory.
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = {
        let out = Command::new(agent_binary())
            .args(["check-config", "--offline", "--embedded-config"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    assert!(ok, "{out}{err}");
    assert!(
        out.starts_with("(embedded default): OK")
            && out.contains("listen tcp://127.0.0.1:25224 -> syslog")
            && out.contains("listen udp://127.0.0.1:25226 -> cef"),
        "{out}"
    );
    let mut child = Command::new(agent_binary())
        .args(["run", "--embedded-config"])
        .current_dir(dir.path())
        .env("SYSLANE_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let agent_pid = child.id();
    let stderr = child.stderr.take().unwrap();
    let logs = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = std::sync::Arc::clone(&logs);
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            sink.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    let ready = wait_until(Duration::from_secs(20), || {
        logs.lock().unwrap().contains("syslane ready")
    });
    let records = dir.path().join("data/records.jsonl");
    if ready {
        let status = Command::new(tool("logger"))
            .args([
                "-n",
                "127.0.0.1",
                "-P",
                "25224",
                "--rfc5424",
                "hello from the README",
            ])
            .status()
            .unwrap();
        assert!(status.success());
    }
    let arrived = ready
        && wait_until(Duration::from_secs(20), || {
            read_records(&records)
                .iter()
                .any(|r| r["SyslogMessage"] == "hello from the README")
        });
    Command::new(tool("kill"))
        .args(["-TERM", &agent_pid.to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let logs = logs.lock().unwrap().clone();
    assert!(ready && arrived, "ready={ready} arrived={arrived}:\n{logs}");
    assert!(status.success(), "{logs}");
    assert!(dir.path().join("data/state/journal").is_dir());
}

#[test]
fn a_plugin_config_error_names_the_drop_in_line_section_key_and_valid_keys() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &format!("{LISTEN}{OUTPUT}"));
    std::fs::create_dir(dir.path().join("conf.d")).unwrap();
    let drop_in = dir.path().join("conf.d/50-output.toml");
    std::fs::write(
        &drop_in,
        "# a local copy\n[output]\npth = \"other.jsonl\"\n",
    )
    .unwrap();
    let (ok, text) = check(&config);
    assert!(!ok);
    assert!(
        text.contains(&format!(
            "{}: line 3: [output] (file) pth: unknown key `pth` (did you mean `path`?); the valid keys are plugin, path, fsync, max_bytes, keep",
            drop_in.display()
        )),
        "{text}"
    );
    assert!(!text.contains("column"), "{text}");

    std::fs::remove_file(&drop_in).unwrap();
    let config = config_file(
        dir.path(),
        &format!("{LISTEN}[[filter]]\nplugin = \"select\"\n\n[[filter]]\nplugin = \"select\"\nmin_severty = \"info\"\n{OUTPUT}"),
    );
    let (ok, text) = check(&config);
    assert!(
        !ok && text.contains(&format!(
            "{}: line 11: [[filter]] 2 (select) min_severty: unknown key `min_severty` (did you mean `min_severity`?); the valid keys are plugin, min_severity,",
            config.display()
        )),
        "{text}"
    );

    let config = config_file(
        dir.path(),
        "[[listen]]\naddress = \"udp://127.0.0.1:25224\"\ninput = \"syslog\"\ntimezone = \"Mars/Olympus\"\n[output]\nplugin = \"file\"\npath = \"o.jsonl\"\n",
    );
    let (ok, text) = check(&config);
    assert!(
        !ok && text.contains("[[listen]] 1 (syslog)") && text.contains("Mars/Olympus"),
        "{text}"
    );
}

#[test]
fn a_missing_plugin_dir_gets_an_example() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("syslane.toml");
    std::fs::write(&path, format!("state_dir = \"state\"\n{LISTEN}{OUTPUT}")).unwrap();
    let (ok, text) = check(&path);
    assert!(!ok);
    assert!(
        text.contains(&format!(
            "{}: plugin_dir: missing key `plugin_dir`; add the directory holding the plugins, such as plugin_dir = \"/usr/lib/syslane/plugins\"",
            path.display()
        )),
        "{text}"
    );
    assert!(!text.contains("line 1"), "{text}");
}

#[test]
fn a_misspelled_address_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(
        dir.path(),
        &format!("{LISTEN}\n[[listen]]\nadress = \"tcp://127.0.0.1:25224\"\ninput = \"syslog\"\n{OUTPUT}"),
    );
    let (ok, text) = check(&config);
    assert!(
        !ok && text.contains(&format!(
            "{}: line 8: [[listen]] 2 adress: unknown key `adress` (did you mean `address`?)",
            config.display()
        )),
        "{text}"
    );
}

#[test]
fn a_plugin_of_the_wrong_kind_is_named_with_its_article() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(
        dir.path(),
        "[[listen]]\naddress = \"udp://127.0.0.1:25224\"\ninput = \"select\"\n[output]\nplugin = \"file\"\npath = \"o.jsonl\"\n",
    );
    let (ok, text) = check(&config);
    assert!(
        !ok && text.contains("[[listen]] 1 (select)")
            && text.contains("plugin `select` is a filter plugin, but the configuration uses it as an input (decoder)"),
        "{text}"
    );
    let config = config_file(
        dir.path(),
        &format!("{LISTEN}[output]\nplugin = \"syslog\"\n"),
    );
    let (ok, text) = check(&config);
    assert!(
        !ok && text
            .contains("is an input (decoder) plugin, but the configuration uses it as an output"),
        "{text}"
    );
}

#[test]
fn a_state_dir_that_is_a_file_is_not_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("state"), "not a directory").unwrap();
    let config = config_file(dir.path(), &format!("{LISTEN}{OUTPUT}"));
    for command in ["check-config", "run"] {
        let (ok, _, err) = syslane(&[command, "--config", config.to_str().unwrap()]);
        assert!(
            !ok && err.contains(&format!(
                "line 1: state_dir: {} is not a directory; point state_dir at a directory (it is created when missing)",
                dir.path().join("state").display()
            )),
            "{command}: {err}"
        );
        assert!(!err.contains("File exists"), "{err}");
    }
}

#[test]
fn port_zero_logs_the_port_the_system_chose() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let agent = Agent::start(
        dir.path(),
        &config_with(
            &build_dir(),
            "[[listen]]\naddress = \"tcp://127.0.0.1:0\"\ninput = \"syslog\"\n",
            &out,
        ),
    );
    agent.expect_log("listening on the port the system chose", 10);
    let logs = agent.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("the port the system chose"))
        .unwrap();
    let port: u16 = line
        .split("address=tcp://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no bound address in {line}"));
    assert_ne!(port, 0, "{line}");
    assert!(line.contains("configured=tcp://127.0.0.1:0"), "{line}");
    send_tcp_lf(port, ["<14>1 - h app - - - to the real port".to_string()]);
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) == 1));
    agent.stop();
}

#[test]
fn a_port_out_of_range_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(
        dir.path(),
        &format!("{}{OUTPUT}", LISTEN.replace("25224", "99999")),
    );
    let (ok, text) = check(&config);
    assert!(
        !ok && text.contains(&format!(
            "{}: line 4: [[listen]] 1 address: port 99999 is out of range; use a port from 1 to 65535",
            config.display()
        )),
        "{text}"
    );
    assert!(!text.contains("not an IP address"), "{text}");
}

#[test]
fn control_characters_from_the_file_are_escaped_on_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(
        dir.path(),
        &format!(
            "{}{OUTPUT}",
            LISTEN.replace("udp://127.0.0.1:25224", "udp://\\u001b[2J\\u0007evil:1")
        ),
    );
    let (ok, text) = check(&config);
    assert!(!ok);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    assert!(text.contains("\\u{1b}[2J\\u{7}evil"), "{text}");

    // A configuration that is valid but names paths with control characters:
    // the summary of check-config escapes them too.
    let config = config_file(dir.path(), &format!("{LISTEN}{OUTPUT}"));
    std::fs::write(
        &config,
        std::fs::read_to_string(&config).unwrap().replace(
            "state_dir = \"state\"",
            "state_dir = \"st\\u001b]0;title\\u0007ate\"",
        ),
    )
    .unwrap();
    let (ok, text) = check(&config);
    assert!(ok, "{text}");
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    assert!(text.contains("st\\u{1b}]0;title\\u{7}ate"), "{text}");
}

#[test]
fn stats_shows_the_outputs_last_error() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let agent = Agent::start(
        dir.path(),
        &format!(
            "shutdown_timeout_secs = 1\n{}",
            config_text(&build_dir(), port, "", Path::new("/dev/full"))
        ),
    );
    send_tcp_lf(port, ["<14>1 - h app - - - cannot be written".to_string()]);
    agent.expect_log("output did not take the batch", 10);
    let config = dir.path().join("syslane.toml");
    let (ok, summary, err) = syslane(&[
        "stats",
        "--interval",
        "0.2",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let line = summary
        .lines()
        .find(|l| l.trim_start().starts_with("output file"))
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(
        line.contains("last error")
            && line.contains("(retry):")
            && line.contains("No space left on device"),
        "{summary}"
    );
    let text = stats_of(dir.path());
    assert!(
        text.contains("syslane_output_last_error_info{output=\"file\",outcome=\"retry\",reason=\""),
        "{text}"
    );
    agent.stop();
}
