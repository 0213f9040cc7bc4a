//! End-to-end benchmark: the real agent (TCP listener → syslog decoder → select
//! filter → file output) fed by N senders over loopback with octet-counted RFC 5424.
//! Prints records per second from the first byte sent to the last record written,
//! and the agent's peak resident memory.
//!
//!   cargo build --release --workspace
//!   target/release/syslane-bench [--messages 1000000] [--connections 1,8] [--workers N] [--filter select,redact]
//!
//! With `--azure 1,4` it ships instead to the workspace emulator over HTTPS with
//! gzip (the azure output at its defaults with 1, then 4 concurrent requests) and
//! reports records per second, compressed bytes per record and requests per second.
//!
//! `--load bench,real` (the default: both) chooses the messages: one repeated
//! shape, or varied ones that compress as real logs do (`bench/load.rs`).
//!
//! With `--rsyslog` the senders talk to a real rsyslogd running the shipped drop-in
//! (rsyslog.d/95-syslane.conf, ports and spool directory rewritten), which forwards
//! to the agent: the path of a real host, rsyslog -> syslane -> file.
//!
//! With `--parse` it measures the parser and the decoders alone on one core, with no
//! I/O, over a mix of RFC 5424, RFC 3164 and CEF, then CEF and Cisco ASA/FTD lines
//! apart in nanoseconds per record (see `bench/parse.rs`).
//!
//! With `--chaos [--seed N] [--duration SECS]` it runs the chaos run (as root, for
//! its tmpfs): faults at random from a printed seed, then the ledger per transport
//! (see `bench/chaos/mod.rs`).
//!
//! With `--paused-loss 0,65536 [--rounds N]` it measures what a kill -9 loses
//! from a TCP connection paused by a full journal, per `tcp_receive_buffer`
//! (see `bench/paused_loss.rs`).
//!
//! With `--steady 10000 [--steady-seconds 60]` it runs the agent at a fixed rate
//! shipping to the workspace emulator, and prints its CPU and memory at that rate
//! (see `bench/steady.rs`).

use clap::{CommandFactory, Parser, ValueEnum};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};
#[path = "bench/chaos/mod.rs"]
mod chaos;
#[path = "bench/compare.rs"]
mod compare;
#[path = "bench/compression.rs"]
mod compression;
#[path = "bench/load.rs"]
mod load;
#[path = "bench/parse.rs"]
mod parse;
#[path = "bench/paused_loss.rs"]
mod paused_loss;
#[path = "bench/steady.rs"]
mod steady;

use load::Load;
use syslane_tests::{
    build_dir, config_text, free_port, octet_stream, peak_rss_kib, workspace_root, Agent, Rsyslog,
};

/// What runs between the decoder and the journal in the pipeline benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum FilterMode {
    /// No filter.
    None,
    /// select with min_severity = "debug" (keeps everything; the default).
    Select,
    /// redact with every preset (password, secret, token, bearer, card_number).
    Redact,
    /// enrich adding two static fields.
    Enrich,
}

impl FilterMode {
    fn tables(self) -> &'static str {
        match self {
            FilterMode::None => "",
            FilterMode::Select => "[[filter]]\nplugin = \"select\"\nmin_severity = \"debug\"\n",
            FilterMode::Redact => "[[filter]]\nplugin = \"redact\"\npresets = [\"password\", \"secret\", \"token\", \"bearer\", \"card_number\"]\n",
            FilterMode::Enrich => "[[filter]]\nplugin = \"enrich\"\nfields = { Environment = \"bench\", Team = \"platform\" }\n",
        }
    }
}

