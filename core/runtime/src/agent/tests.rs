//! The agent's lifecycle in-process: start-up, a reload that swaps, one that is
//! refused, and one whose new pipeline cannot start (the running configuration
//! then runs again), with the built plugins of `target/release` (`cargo build
//! --release --workspace` first) and real sockets.

use super::components::Components;
use super::{prepare, Generation, Reloaded};
use crate::config::Config;
use crate::health::Health;
use crate::metrics::Metrics;
use crate::plugin_host::created;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// State directories whose next pipeline start fails as if the journal could
/// not be opened.
static FAIL_NEXT_START: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Called by `Pipeline::start` before it opens the journal.
pub(super) fn injected_start_failure(config: &Config) -> Result<(), String> {
    let mut marked = FAIL_NEXT_START.lock().unwrap_or_else(|e| e.into_inner());
    match marked.iter().position(|d| *d == config.state_dir) {
        Some(i) => {
            marked.remove(i);
            Err(format!(
                "journal in {}: cannot open it (failure injected by a test)",
                config.state_dir.join("journal").display()
            ))
        }
        None => Ok(()),
    }
}

/// The built plugins: beside the test binary's `deps/`.
fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    assert!(
        dir.join("libsyslane_plugin_file.so").is_file(),
        "no plugins in {}: run `cargo build --release --workspace` first",
        dir.display()
    );
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A test's directory, its configuration file and its output.
struct Setup {
    _dir: tempfile::TempDir,
    file: PathBuf,
    state_dir: PathBuf,
    out: PathBuf,
    port: u16,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let state_dir = dir.path().join("state");
        std::fs::create_dir(&state_dir).unwrap();
        Setup {
            file: dir.path().join("syslane.toml"),
            out: dir.path().join("out.jsonl"),
            state_dir,
            port: free_port(),
            _dir: dir,
        }
    }

    /// Writes a configuration: one TCP listener (on `address`, by default the
    /// test's port), a `select` filter, the `file` output, `workers` workers;
    /// `extra` goes into the filter's section.
    fn write(&self, address: Option<&str>, workers: usize, extra: &str) -> Config {
        let address = address.map_or(format!("tcp://127.0.0.1:{}", self.port), str::to_string);
        let text = format!(
            "state_dir = \"{}\"\nplugin_dir = \"{}\"\nhostname = \"lifecycle-test\"\n\
             workers = {workers}\n\
             [[listen]]\naddress = \"{address}\"\ninput = \"syslog\"\n\
             [[filter]]\nplugin = \"select\"\nmin_severity = \"debug\"\n{extra}\
             [output]\nplugin = \"file\"\npath = \"{}\"\n",
            self.state_dir.display(),
            plugin_dir().display(),
            self.out.display()
        );
        std::fs::write(&self.file, text).unwrap();
        Config::load(&self.file).unwrap()
    }

    /// Instances of `plugin` created for this test so far.
    fn created(&self, plugin: &str) -> usize {
        created::count(&self.state_dir.display().to_string(), plugin)
    }

    /// How often each message arrived in the output.
    fn delivered(&self) -> BTreeMap<String, usize> {
        let mut seen = BTreeMap::new();
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        for line in text.lines() {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            let message = record["SyslogMessage"].as_str().unwrap().to_string();
            *seen.entry(message).or_default() += 1;
        }
        seen
    }

    /// Waits until `count` messages arrived (or 30 s passed); returns them.
    async fn wait_for(&self, count: usize) -> BTreeMap<String, usize> {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let seen = self.delivered();
            if seen.len() >= count || Instant::now() > until {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Messages `tag-from` .. `tag-to` over `stream`, LF-framed.
async fn send(stream: &mut TcpStream, tag: &str, range: std::ops::Range<usize>) {
    let mut text = String::new();
    for i in range {
        text.push_str(&format!("<13>1 - h app - - - {tag}-{i}\n"));
    }
    stream.write_all(text.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
}

async fn connect(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port)).await.unwrap()
}

/// Every one of `expected` arrived exactly once, and nothing else.
fn assert_once(seen: &BTreeMap<String, usize>, expected: &[(&str, std::ops::Range<usize>)]) {
    let mut want = BTreeMap::new();
    for (tag, range) in expected {
        for i in range.clone() {
            want.insert(format!("{tag}-{i}"), 1);
        }
    }
    assert_eq!(*seen, want, "each message delivered once");
}

/// Starts `config` as `run` does.
async fn launch(config: &Config, metrics: &Arc<Metrics>, health: &Arc<Health>) -> Generation {
    let prepared = Components::instantiate(config, metrics).unwrap();
    Generation::launch(config, prepared, metrics, health)
        .await
        .unwrap()
}

/// Reloads from the configuration file as SIGHUP does.
async fn reload(
    generation: Generation,
    running: &Config,
    path: &Path,
    metrics: &Arc<Metrics>,
    health: &Arc<Health>,
) -> (Generation, Reloaded, Config) {
    let (new, prepared) = prepare(path, running, metrics).unwrap();
    let (generation, reloaded) = generation
        .reload(running, &new, prepared, metrics, health)
        .await
        .unwrap();
    (generation, reloaded, new)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_swaps_the_pipeline_and_every_record_arrives_once() {
    let setup = Setup::new();
    let old = setup.write(None, 1, "");
    let (metrics, health) = (Arc::new(Metrics::default()), Arc::new(Health::default()));
    let generation = launch(&old, &metrics, &health).await;
    let mut kept = connect(setup.port).await;
    send(&mut kept, "before", 0..50).await;
    assert_eq!(setup.wait_for(50).await.len(), 50);

    setup.write(None, 2, "");
    let (generation, reloaded, new) =
        reload(generation, &old, &setup.file, &metrics, &health).await;
    assert!(reloaded.outcome.is_ok(), "{:?}", reloaded.outcome);
    assert!(reloaded.kept_sockets, "only workers changed");
    assert_eq!(new.pipeline.workers, 2);
    // The connection opened before the reload goes on, and so does a new one.
    send(&mut kept, "kept", 0..50).await;
    send(&mut connect(setup.port).await, "after", 0..50).await;
    let seen = setup.wait_for(150).await;
    generation.stop(Duration::from_secs(5)).await;
    assert_once(
        &seen,
        &[("before", 0..50), ("kept", 0..50), ("after", 0..50)],
    );
    assert_eq!(Metrics::get(&metrics.records_journaled), 150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_creates_each_instance_once() {
    let setup = Setup::new();
    let old = setup.write(None, 1, "");
    let (metrics, health) = (Arc::new(Metrics::default()), Arc::new(Health::default()));
    let generation = launch(&old, &metrics, &health).await;
    // One worker: one decoder and one filter; and the output.
    let counts = |s: &Setup| (s.created("syslog"), s.created("select"), s.created("file"));
    assert_eq!(counts(&setup), (1, 1, 1));

    setup.write(None, 3, "");
    let (generation, reloaded, _) = reload(generation, &old, &setup.file, &metrics, &health).await;
    assert!(reloaded.outcome.is_ok(), "{:?}", reloaded.outcome);
    // Prepared once for the check, and those very instances run: three workers'
    // decoders and filters, one output; nothing created again at the start.
    assert_eq!(counts(&setup), (1 + 3, 1 + 3, 1 + 1));
    send(&mut connect(setup.port).await, "m", 0..10).await;
    let seen = setup.wait_for(10).await;
    generation.stop(Duration::from_secs(5)).await;
    assert_once(&seen, &[("m", 0..10)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_reload_keeps_the_running_configuration() {
    let setup = Setup::new();
    let old = setup.write(None, 1, "");
    let (metrics, health) = (Arc::new(Metrics::default()), Arc::new(Health::default()));
    let generation = launch(&old, &metrics, &health).await;
    let mut stream = connect(setup.port).await;
    send(&mut stream, "before", 0..20).await;
    assert_eq!(setup.wait_for(20).await.len(), 20);

    // The select plugin refuses a key it does not know.
    setup.write(None, 2, "colour = \"blue\"\n");
    let refused = match prepare(&setup.file, &old, &metrics) {
        Ok(_) => panic!("a filter option the plugin does not know was accepted"),
        Err(e) => e,
    };
    assert!(
        refused.contains("syslane.toml") && refused.contains("colour"),
        "the error names the file and the key: {refused}"
    );
    assert_eq!(
        setup.created("select"),
        1,
        "the refused filter was never created"
    );
    // The running configuration goes on, on the same connection.
    send(&mut stream, "after", 0..20).await;
    let seen = setup.wait_for(40).await;
    generation.stop(Duration::from_secs(5)).await;
    assert_once(&seen, &[("before", 0..20), ("after", 0..20)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_new_pipeline_cannot_start_the_old_configuration_runs_again() {
    let setup = Setup::new();
    let old = setup.write(None, 1, "");
    let (metrics, health) = (Arc::new(Metrics::default()), Arc::new(Health::default()));
    let generation = launch(&old, &metrics, &health).await;
    let mut kept = connect(setup.port).await;
    send(&mut kept, "before", 0..30).await;
    assert_eq!(setup.wait_for(30).await.len(), 30);

    setup.write(None, 2, "");
    FAIL_NEXT_START
        .lock()
        .unwrap()
        .push(setup.state_dir.clone());
    let (generation, reloaded, _) = reload(generation, &old, &setup.file, &metrics, &health).await;
    let failed = reloaded.outcome.unwrap_err();
    assert!(failed.contains("cannot open it"), "{failed}");
    assert!(reloaded.kept_sockets);
    // The old configuration was instantiated again (one worker) and runs: the
    // kept connection and a new one are served.
    assert_eq!(setup.created("syslog"), 1 + 2 + 1);
    send(&mut kept, "kept", 0..30).await;
    send(&mut connect(setup.port).await, "after", 0..30).await;
    let seen = setup.wait_for(90).await;
    generation.stop(Duration::from_secs(5)).await;
    assert_once(
        &seen,
        &[("before", 0..30), ("kept", 0..30), ("after", 0..30)],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_new_listeners_cannot_open_the_old_configuration_runs_again() {
    let setup = Setup::new();
    let old = setup.write(None, 1, "");
    let (metrics, health) = (Arc::new(Metrics::default()), Arc::new(Health::default()));
    let generation = launch(&old, &metrics, &health).await;
    send(&mut connect(setup.port).await, "before", 0..30).await;
    assert_eq!(setup.wait_for(30).await.len(), 30);

    // An address of no interface here (TEST-NET-1): binding it fails at once.
    setup.write(Some("tcp://192.0.2.1:514"), 1, "");
    let (generation, reloaded, _) = reload(generation, &old, &setup.file, &metrics, &health).await;
    let failed = reloaded.outcome.unwrap_err();
    assert!(failed.contains("192.0.2.1"), "{failed}");
    assert!(!reloaded.kept_sockets);
    send(&mut connect(setup.port).await, "after", 0..30).await;
    let seen = setup.wait_for(60).await;
    generation.stop(Duration::from_secs(5)).await;
    assert_once(&seen, &[("before", 0..30), ("after", 0..30)]);
}
