//! `syslane-bench --chaos [--seed N] [--duration SECS]`: one agent with RELP,
//! TCP, UDP and unix listeners shipping to the workspace emulator over HTTPS,
//! its state on a small tmpfs, senders on every transport writing unique ids,
//! and a random schedule (from a printed seed) of kill -9 and restart, SIGHUP
//! with a changed configuration, the disk full and freed, output outages,
//! connection storms and slow senders, EIO on the journal's reads and syncs
//! (`eio.c`, preloaded into the agent), and the wall clock stepped back and
//! forth (libfaketime, reading its offset from a file; the monotonic clock runs
//! on, as when an operator or NTP steps the clock). At the end: the ledger per transport (`ledger.rs`);
//! exits non-zero on any violation, printing the seed.

mod ledger;
mod senders;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use senders::{Control, Ports};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use syslane_tests::emulator::Emulator;
pub use syslane_tests::emulator::SYSLOG_STREAM;
use syslane_tests::{free_port, peak_rss_kib, plugin_dir_with_builtins, stats_of, Agent, Tmpfs};

/// What the agent must stay under (VmHWM, KiB) in every life.
const RSS_LIMIT_KIB: u64 = 512 * 1024;

/// The counters summed over the agent's lives (each life starts at zero).
pub const COUNTERS: [&str; 12] = [
    "syslane_records_journaled_total",
    "syslane_records_sent_total",
    "syslane_records_refused_total",
    "syslane_records_dropped_journal_full_total",
    "syslane_records_dead_lettered_total",
    "syslane_udp_dropped_total",
    "syslane_udp_receive_buffer_drops_total",
    "syslane_unix_dropped_total",
    "syslane_records_refused_total{reason=\"journal_write\",transport=\"udp\"}",
    "syslane_records_refused_total{reason=\"journal_write\",transport=\"unix\"}",
    "syslane_records_refused_total{reason=\"journal_write\",transport=\"tcp\"}",
    "syslane_records_lost_journal_unreadable_total",
];

/// libfaketime, the variant for threaded programs (Debian's package faketime).
const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
/// The EIO preload's source, built with the C compiler for each run.
const EIO_SOURCE: &str = include_str!("eio.c");

struct Run {
    dir: tempfile::TempDir,
    emu: Emulator,
    disk: Tmpfs,
    ports: Ports,
    plugins: std::path::PathBuf,
    generation: u64,
    agent: Option<Agent>,
    /// Logs of earlier lives, counters summed over them, peak RSS seen.
    logs: String,
    counters: [u64; 12],
    peak_rss_kib: u64,
    events: Vec<String>,
    /// The built EIO preload and the file holding its probability.
    eio: (std::path::PathBuf, std::path::PathBuf),
    /// The file libfaketime reads the clock's offset from, when it is here.
    clock: Option<std::path::PathBuf>,
}

impl Run {
    fn config(&self) -> String {
        let p = &self.ports;
        // What a reload changes: the linger and the batch deadline alternate.
        let linger = 1 + self.generation % 2;
        let extra = format!("flush_interval_secs = {linger}\n");
        format!(
            "state_dir = \"state\"\nshutdown_timeout_secs = 3\njournal_max_bytes = {}\nplugin_dir = \"{}\"\n\
             [[listen]]\naddress = \"relp://127.0.0.1:{}\"\ninput = \"syslog\"\ntimezone = \"UTC\"\n\
             [[listen]]\naddress = \"tcp://127.0.0.1:{}\"\ninput = \"syslog\"\ntimezone = \"UTC\"\n\
             [[listen]]\naddress = \"udp://127.0.0.1:{}\"\ninput = \"syslog\"\ntimezone = \"UTC\"\n\
             [[listen]]\naddress = \"unix://{}\"\ninput = \"syslog\"\ntimezone = \"UTC\"\n{}",
            40 << 20,
            self.plugins.display(),
            p.relp,
            p.tcp,
            p.udp,
            p.unix.display(),
            self.emu.output_toml("client_secret", &extra)
        )
    }

    fn agent(&self) -> &Agent {
        self.agent.as_ref().unwrap()
    }

    /// Adds the running agent's counters to the sums (before it dies).
    fn sample(&mut self) {
        let stats = stats_of(self.dir.path());
        for (i, name) in COUNTERS.iter().enumerate() {
            self.counters[i] += syslane_tests::counter(&stats, name);
        }
        if let Some(kib) = peak_rss_kib(self.agent().pid()) {
            self.peak_rss_kib = self.peak_rss_kib.max(kib);
        }
    }