/// End-to-end benchmarks of the real agent over loopback. Without a mode option
/// it measures the pipeline: TCP octet-counted RFC 5424 -> syslog -> filter ->
/// journal -> file output, once per --connections and --filter value, printing
/// records per second and the agent's peak RSS. Build first with
/// `cargo build --release --workspace`.
#[derive(Parser, Debug)]
#[command(name = "syslane-bench", version)]
struct Args {
    /// Messages sent in each run.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    messages: usize,
    /// Concurrent TCP connections; one run per value.
    #[arg(long, value_name = "N,N,...", value_delimiter = ',', default_values_t = [1, 8])]
    connections: Vec<usize>,
    /// The agent's pipeline workers (default: its own choice, from the cores).
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// The journal's fsync policy: "batch" (the default) or an interval such as 200ms.
    #[arg(long, value_name = "POLICY")]
    fsync: Option<String>,
    /// The messages: `bench` (one repeated shape, compresses ~20x) and/or `real`
    /// (varied hosts, programs, pids, addresses and ids, compresses ~5x); one run
    /// per value, for the pipeline and --azure modes.
    #[arg(long, value_enum, value_name = "LOAD,...", value_delimiter = ',', default_values_t = [Load::Bench, Load::Real])]
    load: Vec<Load>,
    /// Filters compared in the pipeline run; one run per value (e.g. select,redact).
    #[arg(long, value_enum, value_name = "FILTER,...", value_delimiter = ',', default_values_t = [FilterMode::Select])]
    filter: Vec<FilterMode>,
    /// Mode: fill the journal to this many MiB with the output failing, kill -9 the
    /// agent and time the restart and the delivery of the backlog.
    #[arg(long, value_name = "MIB", group = "mode")]
    recovery_mib: Option<u64>,
    /// Mode: ship to the workspace emulator over HTTPS with gzip, one run per
    /// number of concurrent requests (e.g. 1,4); prints records and requests per
    /// second and gzip bytes per record.
    #[arg(long, value_name = "N,N,...", value_delimiter = ',', group = "mode")]
    azure: Option<Vec<usize>>,
    /// Mode: a real rsyslogd running the shipped drop-in in front of the agent
    /// (rsyslog -> syslane -> file).
    #[arg(long, group = "mode")]
    rsyslog: bool,
    /// Mode: the parser and the decoders alone on one core (no I/O), over --messages
    /// distinct messages (at most 200000) of a realistic mix; prints messages per
    /// second per core, --rounds times.
    #[arg(long, group = "mode")]
    parse: bool,
    /// Mode: the azure output's compression_level on each --load: the records of
    /// --messages messages (at most 200000) as the output receives them, in 1 MB
    /// requests, gzipped at every level on one core; prints bytes per record and
    /// milliseconds per MB of JSON.
    #[arg(long, group = "mode")]
    compression: bool,
    /// Mode: the chaos run: an agent with RELP, TCP, UDP and unix listeners shipping
    /// to the emulator, state on a 64 MiB tmpfs (needs root), under a random
    /// schedule of kill -9, reloads, a full disk, output faults, connection storms
    /// and slow senders; then the ledger per transport. Exits 1 on a violation.
    #[arg(long, group = "mode")]
    chaos: bool,
    /// The chaos run's seed (default: from the clock); printed for a replay.
    #[arg(long, value_name = "N", requires = "chaos")]
    seed: Option<u64>,
    /// The chaos run's length in seconds, before the final drain.
    #[arg(long, value_name = "SECS", default_value_t = 60, requires = "chaos")]
    duration: u64,
    /// Mode: what a kill -9 loses from a TCP connection paused by a full journal,
    /// once per `tcp_receive_buffer` given (bytes; 0 = the kernel's autotuning),
    /// --rounds times, interleaved (see `bench/paused_loss.rs`).
    #[arg(long, value_name = "BYTES,...", value_delimiter = ',', group = "mode")]
    paused_loss: Option<Vec<usize>>,
    /// Mode: the agent at a fixed rate of EPS messages a second (`real` load, one
    /// TCP connection) for --steady-seconds, shipping to the workspace emulator at
    /// the azure output's defaults; prints its CPU (percent of one core, seconds
    /// per million records) and its mean and peak RSS.
    #[arg(long, value_name = "EPS", group = "mode")]
    steady: Option<u64>,
    /// How long --steady sends.
    #[arg(long, value_name = "SECS", default_value_t = 60, requires = "steady")]
    steady_seconds: u64,
    /// The agent's `tcp_receive_buffer` in the pipeline benchmark (default: unset,
    /// the kernel's autotuning).
    #[arg(long, value_name = "BYTES")]
    tcp_receive_buffer: Option<usize>,
    /// Rounds of the --parse measurement (2 s each for the parser and the
    /// decoders) and of --paused-loss.
    #[arg(long, value_name = "N", default_value_t = 3)]
    rounds: usize,
    /// With --parse: first compare syslane-syslog with the syslog_loose crate (fields
    /// agreeing on the shared corpus and the device-header cases, and speed).
    #[arg(long, requires = "parse")]
    compare: bool,
}

