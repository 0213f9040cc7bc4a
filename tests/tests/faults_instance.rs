//! Fault injection: a second agent (or a dead-letter replay) on a state_dir an
//! agent runs on, `kill -9`, and a careless umask. One agent per state_dir: the
//! second is refused at once with the directory and the holder's PID, the first
//! keeps its journal, socket and data; a crash releases the lock. Files in
//! state_dir are private whatever the umask.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use syslane_tests::*;

fn relp_messages(from: usize, n: usize) -> Vec<String> {
    (from..from + n)
        .map(|i| format!("<13>1 - h a - - - relp-{i:05}"))
        .collect()
}

fn delivered(out: &Path) -> Vec<usize> {
    let mut n: Vec<usize> = read_complete_records(out)
        .iter()
        .filter_map(|r| {
            r["SyslogMessage"]
                .as_str()?
                .strip_prefix("relp-")?
                .parse()
                .ok()
        })
        .collect();
    n.sort_unstable();
    n.dedup();
    n
}

#[test]
fn a_second_agent_on_the_same_state_dir_is_refused_and_the_first_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_reject_output(dir.path());
    let port = free_port();
    // An output that cannot write yet, so acknowledged records stay in the journal.
    let out_dir = dir.path().join("later");
    let out = out_dir.join("out.jsonl");
    let config = |port: u16| {
        format!(
            "state_dir = \"state\"\nplugin_dir = \"{}\"\n[[listen]]\naddress = \"relp://127.0.0.1:{port}\"\ninput = \"syslog\"\n\
             [output]\nplugin = \"example-reject\"\npath = \"{}\"\nreject = \"never\"\n",
            plugins.display(),
            out.display()
        )
    };
    let text = config(port);
    let first = Agent::start(dir.path(), &text);
    let sent = relp_send(port, &relp_messages(0, 100));
    assert_eq!(sent.acked.len(), 100, "{sent:?}");

    // The second: its own ports and config file, the same state_dir.
    let second_config = dir.path().join("second.toml");
    std::fs::write(&second_config, config(free_port())).unwrap();
    let mut second = Agent::spawn(&["run", "--config", second_config.to_str().unwrap()]);
    let status = second
        .wait_exit(10)
        .unwrap_or_else(|| panic!("the second agent still runs:\n{}", second.logs()));
    assert!(!status.success());
    let state = dir.path().join("state");
    let err = second.logs();
    assert!(
        err.contains(&format!("state_dir {} is in use", state.display()))
            && err.contains(&format!("pid {}", first.pid())),
        "{err}"
    );
    // The first still answers on its socket and still has its journal.
    assert!(
        stats_of(dir.path()).contains("syslane_records_journaled_total 100\n"),
        "{}",
        stats_of(dir.path())
    );

    // Anything else that writes there is refused with the same message.
    let (ok, _, err) = syslane(&[
        "dead-letter",
        "replay",
        "--config",
        dir.path().join("syslane.toml").to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains(&format!("state_dir {} is in use", state.display()))
            && err.contains(&format!("pid {}", first.pid()))
            && err.contains("systemctl stop syslane"),
        "{err}"
    );

    let more = relp_send(port, &relp_messages(100, 100));
    assert_eq!(more.acked.len(), 100, "{more:?}");
    // A crash releases the lock: the next start takes over and delivers all.
    first.kill9();
    std::fs::create_dir_all(&out_dir).unwrap();
    let again = Agent::start(dir.path(), &text);
    assert!(
        wait_until(Duration::from_secs(20), || delivered(&out).len() >= 200),
        "{} of 200:\n{}",
        delivered(&out).len(),
        again.logs()
    );
    let (status, logs) = again.stop();
    assert!(status.success(), "{logs}");
    assert_eq!(
        delivered(&out),
        (0..200).collect::<Vec<_>>(),
        "every message answered 200 OK arrives"
    );
}

#[test]
fn state_dir_files_are_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_reject_output(dir.path());
    let port = free_port();
    let out = dir.path().join("out.jsonl");
    let config = dir.path().join("syslane.toml");
    std::fs::write(
        &config,
        reject_output_config(&plugins, port, &out, "poison"),
    )
    .unwrap();
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("umask 000; exec \"$0\" run --config \"$1\"")
        .arg(agent_binary())
        .arg(&config);
    let agent = Agent::from_command(command);
    agent.expect_log("syslane ready", 20);
    // One batch each: the output rejects a whole batch holding "poison".
    let state = dir.path().join("state");
    let letters = state.join("dead-letter/dead-letter.jsonl");
    send_tcp_lf(port, ["<13>1 - h a - - - poison".to_string()]);
    assert!(wait_until(Duration::from_secs(20), || count_lines(
        &letters
    ) == 1));
    send_tcp_lf(port, ["<13>1 - h a - - - fine".to_string()]);
    assert!(wait_until(Duration::from_secs(20), || count_lines(&out) == 1));
    // The acknowledged position is written within a second of an acknowledgement.
    assert!(wait_until(Duration::from_secs(20), || state
        .join("journal/ack")
        .exists()));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut checked = vec![
        (state.clone(), 0o700),
        (state.join("journal"), 0o700),
        (state.join("dead-letter"), 0o700),
        (letters.clone(), 0o600),
        (state.join("syslane.lock"), 0o600),
        (state.join("syslane.sock"), 0o600),
    ];
    for f in std::fs::read_dir(state.join("journal")).unwrap() {
        checked.push((f.unwrap().path(), 0o600));
    }
    assert!(checked.len() > 7, "segments and ack: {checked:?}");
    for (path, want) in &checked {
        assert_eq!(mode(path), *want, "{} is {:o}", path.display(), mode(path));
    }
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
}