    fn start_agent(&mut self) {
        let config = self.config();
        let mut preload: Vec<String> = vec![self.eio.0.display().to_string()];
        let mut env: Vec<(&str, String)> =
            vec![("SYSLANE_CHAOS_EIO", self.eio.1.display().to_string())];
        if let Some(clock) = &self.clock {
            preload.push(FAKETIME_LIB.into());
            env.push(("FAKETIME_TIMESTAMP_FILE", clock.display().to_string()));
            env.push(("FAKETIME_CACHE_DURATION", "1".into()));
            env.push(("FAKETIME_DONT_FAKE_MONOTONIC", "1".into()));
        }
        env.push(("LD_PRELOAD", preload.join(" ")));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.agent = Some(Agent::start_with(self.dir.path(), &config, "info", &env));
    }

    /// Makes the journal's reads and syncs fail with EIO at `probability`
    /// (0 stops it); the preload reads it within 50 ms.
    fn eio(&self, probability: f64) {
        std::fs::write(&self.eio.1, format!("{probability} 0\n")).unwrap();
    }

    /// Makes the journal's syncs take `ms` longer (0: as they are).
    fn slow_syncs(&self, ms: u64) {
        std::fs::write(&self.eio.1, format!("0 {ms}\n")).unwrap();
    }

    /// A kill -9 the moment an acknowledged segment's file is taken to write
    /// the next segment into (the spare disappears: the file still holds its
    /// older entries behind the new ones), within `within`; else at the end.
    fn kill_during_recycle(&mut self, within: Duration) -> bool {
        let spare = self.disk.path.join("journal/spare");
        let end = Instant::now() + within;
        let mut had = spare.exists();
        let mut caught = false;
        while Instant::now() < end {
            let has = spare.exists();
            if had && !has {
                caught = true;
                break;
            }
            had = has;
            std::thread::sleep(Duration::from_micros(200));
        }
        self.sample();
        let logs = self.agent.take().unwrap().kill9();
        self.logs.push_str(&logs);
        self.start_agent();
        caught
    }

    fn kill_and_restart(&mut self, rng: &mut StdRng) {
        self.sample();
        let logs = self.agent.take().unwrap().kill9();
        self.logs.push_str(&logs);
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..1500)));
        self.start_agent();
    }

    fn reload(&mut self) {
        self.generation += 1;
        let config = self.config();
        std::fs::write(self.dir.path().join("syslane.toml"), config).unwrap();
        self.agent().hup();
    }
}

pub fn run(seed: u64, duration: u64) -> bool {
    println!("chaos: seed={seed} duration={duration}s (replay: syslane-bench --chaos --seed {seed} --duration {duration})");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir_with_builtins(dir.path());
    let emu = Emulator::start(dir.path(), &[]);
    let disk = Tmpfs::mount(&dir.path().join("state"), "64m");
    let eio = (
        dir.path().join("eio.so"),
        dir.path().join("eio-probability"),
    );
    std::fs::write(dir.path().join("eio.c"), EIO_SOURCE).unwrap();
    std::fs::write(&eio.1, "0 0\n").unwrap();
    let built = std::process::Command::new(syslane_tests::tool("cc"))
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&eio.0)
        .arg(dir.path().join("eio.c"))
        .arg("-ldl")
        .status();
    assert!(
        built.as_ref().is_ok_and(|s| s.success()),
        "cc eio.c: {built:?}"
    );
    let clock = std::path::Path::new(FAKETIME_LIB).is_file().then(|| {
        let file = dir.path().join("clock-offset");
        std::fs::write(&file, "+0\n").unwrap();
        file
    });
    if clock.is_none() {
        println!("chaos: no clock steps in this run: install faketime (scripts/test does)");
    }
    let ports = Ports {
        relp: free_port(),
        tcp: free_port(),
        udp: free_port(),
        unix: dir.path().join("log.sock"),
    };
    let mut r = Run {
        dir,
        emu,
        disk,
        ports,
        plugins,
        generation: 0,
        agent: None,
        logs: String::new(),
        counters: [0; 12],
        peak_rss_kib: 0,
        events: Vec::new(),
        eio,
        clock,
    };
    r.start_agent();
    let control = Arc::new(Control {
        stretch: duration.div_ceil(60),
        ..Control::default()
    });
    let senders = senders::start(&r.ports, &control);
    let mut order: Vec<u32> = (0..10).collect();
    order.shuffle(&mut rng);
    let start = Instant::now();
    let end = start + Duration::from_secs(duration);
    while Instant::now() < end {
        let gap = rng.gen_range(1_500..5_000);
        std::thread::sleep(
            Duration::from_millis(gap).min(end.saturating_duration_since(Instant::now())),
        );
        if Instant::now() >= end {
            break;
        }
        // Every kind of fault once, in a seeded order, then at random (kills
        // twice as often): a short run covers them all.
        let kind = match order.pop() {
            Some(k) => k,
            None => [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9][rng.gen_range(0..11)],
        };
        let event = fault(&mut r, &mut rng, &control, kind);
        let line = format!("{:>6.1}s {event}", start.elapsed().as_secs_f64());
        println!("chaos: {line}");
        r.events.push(line);
    }
    // The end: senders stop, faults are cleared, the journal drains.
    control.slow.store(false, Ordering::Relaxed);
    control.stop.store(true, Ordering::Relaxed);
    r.eio(0.0);
    if let Some(clock) = &r.clock {
        std::fs::write(clock, "+0\n").unwrap();
    }
    let ledgers: Vec<(&str, senders::Ledger)> = senders
        .into_iter()
        .map(|(t, h)| (t, h.join().unwrap()))
        .collect();
    let _ = std::fs::remove_file(r.disk.path.join("filler"));
    ledger::check(&mut r, seed, duration, ledgers)
}