fn args() -> Args {
    let a = Args::parse();
    if a.messages == 0 || a.connections.contains(&0) || a.workers == Some(0) {
        Args::command()
            .error(
                clap::error::ErrorKind::ValueValidation,
                "--messages, --connections and --workers must be at least 1",
            )
            .exit();
    }
    if a.connections.iter().any(|c| *c > a.messages) {
        Args::command()
            .error(
                clap::error::ErrorKind::ValueValidation,
                "--connections cannot exceed --messages",
            )
            .exit();
    }
    a
}

/// Today's date in UTC: the messages are dated today, as rsyslog forwards them, so
/// their time is within the window TimeGenerated accepts (a fixed date would soon be
/// a device with a wrong clock, whose records take the receive time instead).
fn today() -> &'static str {
    static TODAY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TODAY.get_or_init(|| {
        jiff::tz::TimeZone::UTC
            .to_datetime(jiff::Timestamp::now())
            .date()
            .to_string()
    })
}

/// A realistic message: RFC 5424 with a timestamp, host, app, pid and ~100 bytes of text.
fn message(conn: usize, i: usize) -> String {
    format!(
        "<38>1 {}T10:{:02}:{:02}.{:06}Z web-{conn:02}.example.com sshd {} - - Accepted publickey for deploy from 192.0.2.{} port {} ssh2: ED25519 SHA256:abc{i}",
        today(),
        (i / 60) % 60,
        i % 60,
        i % 1_000_000,
        1000 + conn,
        i % 250,
        40000 + i % 20000
    )
}

/// `n` messages of connection `conn` under `load`.
fn messages(load: Load, conn: usize, n: usize) -> impl Iterator<Item = String> {
    let mut rng = load::Rng::new(conn as u64 + 1);
    (0..n).map(move |i| match load {
        Load::Bench => message(conn, i),
        Load::Real => load::real_message(&mut rng, today(), i),
    })
}

/// Counts newlines appended to `path` since `offset`.
fn count_new_lines(path: &Path, offset: &mut u64, buf: &mut Vec<u8>) -> usize {
    let Ok(mut f) = std::fs::File::open(path) else {
        return 0;
    };
    if f.seek(SeekFrom::Start(*offset)).is_err() {
        return 0;
    }
    buf.clear();
    let n = f.read_to_end(buf).unwrap_or(0);
    *offset += n as u64;
    buf.iter().filter(|b| **b == b'\n').count()
}

