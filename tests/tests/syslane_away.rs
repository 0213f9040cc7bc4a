//! What the shipped rsyslog drop-in costs the host while syslane is away
//! (stopped, removed but rsyslog not restarted, or never installed): a real
//! rsyslogd in the foreground with its own configuration, a local file action
//! as a host's own logging, and the shipped drop-in (its queue scaled down so
//! that it fills in a test) forwarding to ports where nothing listens. Local
//! logging must keep up, what the queue held must arrive once syslane is back,
//! and what rsyslog saved at shutdown must arrive after its next start.

use std::path::Path;
use std::time::{Duration, Instant};
use syslane_tests::*;

struct Setup {
    daemon_in: u16,
    syslog: u16,
    cef: u16,
}

/// The shipped rsyslog drop-in with the test's ports and spool, its queue
/// scaled down (300 messages in memory, 100 KiB on disk) and retried every
/// second instead of every 5.
fn scaled_drop_in(s: &Setup, spool: &Path) -> String {
    let text = shipped_drop_in("rsyslog.d/95-syslane.conf", s.syslog, s.cef, spool);
    for bound in [
        "queue.timeoutEnqueue=\"0\"",
        "queue.size=\"100000\"",
        "queue.maxDiskSpace=\"256m\"",
        "action.resumeInterval=\"5\"",
    ] {
        assert!(
            text.contains(bound),
            "the shipped drop-in lost {bound}:\n{text}"
        );
    }
    text.replace("queue.size=\"100000\"", "queue.size=\"300\"")
        .replace(
            "queue.highWatermark=\"80000\"",
            "queue.highWatermark=\"200\"",
        )
        .replace("queue.lowWatermark=\"20000\"", "queue.lowWatermark=\"100\"")
        .replace("queue.maxDiskSpace=\"256m\"", "queue.maxDiskSpace=\"100k\"")
        .replace("action.resumeInterval=\"5\"", "action.resumeInterval=\"1\"")
}

/// rsyslogd with TCP in, every message to `local.log` (the host's own logging),
/// then the drop-in, as a host's rsyslog.conf and rsyslog.d/ order them.
fn rsyslog(dir: &Path, s: &Setup) -> Daemon {
    let spool = dir.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let drop_ins = dir.join("rsyslog.d");
    std::fs::create_dir_all(&drop_ins).unwrap();
    std::fs::write(drop_ins.join("95-syslane.conf"), scaled_drop_in(s, &spool)).unwrap();
    let daemon = Rsyslog::start(
        dir,
        &format!(
            "module(load=\"imtcp\")\ninput(type=\"imtcp\" port=\"{}\" address=\"127.0.0.1\")\n\
             *.* action(type=\"omfile\" file=\"{}\")\n\
             include(file=\"{}/*.conf\")\n",
            s.daemon_in,
            dir.join("local.log").display(),
            drop_ins.display()
        ),
    );
    let listening = wait_until(Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", s.daemon_in)).is_ok()
    });
    assert!(listening, "rsyslogd never listened:\n{}", daemon.logs());
    daemon
}

fn agent(dir: &Path, s: &Setup) -> Agent {
    let plugins = plugin_dir_with_builtins(dir);
    let listen = format!(
        "[[listen]]\naddress = \"tcp://127.0.0.1:{}\"\ninput = \"syslog\"\n\
         [[listen]]\naddress = \"tcp://127.0.0.1:{}\"\ninput = \"cef\"\n",
        s.syslog, s.cef
    );
    Agent::start(dir, &config_with(&plugins, &listen, &dir.join("out.jsonl")))
}

fn lines(tag: &str, n: usize) -> impl Iterator<Item = String> + '_ {
    (0..n).map(move |i| format!("<14>Dec  6 10:00:00 host app: {tag} {i} end"))
}

/// How many distinct `tag` messages the file holds.
fn count(path: &Path, tag: &str, n: usize) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    (0..n)
        .filter(|i| text.contains(&format!("{tag} {i} end")))
        .count()
}

#[test]
fn while_syslane_is_away_local_logging_keeps_up_and_the_queue_arrives_when_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let s = Setup {
        daemon_in: free_port(),
        syslog: free_port(),
        cef: free_port(),
    };
    let local = dir.path().join("local.log");
    let daemon = rsyslog(dir.path(), &s);
    // Nothing listens on syslane's ports. First what fits in the queue ...
    send_tcp_lf(s.daemon_in, lines("held", 100));
    assert!(
        wait_until(Duration::from_secs(20), || count(&local, "held", 100)
            == 100),
        "local logging: {} of 100\n{}",
        count(&local, "held", 100),
        daemon.logs()
    );
    // ... then far more than the scaled-down queue holds: the host's own file
    // must get every line at once, the queue discarding what does not fit.
    let start = Instant::now();
    send_tcp_lf(s.daemon_in, lines("flood", 2000));
    let kept_up = wait_until(Duration::from_secs(20), || {
        count(&local, "flood", 2000) == 2000
    });
    let took = start.elapsed();
    assert!(
        kept_up,
        "local logging waited on the absent syslane: {} of 2000 lines in {took:?}\n{}",
        count(&local, "flood", 2000),
        daemon.logs()
    );
    eprintln!("2000 local lines written in {took:?} with syslane away and its queue full");

    // syslane comes back: what the queue held arrives.
    let agent = agent(dir.path(), &s);
    let out = dir.path().join("out.jsonl");
    assert!(
        wait_until(Duration::from_secs(20), || count(&out, "held", 100) == 100),
        "{} of the 100 queued messages arrived\nrsyslog:\n{}\nsyslane:\n{}",
        count(&out, "held", 100),
        daemon.logs(),
        agent.logs()
    );
    let flood = count(&out, "flood", 2000);
    eprintln!("after syslane came back: 100 of 100 held, {flood} of 2000 flood lines (the rest were discarded by the full queue)");
    assert!(
        flood < 2000,
        "the scaled-down queue cannot have held every line"
    );
    drop(daemon);
    agent.stop();
}

#[test]
fn what_rsyslog_saved_at_shutdown_for_syslane_arrives_after_its_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let s = Setup {
        daemon_in: free_port(),
        syslog: free_port(),
        cef: free_port(),
    };
    let local = dir.path().join("local.log");
    let daemon = rsyslog(dir.path(), &s);
    send_tcp_lf(s.daemon_in, lines("saved", 150));
    assert!(wait_until(Duration::from_secs(20), || count(
        &local, "saved", 150
    ) == 150));
    drop(daemon);
    // rsyslog saved its queue for syslane; the count is in the .qi file, as the
    // package's removal reports it.
    let qi = std::fs::read_to_string(dir.path().join("spool/syslane.qi"))
        .unwrap_or_else(|e| panic!("rsyslog saved no queue: {e}"));
    assert!(qi.contains("+iQueueSize:2:3:150:"), "{qi}");

    let agent = agent(dir.path(), &s);
    let daemon = rsyslog(dir.path(), &s);
    let out = dir.path().join("out.jsonl");
    assert!(
        wait_until(Duration::from_secs(20), || count(&out, "saved", 150) == 150),
        "{} of the 150 saved messages arrived\nrsyslog:\n{}\nsyslane:\n{}",
        count(&out, "saved", 150),
        daemon.logs(),
        agent.logs()
    );
    drop(daemon);
    agent.stop();
}