/// One fault from the schedule; what it did, for the log.
fn fault(r: &mut Run, rng: &mut StdRng, control: &Control, kind: u32) -> String {
    match kind {
        0 => {
            r.kill_and_restart(rng);
            "kill -9 and restart".into()
        }
        1 => {
            r.reload();
            format!("SIGHUP, flush_interval_secs now {}", 1 + r.generation % 2)
        }
        2 => {
            let filler = r.disk.fill();
            let hold = rng.gen_range(1_000..5_000);
            // A kill while the disk is full, now and then.
            let kill = rng.gen_bool(0.3);
            std::thread::sleep(Duration::from_millis(hold / 2));
            if kill {
                r.sample();
                let logs = r.agent.take().unwrap().kill9();
                r.logs.push_str(&logs);
            }
            std::thread::sleep(Duration::from_millis(hold / 2));
            std::fs::remove_file(&filler).unwrap();
            if kill {
                r.start_agent();
            }
            format!(
                "disk full for {hold} ms{}",
                if kill { ", kill -9 while full" } else { "" }
            )
        }
        3 => {
            let faults: Vec<serde_json::Value> = (0..rng.gen_range(1..6))
                .map(|_| match rng.gen_range(0..7) {
                    0 => json!({"status": 500}),
                    1 => json!({"status": 503}),
                    2 => json!({"status": 429, "retry_after": rng.gen_range(1..4)}),
                    3 => json!({"hang_secs": rng.gen_range(1.0..4.0)}),
                    4 => json!({"reset": true}),
                    5 => json!({"status": 413}),
                    _ => json!({"slow_secs": rng.gen_range(0.5..2.0)}),
                })
                .collect();
            let text = serde_json::Value::Array(faults.clone()).to_string();
            r.emu.schedule(serde_json::Value::Array(faults));
            format!("output faults {text}")
        }
        6 => {
            let probability = [0.05, 0.3, 1.0][rng.gen_range(0..3)];
            let hold = rng.gen_range(500..5_000);
            r.eio(probability);
            std::thread::sleep(Duration::from_millis(hold));
            r.eio(0.0);
            format!("EIO on journal reads and syncs (p={probability}) for {hold} ms")
        }
        7 if r.clock.is_some() => {
            // Back as far as an hour or forward as far as a day, for a while,
            // then (as NTP would) back to the right time.
            let step: i64 = if rng.gen_bool(0.5) {
                -rng.gen_range(60..3_600)
            } else {
                rng.gen_range(60..86_400)
            };
            let clock = r.clock.as_ref().unwrap();
            std::fs::write(clock, format!("{step:+}\n")).unwrap();
            let hold = rng.gen_range(2_000..8_000);
            std::thread::sleep(Duration::from_millis(hold));
            std::fs::write(clock, "+0\n").unwrap();
            format!("wall clock stepped {step:+} s for {hold} ms")
        }
        7 => "(no clock steps: libfaketime is not installed)".into(),
        8 => {
            let caught = r.kill_during_recycle(Duration::from_secs(10));
            format!(
                "kill -9 {} and restart",
                if caught {
                    "during a segment recycle"
                } else {
                    "(no recycle within 10 s)"
                }
            )
        }
        9 => {
            let ms = rng.gen_range(100..400);
            r.slow_syncs(ms);
            std::thread::sleep(Duration::from_millis(rng.gen_range(50..600)));
            r.sample();
            let logs = r.agent.take().unwrap().kill9();
            r.logs.push_str(&logs);
            r.slow_syncs(0);
            r.start_agent();
            format!("kill -9 during a journal sync (syncs slowed by {ms} ms) and restart")
        }
        4 => {
            let n = rng.gen_range(50..300);
            let port = if rng.gen_bool(0.5) {
                r.ports.tcp
            } else {
                r.ports.relp
            };
            senders::storm(port, n);
            format!("connection storm of {n} on port {port}")
        }
        _ => {
            let secs = rng.gen_range(1..4);
            control.slow.store(true, Ordering::Relaxed);
            std::thread::sleep(Duration::from_secs(secs));
            control.slow.store(false, Ordering::Relaxed);
            format!("slow senders for {secs} s")
        }
    }
}

/// The delivered messages of our ids, from the emulator.
fn delivered(emu: &Emulator) -> Vec<String> {
    emu.records(SYSLOG_STREAM)
        .iter()
        .filter_map(|r| r["SyslogMessage"].as_str().map(str::to_string))
        .collect()
}