fn run(load: Load, count: usize, connections: usize, a: &Args, filter: FilterMode) {
    let (workers, fsync) = (a.workers, a.fsync.as_deref());
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("records.jsonl");
    let mut config = config_text(&build_dir(), port, filter.tables(), &out);
    if let Some(w) = workers {
        config = format!("workers = {w}\n{config}");
    }
    if let Some(f) = fsync {
        config = format!("fsync = \"{f}\"\n{config}");
    }
    if let Some(b) = a.tcp_receive_buffer {
        config = format!("tcp_receive_buffer = {b}\n{config}");
    }
    let agent = Agent::start(dir.path(), &config);
    let per_conn = count / connections;
    let total = per_conn * connections;
    let streams: Vec<Vec<u8>> = (0..connections)
        .map(|c| octet_stream(messages(load, c, per_conn)))
        .collect();
    let bytes: usize = streams.iter().map(Vec::len).sum();

    let start = Instant::now();
    let senders: Vec<_> = streams
        .into_iter()
        .map(|stream| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                for chunk in stream.chunks(256 * 1024) {
                    s.write_all(chunk).unwrap();
                }
            })
        })
        .collect();
    let mut seen = 0;
    let mut offset = 0;
    let mut buf = Vec::new();
    let deadline = start + Duration::from_secs(600);
    while seen < total && Instant::now() < deadline {
        seen += count_new_lines(&out, &mut offset, &mut buf);
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = start.elapsed().as_secs_f64();
    for s in senders {
        s.join().unwrap();
    }
    let rss = peak_rss_kib(agent.pid()).unwrap_or(0);
    let (status, _) = agent.stop();
    assert!(status.success());
    assert_eq!(seen, total, "not every record arrived");
    println!(
        "load={load:?} filter={filter:?} fsync={:<6} tcp_receive_buffer={} tcp connections={connections:<2} records={total} seconds={elapsed:.2} records_per_sec={:.0} input_MB_per_sec={:.1} output_bytes_per_record={} peak_rss_MiB={:.1}",
        fsync.unwrap_or("batch"),
        a.tcp_receive_buffer.map_or("kernel".to_string(), |b| b.to_string()),
        total as f64 / elapsed,
        bytes as f64 / elapsed / 1e6,
        offset / total as u64,
        rss as f64 / 1024.0
    );
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Fills the journal to `mib` MiB with the output failing, kills the agent with
/// SIGKILL, and times the restart (recovery scan) and the delivery of the backlog.
fn recovery(mib: u64) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!(
        "journal_max_bytes = {}\nfsync = \"200ms\"\n",
        (4 * mib) << 20
    );
    let stuck = format!(
        "{base}{}",
        config_text(&build_dir(), port, "", Path::new("/dev/full"))
    );
    let agent = Agent::start(dir.path(), &stuck);
    let journal = dir.path().join("state/journal");
    let mut sender = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut i = 0;
    while dir_bytes(&journal) < mib << 20 {
        sender
            .write_all(&octet_stream((i..i + 20_000).map(|n| message(0, n))))
            .unwrap();
        i += 20_000;
    }
    std::thread::sleep(Duration::from_millis(500));
    let journaled = dir_bytes(&journal);
    let _ = agent.kill9();
    drop(sender);

    let out = dir.path().join("records.jsonl");
    let start = Instant::now();
    let agent = Agent::start(
        dir.path(),
        &format!("{base}{}", config_text(&build_dir(), port, "", &out)),
    );
    let ready = start.elapsed().as_secs_f64();
    let (mut seen, mut offset, mut buf, mut last_change) = (0, 0, Vec::new(), Instant::now());
    while last_change.elapsed() < Duration::from_secs(2) {
        let n = count_new_lines(&out, &mut offset, &mut buf);
        if n > 0 {
            seen += n;
            last_change = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let drained = (last_change - start).as_secs_f64();
    let (status, _) = agent.stop();
    assert!(status.success());
    println!(
        "recovery journal_MiB={} records={seen} journal_bytes_per_record={} restart_to_ready_seconds={ready:.2} backlog_delivered_seconds={drained:.2} backlog_records_per_sec={:.0}",
        journaled >> 20,
        journaled / seen.max(1) as u64,
        seen as f64 / drained
    );
}

/// The azure output to the emulator at its defaults (batches of what its
/// concurrent requests carry, the linger on, gzip level 1) but for `concurrency`.
fn azure(load: Load, count: usize, concurrency: usize) {
    use syslane_tests::emulator::{azure_config, Emulator, SYSLOG_STREAM};
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), &[]);
    let port = free_port();
    let output = emu.output_toml(
        "client_secret",
        &format!("max_concurrent_requests = {concurrency}"),
    );
    let config = azure_config(&build_dir(), port, &output);
    let agent = Agent::start(dir.path(), &config);
    let messages = count;
    let stream = octet_stream(self::messages(load, 0, messages));
    let start = Instant::now();
    let sender = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        for chunk in stream.chunks(256 * 1024) {
            s.write_all(chunk).unwrap();
        }
    });
    let done = emu.wait_for(SYSLOG_STREAM, messages, Duration::from_secs(600));
    let elapsed = start.elapsed().as_secs_f64();
    sender.join().unwrap();
    let rss = peak_rss_kib(agent.pid()).unwrap_or(0);
    agent.stop();
    assert!(done, "not every record arrived: {}", emu.stats());
    let stats = emu.stats();
    let compressed = stats["bytes_compressed"].as_u64().unwrap_or(0);
    let plain = stats["bytes_uncompressed"].as_u64().unwrap_or(0);
    let requests = stats["statuses"]["204"].as_u64().unwrap_or(0);
    println!(
        "azure load={load:?} concurrency={concurrency} records={messages} seconds={elapsed:.2} records_per_sec={:.0} requests={requests} requests_per_sec={:.1} gzip_bytes_per_record={:.1} json_bytes_per_record={:.1} ratio={:.1} peak_rss_MiB={:.1}",
        messages as f64 / elapsed,
        requests as f64 / elapsed,
        compressed as f64 / messages as f64,
        plain as f64 / messages as f64,
        plain as f64 / compressed.max(1) as f64,
        rss as f64 / 1024.0
    );
}

