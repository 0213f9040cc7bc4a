//! What a kill -9 loses from a paused TCP connection, by `tcp_receive_buffer`.
//!
//! The agent's output fails (a file output on /dev/full) and its journal is at
//! its smallest (1 MiB), so it soon stops reading the connection. One sender
//! writes numbered messages without blocking until the kernel takes no more for
//! two seconds: every message whose last byte a write accepted counts as sent,
//! as a syslog sender (rsyslog's omfwd, syslog-ng) counts it. Then the agent is
//! killed with SIGKILL and started again with a working output, and the messages
//! that arrive are counted by number. What is lost is what the kernel held: the
//! agent's receive queue and the sender's send queue, read from /proc/net/tcp
//! just before the kill.

use super::today;
use std::collections::HashSet;
use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};
use syslane_tests::{build_dir, config_with, free_port, Agent};

/// One message, numbered: RFC 5424, octet-counted, ~150 bytes like the benchmark's.
fn frame(seq: u64) -> Vec<u8> {
    let msg = format!(
        "<38>1 {}T10:00:00.000000Z web-01.example.com sshd 4242 - - Accepted publickey for deploy from 192.0.2.7 port 40022 ssh2: ED25519 SHA256:abcdef seq={seq}",
        today()
    );
    format!("{} {msg}", msg.len()).into_bytes()
}

/// The receive and send queues (bytes) of the TCP connection from `local` to
/// `remote` port on loopback, from /proc/net/tcp: (tx_queue, rx_queue).
fn queues(local: u16, remote: u16) -> Option<(u64, u64)> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let port = |s: &str| u16::from_str_radix(s.rsplit_once(':')?.1, 16).ok();
        if port(f.get(1)?)? != local || port(f.get(2)?)? != remote {
            return None;
        }
        let (tx, rx) = f.get(4)?.split_once(':')?;
        Some((
            u64::from_str_radix(tx, 16).ok()?,
            u64::from_str_radix(rx, 16).ok()?,
        ))
    })
}

/// The numbers of the messages in the file output's records.
fn delivered(out: &Path) -> HashSet<u64> {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let at = l.find("seq=")? + 4;
            let digits: String = l[at..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

fn once(receive_buffer: usize) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!(
        "[[listen]]\naddress = \"tcp://127.0.0.1:{port}\"\ninput = \"syslog\"\ntimezone = \"UTC\"\n"
    );
    let settings = format!("journal_max_bytes = 1048576\ntcp_receive_buffer = {receive_buffer}\n");
    let stuck = format!(
        "{settings}{}",
        config_with(&build_dir(), &listen, Path::new("/dev/full"))
    );
    let agent = Agent::start(dir.path(), &stuck);
    let mut sender = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sender.set_nonblocking(true).unwrap();
    let sender_port = sender.local_addr().unwrap().port();

    // Write until the kernel has taken nothing for two seconds.
    let (mut seq, mut sent, mut pending, mut at) = (0u64, 0u64, frame(0), 0usize);
    let mut last_progress = Instant::now();
    while last_progress.elapsed() < Duration::from_secs(2) {
        match sender.write(&pending[at..]) {
            Ok(n) => {
                at += n;
                last_progress = Instant::now();
                if at == pending.len() {
                    sent += 1;
                    seq += 1;
                    pending = frame(seq);
                    at = 0;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("the sender's write failed: {e}"),
        }
    }
    let (sender_queue, _) = queues(sender_port, port).unwrap_or_default();
    let (_, agent_queue) = queues(port, sender_port).unwrap_or_default();
    let _ = agent.kill9();
    drop(sender);

    let out = dir.path().join("records.jsonl");
    let agent = Agent::start(
        dir.path(),
        &format!("{settings}{}", config_with(&build_dir(), &listen, &out)),
    );
    let (mut count, mut last_change) = (0, Instant::now());
    while last_change.elapsed() < Duration::from_secs(3) {
        let n = delivered(&out).len();
        if n != count {
            count = n;
            last_change = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let got = delivered(&out);
    agent.stop();
    let lost = (0..sent).filter(|s| !got.contains(s)).count();
    let strangers = got.iter().filter(|s| **s >= sent).count();
    let per = frame(sent).len() as u64;
    println!(
        "paused_loss tcp_receive_buffer={} sent={sent} delivered={} lost={lost} agent_receive_queue_bytes={agent_queue} sender_send_queue_bytes={sender_queue} kernel_held_records~{} beyond_sent={strangers}",
        if receive_buffer == 0 {
            "kernel".to_string()
        } else {
            receive_buffer.to_string()
        },
        got.len() - strangers,
        (agent_queue + sender_queue) / per,
    );
}

/// Measures once per buffer size, `rounds` times, interleaved.
pub fn run(buffers: &[usize], rounds: usize) {
    println!(
        "syslane paused-connection loss: the journal full with the output failing, the connection paused, then kill -9 (bytes; 0 = the kernel's autotuning)"
    );
    for _ in 0..rounds {
        for &b in buffers {
            once(b);
        }
    }
}
