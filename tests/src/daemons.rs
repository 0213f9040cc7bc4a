//! The syslog daemons the tests put in front of the agent: a real rsyslogd or
//! syslog-ng, started in the foreground with a test's own configuration.

use crate::*;

/// A real syslog daemon (rsyslogd or syslog-ng) in the foreground with its own
/// configuration in a test's directory (never the system's), its stderr kept for
/// the test's messages, stopped with SIGTERM when dropped. Start one with
/// [`Rsyslog::start`] or [`SyslogNg::start`].
pub struct Daemon {
    child: Child,
    logs: Arc<Mutex<String>>,
}

impl Daemon {
    /// Writes `config` to `conf`, has `program` check it with `check_args`
    /// (failing the test with the daemon's words when it refuses), then starts it
    /// with `run_args`.
    fn start(
        program: &Path,
        conf: &Path,
        config: &str,
        check_args: &[&str],
        run: &mut Command,
    ) -> Daemon {
        std::fs::write(conf, config).unwrap();
        let check = Command::new(program)
            .args(check_args)
            .arg(conf)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{} {} refused the test config:\n{}{}",
            program.display(),
            check_args.join(" "),
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let (child, logs) = spawn_captured(run);
        Daemon { child, logs }
    }

    /// What the daemon wrote to stderr so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new(tool("kill"))
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// rsyslogd as a test [`Daemon`].
pub struct Rsyslog;

impl Rsyslog {
    /// Starts `rsyslogd -n` with `config` written to `dir/rsyslog.conf` (checked
    /// with `-N1` first); the work directory and pid file live in `dir` too.
    pub fn start(dir: &Path, config: &str) -> Daemon {
        let rsyslogd = tool("rsyslogd");
        let work = dir.join("rsyslog-work");
        std::fs::create_dir_all(&work).unwrap();
        let conf = dir.join("rsyslog.conf");
        let config = format!("global(workDirectory=\"{}\")\n{config}", work.display());
        let mut run = Command::new(&rsyslogd);
        run.args(["-n", "-f"])
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"));
        Daemon::start(&rsyslogd, &conf, &config, &["-N1", "-f"], &mut run)
    }
}

/// syslog-ng as a test [`Daemon`].
pub struct SyslogNg;

impl SyslogNg {
    /// The `syslog-ng` program: Debian's syslog-ng-core conflicts with rsyslog, so
    /// scripts/test unpacks it beside rsyslog and puts a `syslog-ng` wrapper on PATH.
    pub fn program() -> PathBuf {
        tool("syslog-ng")
    }

    /// `@version` for the installed syslog-ng (major.minor).
    pub fn version() -> String {
        let out = Command::new(Self::program())
            .arg("--version")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let v = text
            .lines()
            .find_map(|l| l.strip_prefix("Installer-Version:"))
            .unwrap_or_else(|| panic!("syslog-ng --version: {text}"))
            .trim()
            .to_string();
        v.split('.').take(2).collect::<Vec<_>>().join(".")
    }

    /// Starts `syslog-ng -F` with `config` written to `dir/syslog-ng.conf`
    /// (checked with `--syntax-only` first); its persist file, pid file and
    /// control socket live in `dir` too.
    pub fn start(dir: &Path, config: &str) -> Daemon {
        let program = Self::program();
        let conf = dir.join("syslog-ng.conf");
        let mut run = Command::new(&program);
        run.arg("-F")
            .arg("-f")
            .arg(&conf)
            .arg("-R")
            .arg(dir.join("syslog-ng.persist"))
            .arg("-p")
            .arg(dir.join("syslog-ng.pid"))
            .arg("-c")
            .arg(dir.join("syslog-ng.ctl"))
            .arg("--no-caps");
        Daemon::start(&program, &conf, config, &["--syntax-only", "-f"], &mut run)
    }
}

/// rsyslog configuration: plain TCP in on `in_port`, everything forwarded with
/// omrelp to `relp_port` through a disk-assisted queue that retries for ever.
pub fn rsyslog_relp_forwarder(in_port: u16, relp_port: u16) -> String {
    format!(
        r#"module(load="imtcp")
input(type="imtcp" port="{in_port}" address="127.0.0.1")
module(load="omrelp")
*.* action(type="omrelp" target="127.0.0.1" port="{relp_port}" template="RSYSLOG_SyslogProtocol23Format"
           queue.type="LinkedList" queue.filename="relp-fwd" queue.size="1000000" queue.saveOnShutdown="on"
           action.resumeRetryCount="-1" action.resumeInterval="1")
"#
    )
}

/// A shipped drop-in (`rsyslog.d/95-syslane.conf`, `syslog-ng.d/syslane.conf`)
/// with a test's syslog and CEF ports and spool directory in place of the
/// packaged ones.
pub fn shipped_drop_in(path: &str, syslog: u16, cef: u16, spool: &Path) -> String {
    let text = std::fs::read_to_string(workspace_root().join(path)).unwrap();
    assert!(text.contains("25224") && text.contains("25226"));
    text.replace("25224", &syslog.to_string())
        .replace("25226", &cef.to_string())
        .replace("/var/spool/rsyslog", &spool.display().to_string())
}

/// A real rsyslogd whose configuration is a TCP input on `daemon_in` and the
/// shipped drop-in (`rsyslog.d/95-syslane.conf`) with the test's syslog and CEF
/// ports and a spool directory under `dir`.
pub fn rsyslog_with_shipped_drop_in(dir: &Path, daemon_in: u16, syslog: u16, cef: u16) -> Daemon {
    let spool = dir.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let drop_ins = dir.join("rsyslog.d");
    std::fs::create_dir_all(&drop_ins).unwrap();
    std::fs::write(
        drop_ins.join("95-syslane.conf"),
        shipped_drop_in("rsyslog.d/95-syslane.conf", syslog, cef, &spool),
    )
    .unwrap();
    Rsyslog::start(
        dir,
        &format!(
            "module(load=\"imtcp\")\ninput(type=\"imtcp\" port=\"{daemon_in}\" address=\"127.0.0.1\")\ninclude(file=\"{}/*.conf\")\n",
            drop_ins.display()
        ),
    )
}

/// Debian's stock global options (syslog-ng.conf of Debian 12), which leave
/// `keep_hostname()` at its default `no`: the drop-in must keep relayed host names.
pub const SYSLOG_NG_DEBIAN_OPTIONS: &str = "options { chain_hostnames(off); flush_lines(0); use_dns(no); use_fqdn(no); \
     dns_cache(no); owner(\"root\"); group(\"adm\"); perm(0640); stats_freq(0); bad_hostname(\"^gconfd$\"); };";

/// A real syslog-ng with Debian's stock options, its `s_src` a TCP source on
/// `daemon_in`, and the shipped drop-in (`syslog-ng.d/syslane.conf`) with the
/// test's syslog and CEF ports.
pub fn syslog_ng_with_shipped_drop_in(dir: &Path, daemon_in: u16, syslog: u16, cef: u16) -> Daemon {
    let drop_in = dir.join("syslane-ng.conf");
    std::fs::write(
        &drop_in,
        shipped_drop_in("syslog-ng.d/syslane.conf", syslog, cef, &dir.join("spool")),
    )
    .unwrap();
    SyslogNg::start(
        dir,
        &format!(
            "@version: {}\n{SYSLOG_NG_DEBIAN_OPTIONS}\n\
             source s_src {{ network(ip(\"127.0.0.1\") port({daemon_in}) transport(\"tcp\")); }};\n@include \"{}\"\n",
            SyslogNg::version(),
            drop_in.display()
        ),
    )
}
