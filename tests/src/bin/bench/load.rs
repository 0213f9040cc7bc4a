//! The messages the benchmarks send. `bench` repeats one sshd line with a counter
//! (it compresses about 20 times); `real` varies what real hosts vary (host,
//! program, pid, severity, addresses, users, ids, durations, request paths), so
//! its JSON compresses about as real logs do (around 5 times) and the cost of
//! compression is measured honestly.

use clap::ValueEnum;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Load {
    /// One repeated RFC 5424 shape with a counter.
    Bench,
    /// Varied RFC 5424 messages from 40 hosts and 10 programs.
    Real,
}

/// A small deterministic generator (xorshift64*), so every run sends the same load.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn ip(&mut self) -> String {
        format!(
            "10.{}.{}.{}",
            self.below(256),
            self.below(256),
            1 + self.below(254)
        )
    }
}

const USERS: &[&str] = &[
    "root",
    "deploy",
    "alice",
    "bob",
    "backup",
    "www-data",
    "postgres",
    "ci-runner",
    "svc-metrics",
];
const PATHS: &[&str] = &[
    "/",
    "/login",
    "/api/v1/orders",
    "/api/v1/items",
    "/static/app.js",
    "/healthz",
    "/api/v2/search",
    "/admin",
    "/favicon.ico",
    "/api/v1/users/me",
];
const UNITS: &[&str] = &[
    "nginx.service",
    "cron.service",
    "docker.service",
    "ssh.service",
    "kubelet.service",
    "logrotate.service",
    "apt-daily.service",
    "certbot.timer",
];

/// One message's program, severity (PRI) and text.
fn body(rng: &mut Rng, seq: usize) -> (&'static str, u64, String) {
    match rng.below(10) {
        0 => (
            "sshd",
            4 * 8 + if rng.below(3) == 0 { 4 } else { 6 },
            match rng.below(3) {
                0 => format!(
                    "Accepted publickey for {} from {} port {} ssh2: ED25519 SHA256:{:016x}",
                    rng.pick(USERS),
                    rng.ip(),
                    1024 + rng.below(64000),
                    rng.next()
                ),
                1 => format!(
                    "Failed password for invalid user {} from {} port {} ssh2",
                    rng.pick(USERS),
                    rng.ip(),
                    1024 + rng.below(64000)
                ),
                _ => format!(
                    "pam_unix(sshd:session): session closed for user {}",
                    rng.pick(USERS)
                ),
            },
        ),
        1 => (
            "kernel",
            if rng.below(4) == 0 { 4 } else { 6 },
            match rng.below(3) {
                0 => format!(
                    "[{}.{:06}] eth{}: link {} at {} Mbps",
                    rng.below(900_000),
                    rng.below(1_000_000),
                    rng.below(4),
                    if rng.below(2) == 0 { "up" } else { "down" },
                    [100, 1000, 10000][rng.below(3) as usize]
                ),
                1 => format!(
                    "[UFW BLOCK] IN=eth0 OUT= SRC={} DST={} LEN={} PROTO=TCP SPT={} DPT={} SEQ={}",
                    rng.ip(),
                    rng.ip(),
                    40 + rng.below(1400),
                    1024 + rng.below(64000),
                    [22, 80, 443, 3389, 5432][rng.below(5) as usize],
                    rng.next() % 4_294_967_296
                ),
                _ => format!(
                    "Out of memory: Killed process {} (java) total-vm:{}kB, anon-rss:{}kB",
                    100 + rng.below(60000),
                    rng.below(9_000_000),
                    rng.below(4_000_000)
                ),
            },
        ),
        2 => (
            "CRON",
            9 * 8 + 6,
            format!(
                "({}) CMD (/usr/local/bin/job-{} --run {} > /dev/null 2>&1)",
                rng.pick(USERS),
                rng.below(40),
                seq
            ),
        ),
        3 | 4 => (
            "nginx",
            16 * 8 + if rng.below(8) == 0 { 3 } else { 6 },
            format!(
                "{} - - \"{} {}?id={} HTTP/1.1\" {} {} {:.3} \"-\" \"Mozilla/5.0 (X11; Linux x86_64) rv:{}\"",
                rng.ip(),
                ["GET", "POST", "PUT", "DELETE"][rng.below(4) as usize],
                rng.pick(PATHS),
                rng.below(1_000_000),
                [200, 200, 200, 201, 204, 301, 404, 500][rng.below(8) as usize],
                rng.below(200_000),
                rng.below(5000) as f64 / 1000.0,
                100 + rng.below(30)
            ),
        ),
        5 => (
            "systemd",
            3 * 8 + 6,
            format!(
                "{}: {} (pid {}), consumed {}.{:03}s CPU time",
                rng.pick(UNITS),
                ["Started", "Stopped", "Reloaded", "Deactivated successfully"][rng.below(4) as usize],
                1 + rng.below(4_000_000),
                rng.below(100),
                rng.below(1000)
            ),
        ),
        6 => (
            "sudo",
            10 * 8 + 5,
            format!(
                "{} : TTY=pts/{} ; PWD=/home/{} ; USER=root ; COMMAND=/usr/bin/systemctl restart {}",
                rng.pick(USERS),
                rng.below(8),
                rng.pick(USERS),
                rng.pick(UNITS)
            ),
        ),
        7 => (
            "postfix/smtpd",
            2 * 8 + 6,
            format!(
                "{:010X}: client=mail{}.example.org[{}], sasl_method=PLAIN, sasl_username={}@example.org",
                rng.next() % 0xFF_FFFF_FFFF,
                rng.below(20),
                rng.ip(),
                rng.pick(USERS)
            ),
        ),
        8 => (
            "dockerd",
            3 * 8 + if rng.below(5) == 0 { 4 } else { 6 },
            format!(
                "time=\"{}\" level=info msg=\"container {:016x}{:016x} exited\" exitCode={} duration={}ms",
                seq,
                rng.next(),
                rng.next(),
                rng.below(3),
                rng.below(100_000)
            ),
        ),
        _ => (
            "kubelet",
            3 * 8 + if rng.below(6) == 0 { 3 } else { 6 },
            format!(
                "I{:04} pod_workers.go:{}] \"Pod status updated\" pod=\"default/api-{:08x}\" podUID={:016x} restarts={}",
                rng.below(10000),
                100 + rng.below(1200),
                rng.next() % 0xFFFF_FFFF,
                rng.next(),
                rng.below(5)
            ),
        ),
    }
}

/// A varied RFC 5424 message dated `day` (YYYY-MM-DD) at a time within it.
pub fn real_message(rng: &mut Rng, day: &str, seq: usize) -> String {
    let host = format!("web{:02}.prod.example.net", rng.below(40));
    let (app, pri, text) = body(rng, seq);
    format!(
        "<{pri}>1 {day}T{:02}:{:02}:{:02}.{:06}Z {host} {app} {} - - {text}",
        rng.below(24),
        rng.below(60),
        rng.below(60),
        rng.below(1_000_000),
        1 + rng.below(4_000_000)
    )
}