/// rsyslog with the shipped drop-in in front of the agent; one sender.
fn through_rsyslog(messages: usize) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let rsyslog_port = free_port();
    let out = dir.path().join("records.jsonl");
    let agent = Agent::start(dir.path(), &config_text(&build_dir(), port, "", &out));
    let spool = dir.path().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let drop_in = std::fs::read_to_string(workspace_root().join("rsyslog.d/95-syslane.conf"))
        .unwrap()
        .replace("25224", &port.to_string())
        .replace("25226", &free_port().to_string())
        .replace("/var/spool/rsyslog", spool.to_str().unwrap());
    let rsyslog = Rsyslog::start(
        dir.path(),
        &format!("module(load=\"imtcp\")\ninput(type=\"imtcp\" port=\"{rsyslog_port}\" address=\"127.0.0.1\")\n{drop_in}"),
    );
    std::thread::sleep(Duration::from_millis(300));
    let stream = octet_stream((0..messages).map(|i| message(0, i)));
    let start = Instant::now();
    let sender = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", rsyslog_port)).unwrap();
        for chunk in stream.chunks(256 * 1024) {
            s.write_all(chunk).unwrap();
        }
    });
    let (mut seen, mut offset, mut buf) = (0, 0, Vec::new());
    let deadline = start + Duration::from_secs(600);
    while seen < messages && Instant::now() < deadline {
        seen += count_new_lines(&out, &mut offset, &mut buf);
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = start.elapsed().as_secs_f64();
    sender.join().unwrap();
    let rss = peak_rss_kib(agent.pid()).unwrap_or(0);
    drop(rsyslog);
    let (status, _) = agent.stop();
    assert!(status.success());
    assert_eq!(seen, messages, "not every record arrived");
    println!(
        "rsyslog -> syslane -> file: records={messages} seconds={elapsed:.2} records_per_sec={:.0} syslane_peak_rss_MiB={:.1}",
        messages as f64 / elapsed,
        rss as f64 / 1024.0
    );
}

fn main() {
    let a = args();
    if a.chaos {
        let seed = a.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_secs())
        });
        if !chaos::run(seed, a.duration) {
            std::process::exit(1);
        }
        return;
    }
    if a.parse {
        parse::run(a.messages, a.rounds, a.compare);
        return;
    }
    if let Some(buffers) = &a.paused_loss {
        paused_loss::run(buffers, a.rounds);
        return;
    }
    if let Some(eps) = a.steady {
        println!("syslane at a steady rate: TCP octet-counted RFC 5424 -> syslog -> journal -> azure output -> workspace emulator over HTTPS ({} cores)", std::thread::available_parallelism().map_or(0, |n| n.get()));
        steady::run(eps.max(1), a.steady_seconds.max(1), today());
        return;
    }
    if a.compression {
        let n = a.messages.min(200_000);
        compression::run(&a.load, |load| messages(load, 0, n).collect());
        return;
    }
    if a.rsyslog {
        println!("syslane behind rsyslog: TCP -> rsyslogd (shipped drop-in, disk-assisted queue) -> TCP octet-counted RFC 5424 -> syslane -> file ({} cores)", std::thread::available_parallelism().map_or(0, |n| n.get()));
        through_rsyslog(a.messages);
        return;
    }
    if let Some(levels) = &a.azure {
        println!("syslane azure benchmark: TCP octet-counted RFC 5424 -> syslog -> azure output -> workspace emulator over HTTPS ({} cores)", std::thread::available_parallelism().map_or(0, |n| n.get()));
        for &load in &a.load {
            for &c in levels {
                azure(load, a.messages, c);
            }
        }
        return;
    }
    if let Some(mib) = a.recovery_mib {
        recovery(mib);
        return;
    }
    println!("syslane end-to-end benchmark: TCP octet-counted RFC 5424 -> syslog -> filter -> journal -> file ({} cores)", std::thread::available_parallelism().map_or(0, |n| n.get()));
    for &load in &a.load {
        for &c in &a.connections {
            for &f in &a.filter {
                run(load, a.messages, c, &a, f);
            }
        }
    }
}
