//! The chaos run's senders: one per transport, each writing unique ids
//! (`chaos-<transport>-<n>`) and keeping its own ledger of what the transport
//! accepted. The RELP sender resends what was not acknowledged after a
//! reconnect, as rsyslog's omrelp does; the others cannot.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use syslane_tests::{octet_stream, relp_send};

/// What one sender did.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Ids 0..next were written (or tried).
    pub next: u64,
    /// Ids the transport refused outright (connect or write failed): never sent.
    pub not_sent: BTreeSet<u64>,
    /// RELP only: ids answered `200 OK`.
    pub acked: BTreeSet<u64>,
}

/// Switches shared by the senders and the schedule.
#[derive(Debug, Default)]
pub struct Control {
    pub stop: AtomicBool,
    /// Senders pause between records and write frames in pieces.
    pub slow: AtomicBool,
    /// Every pause between records is this many times longer: a long run sends
    /// about as many records in all as a minute's run (the emulator keeps every
    /// record in memory).
    pub stretch: u64,
}

pub fn message(transport: &str, n: u64) -> String {
    format!(
        "<13>1 - chaoshost chaos - - - chaos-{transport}-{n} {}",
        "x".repeat(60)
    )
}

/// The id in a delivered message, if it is one of ours: (transport, n).
pub fn parse_id(msg: &str) -> Option<(String, u64)> {
    let start = msg.find("chaos-")?;
    let rest = &msg[start + 6..];
    let (transport, tail) = rest.split_once('-')?;
    let n: String = tail.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some((transport.to_string(), n.parse().ok()?))
}

pub struct Ports {
    pub relp: u16,
    pub tcp: u16,
    pub udp: u16,
    pub unix: PathBuf,
}

fn pace(control: &Control, normal_us: u64) {
    let us = if control.slow.load(Ordering::Relaxed) {
        20_000
    } else {
        normal_us * control.stretch.max(1)
    };
    std::thread::sleep(Duration::from_micros(us));
}

/// Starts the four senders; each returns its ledger when `control.stop` is set.
pub fn start(ports: &Ports, control: &Arc<Control>) -> Vec<(&'static str, JoinHandle<Ledger>)> {
    let mut out = Vec::new();
    let c = Arc::clone(control);
    let port = ports.relp;
    out.push(("relp", std::thread::spawn(move || relp(port, &c))));
    let c = Arc::clone(control);
    let port = ports.tcp;
    out.push(("tcp", std::thread::spawn(move || tcp(port, &c))));
    let c = Arc::clone(control);
    let port = ports.udp;
    out.push(("udp", std::thread::spawn(move || udp(port, &c))));
    let c = Arc::clone(control);
    let path = ports.unix.clone();
    out.push(("unix", std::thread::spawn(move || unix(&path, &c))));
    out
}

/// Batches of 100 new ids; whatever was not answered `200 OK` goes to the front
/// of the next session, after a pause, until it is.
fn relp(port: u16, control: &Control) -> Ledger {
    let mut ledger = Ledger::default();
    let mut pending: Vec<u64> = Vec::new();
    while !control.stop.load(Ordering::Relaxed) || !pending.is_empty() {
        if !control.stop.load(Ordering::Relaxed) {
            while pending.len() < 100 {
                pending.push(ledger.next);
                ledger.next += 1;
            }
        }
        let batch: Vec<String> = pending.iter().map(|n| message("relp", *n)).collect();
        let outcome = relp_send(port, &batch);
        for i in &outcome.acked {
            ledger.acked.insert(pending[*i]);
        }
        let acked: BTreeSet<usize> = outcome.acked.iter().copied().collect();
        let before = pending.len();
        pending = pending
            .iter()
            .enumerate()
            .filter(|(i, _)| !acked.contains(i))
            .map(|(_, n)| *n)
            .collect();
        if !pending.is_empty() {
            // Refused or cut off: reconnect a little later and resend.
            if control.stop.load(Ordering::Relaxed) && pending.len() == before {
                // Stopping and making no progress: the final drain gives up here;
                // these were never acknowledged, so nothing is owed for them.
                for n in &pending {
                    ledger.not_sent.insert(*n);
                }
                pending.clear();
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        } else {
            pace(control, 15_000);
        }
    }
    ledger
}

/// Octet-counted frames in chunks of 20 over one connection, reconnecting when
/// the agent goes away. A chunk whose write failed counts as not sent (part of
/// it may have arrived: those are counted as delivered, never as phantoms).
fn tcp(port: u16, control: &Control) -> Ledger {
    let mut ledger = Ledger::default();
    let mut conn: Option<TcpStream> = None;
    while !control.stop.load(Ordering::Relaxed) {
        let Some(stream) = conn.as_mut() else {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => {
                    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
                    conn = Some(s);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
            continue;
        };
        let ids: Vec<u64> = (ledger.next..ledger.next + 20).collect();
        ledger.next += 20;
        let bytes = octet_stream(ids.iter().map(|n| message("tcp", *n)));
        let ok = if control.slow.load(Ordering::Relaxed) {
            // A slow sender: the frames dribble out in small pieces.
            bytes.chunks(17).all(|piece| {
                std::thread::sleep(Duration::from_millis(2));
                stream.write_all(piece).is_ok()
            })
        } else {
            stream.write_all(&bytes).is_ok()
        };
        if !ok {
            ledger.not_sent.extend(ids);
            conn = None;
            std::thread::sleep(Duration::from_millis(100));
        }
        pace(control, 1_500);
    }
    ledger
}

fn udp(port: u16, control: &Control) -> Ledger {
    let mut ledger = Ledger::default();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    while !control.stop.load(Ordering::Relaxed) {
        for _ in 0..10 {
            let n = ledger.next;
            ledger.next += 1;
            if sock
                .send_to(message("udp", n).as_bytes(), ("127.0.0.1", port))
                .is_err()
            {
                ledger.not_sent.insert(n);
            }
        }
        pace(control, 5_000);
    }
    ledger
}

fn unix(path: &std::path::Path, control: &Control) -> Ledger {
    let mut ledger = Ledger::default();
    let sock = UnixDatagram::unbound().unwrap();
    sock.set_nonblocking(true).unwrap();
    while !control.stop.load(Ordering::Relaxed) {
        for _ in 0..10 {
            let n = ledger.next;
            ledger.next += 1;
            // Refused (ENOENT/ECONNREFUSED while the agent is down, EAGAIN when
            // its socket buffer is full): the sender knows it was not taken.
            if sock.send_to(message("unix", n).as_bytes(), path).is_err() {
                ledger.not_sent.insert(n);
            }
        }
        pace(control, 5_000);
    }
    ledger
}

/// A connection storm: `n` connections that open, send half a frame, hold it
/// for a while and go away. (The agent keeps what a closed connection left
/// unfinished, as a record of its own: those carry `storm-partial`.)
pub fn storm(port: u16, n: usize) {
    let conns: Vec<TcpStream> = (0..n)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    for mut c in &conns {
        let _ = c.write_all(b"120 <13>1 - chaoshost storm - - - storm-partial");
    }
    std::thread::sleep(Duration::from_millis(1500));
    drop(conns);
}

/// For the ledger: ids a sender wrote, minus those it knows were refused.
pub fn sent(ledger: &Ledger) -> u64 {
    ledger.next - ledger.not_sent.len() as u64
}
