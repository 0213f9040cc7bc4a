//! The request budget of a data collection rule: the azure output's linger
//! (`flush_interval_secs`) keeps a quiet host to one request per interval, never
//! holds a record longer than the interval, lets the end of a burst go at once,
//! and keeps syslog and CEF records of one host in their own batches.

use serde_json::Value;
use std::time::{Duration, Instant};
use syslane_tests::emulator::*;
use syslane_tests::*;

fn line(tag: &str, i: usize) -> String {
    format!("<134>Nov 25 10:00:00 web01 nginx[4242]: {tag} seq={i} GET /api/v1/items 200 upstream cache miss")
}

/// An emulated workspace (started with `emulator_args`) and an agent shipping
/// to it, its `[output]` keys plus `output_extra`, with `more_listeners` before
/// the output; the agent's TCP port.
struct Run {
    _dir: tempfile::TempDir,
    emu: Emulator,
    agent: Agent,
    port: u16,
}

fn start(emulator_args: &[&str], output_extra: &str, more_listeners: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_builtins(dir.path());
    let emu = Emulator::start(dir.path(), emulator_args);
    let port = free_port();
    let config = azure_config(
        &plugins,
        port,
        &emu.output_toml("client_secret", output_extra),
    )
    .replace("[output]", &format!("{more_listeners}[output]"));
    let agent = Agent::start(dir.path(), &config);
    Run {
        _dir: dir,
        emu,
        agent,
        port,
    }
}

impl Run {
    /// Waits until `stream` holds `n` records; fails with the agent's log.
    fn wait_for(&self, stream: &str, n: usize, secs: u64) {
        assert!(
            self.emu.wait_for(stream, n, Duration::from_secs(secs)),
            "{} of {n} arrived: {}",
            self.emu.records(stream).len(),
            self.agent.logs()
        );
    }

    /// Stops the agent, which must exit cleanly; the emulator, to look at.
    fn stop(self) -> Emulator {
        let (status, logs) = self.agent.stop();
        assert!(status.success(), "{logs}");
        self.emu
    }
}

/// Accepted ingestion requests so far, for one stream.
fn posts(emu: &Emulator, stream: &str) -> usize {
    emu.requests()
        .iter()
        .filter(|r| {
            r["path"].as_str().unwrap_or("").contains(stream) && r["status"].as_u64() == Some(204)
        })
        .count()
}

#[test]
fn a_quiet_host_makes_one_request_per_interval_and_no_record_waits_longer() {
    let run = start(&[], "flush_interval_secs = 3", "");
    let port = run.port;
    // The first record after a quiet spell goes at once.
    let start = Instant::now();
    send_tcp_lf(port, [line("quiet", 0)]);
    run.wait_for(SYSLOG_STREAM, 1, 10);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    // A record every 150 ms for 6 s: one request per 3 s interval, not forty.
    let first_post = Instant::now();
    for i in 1..=40 {
        send_tcp_lf(port, [line("quiet", i)]);
        std::thread::sleep(Duration::from_millis(150));
    }
    let sent_at = Instant::now();
    run.wait_for(SYSLOG_STREAM, 41, 10);
    // The last record waited at most the interval (and a request).
    assert!(
        sent_at.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent_at.elapsed()
    );
    let spread = first_post.elapsed().as_secs_f64();
    let n = posts(&run.stop(), SYSLOG_STREAM);
    assert!(
        (2..=1 + (spread / 3.0).ceil() as usize + 1).contains(&n),
        "{n} requests over {spread:.1} s with a 3 s linger"
    );
}

#[test]
fn the_end_of_a_burst_does_not_wait_for_the_linger() {
    // A linger far longer than the test may wait.
    let run = start(&[], "flush_interval_secs = 120", "");
    // One record first. Nothing having been offered yet, it goes at once; from
    // then on a batch that is not full waits for the linger, so what the burst
    // leaves after its full batches can only go early by the end of the burst.
    // (Without it, how much of the burst the first, immediate batch took
    // depended on the machine's speed: a busy machine left less than a full
    // batch behind it, which then rightly waited for the linger.)
    send_tcp_lf(run.port, [line("first", 0)]);
    run.wait_for(SYSLOG_STREAM, 1, 30);
    // More than a full batch (8 MB at the defaults) and a tail.
    let n = 36_000;
    send_tcp_lf(run.port, (0..n).map(|i| line("burst", i)));
    run.wait_for(SYSLOG_STREAM, n + 1, 60);
    let emu = run.stop();
    // Full batches of eight requests, not a request per journal chunk.
    let requests = posts(&emu, SYSLOG_STREAM);
    let stats = emu.stats();
    let bytes = stats["bytes_uncompressed"].as_u64().unwrap_or(0) as usize;
    assert!(
        requests <= bytes / 900_000 + 4,
        "{requests} requests for {bytes} bytes"
    );
}

#[test]
fn syslog_and_cef_from_one_host_keep_their_own_batches_and_the_budget() {
    let cef_port = free_port();
    let run = start(
        &["--parameter", "securityStream=true"],
        "security_stream = \"Custom-SyslaneSecurity\"\nflush_interval_secs = 3",
        &format!("[[listen]]\naddress = \"tcp://127.0.0.1:{cef_port}\"\ninput = \"cef\"\ntimezone = \"UTC\"\n"),
    );
    let port = run.port;
    // Syslog and CEF interleaved, one of each every 200 ms for 6 s: alternating
    // tables must not cut a batch (and a request) at every switch.
    let start = Instant::now();
    for i in 0..30 {
        send_tcp_lf(port, [line("mixed", i)]);
        send_tcp_lf(
            cef_port,
            [format!("<134>Nov 25 10:00:00 fw01 CEF:0|Acme|FW|1|100|blocked|7|src=10.0.0.5 spt={i} act=deny")],
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    run.wait_for(SYSLOG_STREAM, 30, 10);
    run.wait_for(SECURITY_STREAM, 30, 10);
    let spread = start.elapsed().as_secs_f64();
    let emu = run.stop();
    let (syslog, cef) = (posts(&emu, SYSLOG_STREAM), posts(&emu, SECURITY_STREAM));
    let bound = (spread / 3.0).ceil() as usize + 2;
    assert!(
        syslog <= bound && cef <= bound,
        "{syslog} syslog and {cef} CEF requests over {spread:.1} s with a 3 s linger"
    );
    // Every record once, in its own table.
    let cef_records: Vec<Value> = emu.records(SECURITY_STREAM);
    assert_eq!(cef_records.len(), 30);
}

#[test]
fn shutdown_sends_what_lingers_at_once() {
    let run = start(&[], "flush_interval_secs = 120", "");
    send_tcp_lf(run.port, [line("early", 0)]);
    run.wait_for(SYSLOG_STREAM, 1, 10);
    // These wait for the 120 s linger...
    send_tcp_lf(run.port, (1..6).map(|i| line("late", i)));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(run.emu.records(SYSLOG_STREAM).len(), 1);
    // ...until SIGTERM, which delivers them within the shutdown timeout.
    let emu = run.stop();
    assert_eq!(emu.records(SYSLOG_STREAM).len(), 6);
}
