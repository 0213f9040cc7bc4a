//! `--steady EPS`: the agent at a fixed rate instead of flat out, as forwarders
//! are sized. One TCP connection sends `real` messages (octet-counted) at `EPS`
//! a second, in 10 ms ticks, for `--steady-seconds`, to the agent at the azure
//! output's defaults shipping to the workspace emulator over HTTPS (gzip, the
//! journal synced per batch). It prints the agent's CPU over the sending time as a
//! percentage of one core and per million records, its mean and peak RSS, and
//! checks that every record arrived.
//!
//! Microsoft publishes the Azure Monitor Agent's figures at one such rate
//! (10,000 syslog events a second, "Azure Monitor Agent performance benchmark",
//! <https://learn.microsoft.com/azure/azure-monitor/agents/azure-monitor-agent-performance>),
//! which is what this mode is for comparing against.

use crate::load::{real_message, Rng};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use syslane_tests::emulator::{azure_config, Emulator, SYSLOG_STREAM};
use syslane_tests::{build_dir, free_port, octet_stream, peak_rss_kib, status_kib, Agent};

/// Seconds of CPU (user and system) the process has used so far.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // /proc counts in USER_HZ, which is 100 on Linux's x86_64 and arm64 ABIs.
    Some(ticks / 100.0)
}

pub fn run(eps: u64, seconds: u64, today: &str) {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), &[]);
    let port = free_port();
    let output = emu.output_toml("client_secret", "");
    let agent = Agent::start(dir.path(), &azure_config(&build_dir(), port, &output));
    let pid = agent.pid();
    let total = eps * seconds;
    let per_tick = (eps / 100).max(1);
    let mut rng = Rng::new(7);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let cpu_start = cpu_seconds(pid).unwrap_or(0.0);
    let start = Instant::now();
    let (mut sent, mut tick) = (0u64, 0u64);
    let (mut rss_sum, mut rss_samples) = (0u64, 0u64);
    while sent < total {
        let n = per_tick.min(total - sent);
        let tick_messages: Vec<String> = (sent..sent + n)
            .map(|i| real_message(&mut rng, today, i as usize))
            .collect();
        sent += n;
        s.write_all(&octet_stream(tick_messages)).unwrap();
        tick += 1;
        if tick % 100 == 0 {
            if let Some(r) = status_kib(pid, "VmRSS:") {
                rss_sum += r;
                rss_samples += 1;
            }
        }
        let due = start + Duration::from_millis(tick * 10);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let sending = start.elapsed().as_secs_f64();
    drop(s);
    let arrived = emu.wait_for(SYSLOG_STREAM, total as usize, Duration::from_secs(120));
    let cpu = cpu_seconds(pid).unwrap_or(0.0) - cpu_start;
    let peak = peak_rss_kib(pid).unwrap_or(0);
    agent.stop();
    assert!(arrived, "not every record arrived: {}", emu.stats());
    println!(
        "steady eps={eps} seconds={sending:.1} records={total} arrived=all cpu_seconds={cpu:.2} cpu_percent_of_one_core={:.1} cpu_s_per_million={:.2} records_per_cpu_second={:.0} mean_rss_MiB={:.1} peak_rss_MiB={:.1}",
        cpu / sending * 100.0,
        cpu / total as f64 * 1e6,
        total as f64 / cpu.max(1e-9),
        rss_sum as f64 / rss_samples.max(1) as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}
