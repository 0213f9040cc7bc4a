//! The chaos run's end: wait for the journal to drain, then the ledger per
//! transport and the agent's health. RELP must be lossless (every acknowledged
//! id delivered at least once); for TCP, UDP and unix what was sent is set
//! against what arrived plus what the agent counted as dropped or refused, and
//! the rest is reported as "sent but never acknowledged by any layer" (kill -9
//! loses what sits in kernel socket buffers: that is those transports' nature).

use super::senders::{parse_id, sent, Ledger};
use super::{delivered, Run, COUNTERS, RSS_LIMIT_KIB, SYSLOG_STREAM};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

fn counter(r: &Run, name: &str) -> u64 {
    let i = COUNTERS.iter().position(|c| *c == name).unwrap();
    r.counters[i]
}

pub(super) fn check(r: &mut Run, seed: u64, duration: u64, ledgers: Vec<(&str, Ledger)>) -> bool {
    let mut violations: Vec<String> = Vec::new();
    // Drain: until every RELP-acknowledged id arrived and nothing more comes for
    // 10 s, at most 180 s (leftover output faults are served first).
    let relp_acked: BTreeSet<u64> = ledgers
        .iter()
        .find(|(t, _)| *t == "relp")
        .map(|(_, l)| l.acked.clone())
        .unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut last = (u64::MAX, Instant::now());
    let messages = loop {
        let count = r.emu.stat(&["records", SYSLOG_STREAM]);
        if count != last.0 {
            last = (count, Instant::now());
        }
        let late = Instant::now() > deadline;
        if last.1.elapsed() > Duration::from_secs(10) || late {
            let messages = delivered(&r.emu);
            let relp_in: BTreeSet<u64> = messages
                .iter()
                .filter_map(|m| parse_id(m))
                .filter(|(t, _)| t == "relp")
                .map(|(_, n)| n)
                .collect();
            if relp_acked.is_subset(&relp_in) || late {
                if late {
                    violations.push("the journal did not drain within 180 s".into());
                }
                break messages;
            }
            last.1 = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    // The agent is healthy: alive, answering stats; its counters and memory.
    let alive = r.agent.as_ref().is_some_and(|a| {
        let stats = syslane_tests::stats_of(r.dir.path());
        stats.contains("syslane_records_journaled_total") && a.pid() > 0
    });
    if !alive {
        violations.push("the agent does not answer `syslane stats` at the end".into());
    }
    r.sample();
    let (status, logs) = r.agent.take().unwrap().stop();
    r.logs.push_str(&logs);
    if !status.success() {
        violations.push(format!(
            "the agent exited with {status} on SIGTERM at the end"
        ));
    }
    if r.logs.contains("panicked") {
        violations.push("the agent panicked (see its log below)".into());
    }
    if r.peak_rss_kib > RSS_LIMIT_KIB {
        violations.push(format!(
            "peak RSS {} MiB above {} MiB",
            r.peak_rss_kib / 1024,
            RSS_LIMIT_KIB / 1024
        ));
    }
    // Delivered ids per transport, with duplicates and phantoms.
    let mut seen: BTreeMap<String, BTreeMap<u64, u64>> = BTreeMap::new();
    let (mut foreign, mut storm) = (Vec::new(), 0u64);
    for m in &messages {
        match parse_id(m) {
            Some((t, n)) => *seen.entry(t).or_default().entry(n).or_default() += 1,
            None if m.contains("storm-partial") => storm += 1,
            None => foreign.push(m),
        }
    }
    println!("chaos: storm: unfinished frames of closed connections delivered={storm}");
    if !foreign.is_empty() {
        violations.push(format!(
            "{} delivered records carry no id of ours (first: {:?})",
            foreign.len(),
            foreign[0]
        ));
    }
    let dead = counter(r, "syslane_records_dead_lettered_total");
    let refused = counter(r, "syslane_records_refused_total")
        + counter(r, "syslane_records_dropped_journal_full_total");
    for (transport, l) in &ledgers {
        let got = seen.remove(*transport).unwrap_or_default();
        let unique = got.len() as u64;
        let dups: u64 = got.values().map(|c| c - 1).sum();
        let phantom = got.keys().filter(|n| **n >= l.next).count();
        if phantom > 0 {
            violations.push(format!(
                "{transport}: {phantom} ids delivered that were never sent"
            ));
        }
        let sent = sent(l);
        let delivered_sent = got.keys().filter(|n| !l.not_sent.contains(n)).count() as u64;
        if *transport == "relp" {
            let lost: Vec<u64> = l
                .acked
                .iter()
                .filter(|n| !got.contains_key(n))
                .copied()
                .collect();
            println!(
                "chaos: relp: sent={} acknowledged={} delivered={unique} duplicates={dups} acknowledged_lost={} (dead-lettered by the agent, all transports: {dead})",
                l.next,
                l.acked.len(),
                lost.len()
            );
            if !lost.is_empty() {
                violations.push(format!(
                    "relp: {} acknowledged ids never delivered (first: {:?})",
                    lost.len(),
                    &lost[..lost.len().min(10)]
                ));
            }
            continue;
        }
        let refused = |t: &str| {
            counter(
                r,
                &format!(
                    "syslane_records_refused_total{{reason=\"journal_write\",transport=\"{t}\"}}"
                ),
            )
        };
        let drops = match *transport {
            "udp" => {
                counter(r, "syslane_udp_dropped_total")
                    + counter(r, "syslane_udp_receive_buffer_drops_total")
                    + refused("udp")
            }
            "unix" => counter(r, "syslane_unix_dropped_total") + refused("unix"),
            _ => refused("tcp"),
        };
        let missing = sent.saturating_sub(delivered_sent);
        println!(
            "chaos: {transport}: sent={sent} (refused by the socket: {}) delivered={unique} duplicates={dups} missing={missing} counted_drops={drops} sent_but_never_acknowledged_by_any_layer={}",
            l.not_sent.len(),
            missing.saturating_sub(drops)
        );
    }
    // The journal's faults here pass (EIO for seconds, a full disk freed): a
    // record lost to an unreadable segment is a loss.
    let unreadable = counter(r, "syslane_records_lost_journal_unreadable_total");
    if unreadable > 0 {
        violations.push(format!(
            "{unreadable} journaled records counted as lost to an unreadable segment"
        ));
    }
    println!(
        "chaos: agent: lives={} reloads={} peak_rss_MiB={} counters(summed over lives) journaled={} sent={} refused_or_dropped_journal_full={refused} dead_lettered={dead} lost_unreadable={unreadable}",
        1 + r.events.iter().filter(|e| e.contains("kill -9")).count(),
        r.generation,
        r.peak_rss_kib / 1024,
        counter(r, "syslane_records_journaled_total"),
        counter(r, "syslane_records_sent_total"),
    );
    if violations.is_empty() {
        println!("chaos: PASS seed={seed} duration={duration}s");
        return true;
    }
    for v in &violations {
        println!("chaos: VIOLATION {v}");
    }
    let tail: String = {
        let lines: Vec<&str> = r.logs.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    };
    println!("chaos: the agent's last log lines:\n{tail}");
    println!("chaos: FAIL seed={seed} duration={duration}s (replay: syslane-bench --chaos --seed {seed} --duration {duration})");
    false
}
