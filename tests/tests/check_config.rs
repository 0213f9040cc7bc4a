//! `check-config` checks what `run` would meet, and changes nothing: the state
//! directory, every listen address (in use, and by whom), plugin configs from
//! drop-ins named by their file, and conf.d entries that are not files.

use std::path::Path;
use syslane_tests::*;

fn check(config: &Path) -> (bool, String, String) {
    syslane(&[
        "check-config",
        "--offline",
        "--config",
        config.to_str().unwrap(),
    ])
}

#[test]
fn check_config_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("syslane.toml");
    let out = dir.path().join("out/records.jsonl");
    std::fs::write(&config, config_text(&build_dir(), free_port(), "", &out)).unwrap();
    let (ok, text, err) = check(&config);
    assert!(ok, "{text}{err}");
    assert!(text.contains("state_dir "), "{text}");
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    left.sort();
    assert_eq!(
        left,
        vec!["syslane.toml".to_string()],
        "neither state_dir nor the output's file (or its directory) was created"
    );
}

#[test]
fn a_state_dir_that_run_could_not_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("syslane.toml");
    let text = config_text(&build_dir(), free_port(), "", &dir.path().join("o.jsonl"));
    std::fs::write(&config, &text).unwrap();

    // A file where the directory should be.
    std::fs::write(dir.path().join("state"), "").unwrap();
    let (ok, _, err) = check(&config);
    assert!(
        !ok && err.contains("state_dir") && err.contains("is not a directory"),
        "{err}"
    );
    std::fs::remove_file(dir.path().join("state")).unwrap();

    // A directory nobody may write (a read-only file system stops root too).
    let ro = dir.path().join("ro");
    let _mount = Tmpfs::mount(&ro, "1m");
    assert!(std::process::Command::new(tool("mount"))
        .args(["-o", "remount,ro"])
        .arg(&ro)
        .status()
        .unwrap()
        .success());
    std::fs::write(
        &config,
        text.replace("state_dir = \"state\"", "state_dir = \"ro\""),
    )
    .unwrap();
    let (ok, _, err) = check(&config);
    assert!(
        !ok && err.contains("read-only file system") && !err.contains("chown"),
        "a read-only file system is named as such, not as a matter of owners: {err}"
    );
    std::fs::write(
        &config,
        text.replace("state_dir = \"state\"", "state_dir = \"ro/sub/state\""),
    )
    .unwrap();
    let (ok, _, err) = check(&config);
    assert!(
        !ok && err.contains("does not exist and cannot be created"),
        "{err}"
    );
}

/// Runs the agent binary with `args` as uid/gid 65534 (nobody), as the packaged
/// service runs as its own user.
fn as_nobody(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(tool("setpriv"))
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(agent_binary())
        .args(args)
        .output()
        .unwrap();
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
fn a_journal_file_the_agents_user_cannot_write_is_named_by_check_config_and_run() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.path().join("syslane.toml");
    let text = config_text(&build_dir(), free_port(), "", &dir.path().join("o.jsonl"));
    std::fs::write(&config, &text).unwrap();
    // The agent's user owns state_dir and the journal directory; one segment was
    // left behind by root (an agent started by hand as root, say).
    let journal = dir.path().join("state/journal");
    std::fs::create_dir_all(&journal).unwrap();
    let left = journal.join("00000000000000000003.seg");
    std::fs::write(&left, b"").unwrap();
    std::fs::set_permissions(&left, std::fs::Permissions::from_mode(0o600)).unwrap();
    for d in [dir.path().join("state"), journal.clone()] {
        std::os::unix::fs::chown(&d, Some(65534), Some(65534)).unwrap();
    }
    let config = config.to_str().unwrap();
    let (ok, said) = as_nobody(&["check-config", "--offline", "--config", config]);
    assert!(
        !ok && said.contains(&left.display().to_string()) && said.contains("not writable by"),
        "check-config names the file: {said}"
    );
    assert!(
        said.contains("chown -R syslane:syslane"),
        "and the fix: {said}"
    );
    let (ok, said) = as_nobody(&["run", "--config", config]);
    assert!(
        !ok && said.contains(&left.display().to_string()),
        "run names the file too: {said}"
    );
}

#[test]
fn listen_addresses_are_bound_as_run_would() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("syslane.toml");
    let out = dir.path().join("o.jsonl");

    // In use by someone else: named, with the pid.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    std::fs::write(&config, config_text(&build_dir(), port, "", &out)).unwrap();
    let (ok, _, err) = check(&config);
    assert!(
        !ok && err.contains(&format!("tcp://127.0.0.1:{port} is in use by"))
            && err.contains(&format!("(pid {})", std::process::id())),
        "{err}"
    );
    drop(taken);

    // Not an address of this host.
    let text = config_text(&build_dir(), free_port(), "", &out)
        .replace("tcp://127.0.0.1", "tcp://192.0.2.77");
    std::fs::write(&config, text).unwrap();
    let (ok, _, err) = check(&config);
    assert!(
        !ok && err.contains("192.0.2.77 is not an address of this host"),
        "{err}"
    );

    // Held by the agent running on this state_dir: fine, and said.
    let port = free_port();
    let agent = Agent::start(dir.path(), &config_text(&build_dir(), port, "", &out));
    let (ok, text, err) = check(&config);
    assert!(ok, "{text}{err}");
    assert!(
        text.contains(&format!(
            "an agent runs on this state_dir (pid {})",
            agent.pid()
        )) && text.contains(&format!(
            "tcp://127.0.0.1:{port} is held by the running agent (pid {})",
            agent.pid()
        )),
        "{text}"
    );
    agent.stop();
}

#[test]
fn drop_ins_plugin_errors_name_their_file_and_odd_entries_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("syslane.toml");
    std::fs::write(
        &config,
        config_text(&build_dir(), free_port(), "", &dir.path().join("o.jsonl")),
    )
    .unwrap();
    let conf_d = dir.path().join("conf.d");
    std::fs::create_dir(&conf_d).unwrap();
    std::fs::create_dir(conf_d.join("10-a-directory.toml")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/x.toml", conf_d.join("20-dangling.toml")).unwrap();
    let (ok, text, err) = check(&config);
    assert!(ok, "{text}{err}");
    assert!(
        err.contains("10-a-directory.toml") && err.contains("it is a directory"),
        "{err}"
    );
    assert!(
        err.contains("20-dangling.toml") && err.contains("a dangling symbolic link"),
        "{err}"
    );

    let drop_in = conf_d.join("50-vendor.toml");
    std::fs::write(
        &drop_in,
        "[[filter]]\nplugin = \"select\"\nmin_severity = \"loud\"\n",
    )
    .unwrap();
    let (ok, _, err) = check(&config);
    assert!(!ok, "{err}");
    assert!(
        err.contains(&format!(
            "{}: line 1: [[filter]] 1 (select):",
            drop_in.display()
        )),
        "the plugin's complaint names the drop-in the section is in: {err}"
    );
}
