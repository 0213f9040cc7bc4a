//! `syslane syslog-config`: writes the rsyslog or syslog-ng drop-in for a selection,
//! checks it with the daemon's own checker, installs or removes it, and reports the
//! leftovers of the retired Log Analytics agent (omsagent).

pub(crate) mod render;

use render::{Rule, Selection};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Daemon {
    Rsyslog,
    SyslogNg,
}

impl Daemon {
    fn name(self) -> &'static str {
        match self {
            Daemon::Rsyslog => "rsyslog",
            Daemon::SyslogNg => "syslog-ng",
        }
    }
    fn default_dir(self) -> &'static str {
        match self {
            Daemon::Rsyslog => "/etc/rsyslog.d",
            Daemon::SyslogNg => "/etc/syslog-ng/conf.d",
        }
    }
    fn file_name(self) -> &'static str {
        match self {
            Daemon::Rsyslog => "95-syslane.conf",
            Daemon::SyslogNg => "syslane.conf",
        }
    }
    fn binary(self) -> &'static str {
        match self {
            Daemon::Rsyslog => "rsyslogd",
            Daemon::SyslogNg => "syslog-ng",
        }
    }
}

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Which daemon to write for; by default the one installed (rsyslog first).
    #[arg(long, value_enum)]
    pub daemon: Option<Daemon>,
    /// Forward FACILITY from SEVERITY up, such as auth=info; repeat for more.
    #[arg(long = "facility", value_name = "FACILITY=SEVERITY")]
    pub facilities: Vec<String>,
    /// Forward every facility from SEVERITY up.
    #[arg(long, value_name = "SEVERITY")]
    pub all: Option<String>,
    /// syslane's syslog port on 127.0.0.1.
    #[arg(long, default_value_t = 25224)]
    pub port: u16,
    /// syslane's CEF port on 127.0.0.1, for CEF and Cisco ASA/FTD events.
    #[arg(long, default_value_t = 25226)]
    pub cef_port: u16,
    /// Leaves CEF and Cisco ASA/FTD events in the plain syslog stream.
    #[arg(long)]
    pub no_cef: bool,
    /// Forwards the plain stream to syslane's unix datagram socket at this path
    /// (rsyslog omuxsock, syslog-ng unix-dgram) instead of TCP to --port; the
    /// configuration needs a matching `unix://` listener.
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = render::UNIX_SOCKET)]
    pub unix_socket: Option<String>,
    /// Where rsyslog keeps its queue files.
    #[arg(long, default_value = "/var/spool/rsyslog")]
    pub spool_dir: String,
    /// The daemon's drop-in directory (default /etc/rsyslog.d or /etc/syslog-ng/conf.d).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Writes the drop-in to this file instead of standard output.
    #[arg(long, conflicts_with_all = ["install", "remove"])]
    pub output: Option<PathBuf>,
    /// Installs the drop-in in the daemon's directory (atomically) and reloads it.
    #[arg(long, conflicts_with = "remove")]
    pub install: bool,
    /// Removes the installed drop-in and reloads the daemon.
    #[arg(long)]
    pub remove: bool,
    /// Does not ask the daemon to reload; prints the command instead.
    #[arg(long)]
    pub no_reload: bool,
}

/// Finds a program on PATH or in the sbin directories.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn detect() -> Result<Daemon, String> {
    for d in [Daemon::Rsyslog, Daemon::SyslogNg] {
        if find_program(d.binary()).is_some() || Path::new(d.default_dir()).is_dir() {
            return Ok(d);
        }
    }
    Err("neither rsyslog nor syslog-ng is installed here; install one, or choose with --daemon rsyslog|syslog-ng to only write the file".into())
}

fn selection(args: &Args) -> Result<Selection, String> {
    let mut rules: Vec<Rule> = Vec::new();
    if let Some(all) = &args.all {
        rules.push(render::parse_rule(&format!("*={all}"))?);
    }
    for f in &args.facilities {
        rules.push(render::parse_rule(f)?);
    }
    if rules.is_empty() {
        return Err("choose what to forward: --all=info, or --facility auth=info --facility daemon=warning …".into());
    }
    if args.spool_dir.contains('"') || args.spool_dir.contains('\n') {
        return Err("--spool-dir must not contain quotes or line breaks".into());
    }
    if let Some(path) = &args.unix_socket {
        if !path.starts_with('/') || path.contains(['"', '\n', ' ']) {
            return Err(format!(
                "--unix-socket: `{}` must be an absolute path without quotes, spaces or line breaks, such as {}",
                path.escape_default(),
                render::UNIX_SOCKET
            ));
        }
    }
    Ok(Selection {
        rules,
        port: args.port,
        cef_port: (!args.no_cef).then_some(args.cef_port),
        security_rules: None,
        spool_dir: args.spool_dir.clone(),
        unix_socket: args.unix_socket.clone(),
    })
}

/// Files of the retired Log Analytics agent that would forward every message a
/// second time, with how to remove each.
pub(crate) fn omsagent_leftovers(daemon: Daemon, dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    if daemon == Daemon::SyslogNg {
        if let Some(parent) = dir.parent() {
            candidates.push(parent.join("syslog-ng.conf"));
        }
    }
    candidates.sort();
    for path in candidates {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mentions = text.contains("omsagent") || text.contains("d_oms");
        if name.contains("omsagent") || (mentions && name != "syslog-ng.conf") {
            found.push(format!(
                "{} belongs to the retired Log Analytics agent (omsagent) and forwards messages a second time; remove it: sudo rm {} && {}",
                path.display(),
                path.display(),
                reload_command(daemon)
            ));
        } else if mentions {
            found.push(format!(
                "{} holds the retired Log Analytics agent's block (destination d_oms and the log paths that use it), which forwards messages a second time; delete those lines, then: {}",
                path.display(),
                reload_command(daemon)
            ));
        }
    }
    found
}

fn reload_command(daemon: Daemon) -> &'static str {
    match daemon {
        // rsyslog reads its configuration only at start; its queues are saved on shutdown.
        Daemon::Rsyslog => "sudo systemctl restart rsyslog",
        Daemon::SyslogNg => "sudo systemctl reload syslog-ng",
    }
}

/// Checks `text` with the daemon's own checker when the daemon is installed.
/// Returns what was checked with, or why it could not be.
pub(crate) fn validate(daemon: Daemon, text: &str) -> Result<Option<String>, String> {
    let Some(program) = find_program(daemon.binary()) else {
        return Ok(None);
    };
    let tmp =
        tempfile::tempdir().map_err(|e| format!("could not make a temporary directory: {e}"))?;
    let drop_in = tmp.path().join(daemon.file_name());
    std::fs::write(&drop_in, text).map_err(|e| format!("{}: {e}", drop_in.display()))?;
    let output = match daemon {
        Daemon::Rsyslog => Command::new(&program)
            .args(["-N1", "-f"])
            .arg(&drop_in)
            .output(),
        Daemon::SyslogNg => {
            // The drop-in reads the distribution's s_src: check it inside a main
            // file that defines one, with the installed version's @version.
            let version = Command::new(&program)
                .arg("--version")
                .output()
                .ok()
                .and_then(|o| {
                    String::from_utf8_lossy(&o.stdout).lines().find_map(|l| {
                        l.strip_prefix("Installer-Version:")
                            .map(str::trim)
                            .map(String::from)
                    })
                })
                .and_then(|v| {
                    let mut parts = v.split('.');
                    Some(format!("{}.{}", parts.next()?, parts.next()?))
                })
                .ok_or_else(|| {
                    format!("{} --version did not say its version", program.display())
                })?;
            let main = tmp.path().join("syslog-ng.conf");
            std::fs::write(
                &main,
                format!(
                    "@version: {version}\nsource s_src {{ internal(); }};\n@include \"{}\"\n",
                    drop_in.display()
                ),
            )
            .map_err(|e| format!("{}: {e}", main.display()))?;
            Command::new(&program)
                .args(["--syntax-only", "-f"])
                .arg(&main)
                .output()
        }
    }
    .map_err(|e| format!("could not run {}: {e}", program.display()))?;
    let checker = match daemon {
        Daemon::Rsyslog => "rsyslogd -N1",
        Daemon::SyslogNg => "syslog-ng --syntax-only",
    };
    // rsyslogd -N1 reports some errors but still exits 0: read its output too.
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let rsyslog_error = daemon == Daemon::Rsyslog && said.contains("error");
    if !output.status.success() || rsyslog_error {
        return Err(format!(
            "{checker} refused the generated drop-in (a bug in syslane or an unusual {} version; please report it):\n{}",
            daemon.name(),
            said.trim()
        ));
    }
    Ok(Some(checker.to_string()))
}

/// Writes `text` to `path` so that readers see the old file or the new one, whole.
fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("could not write {}: {e}", path.display())
    })
}

/// Asks the daemon to read its configuration again, if systemd runs here.
fn reload(daemon: Daemon, no_reload: bool) -> String {
    let command = reload_command(daemon);
    if no_reload {
        return format!("not reloaded (--no-reload); run: {command}");
    }
    if !Path::new("/run/systemd/system").is_dir() {
        return format!("systemd is not running here; make {} read its configuration again yourself ({command})", daemon.name());
    }
    let args: &[&str] = match daemon {
        Daemon::Rsyslog => &["try-restart", "rsyslog.service"],
        Daemon::SyslogNg => &["try-reload-or-restart", "syslog-ng.service"],
    };
    match Command::new("systemctl").args(args).status() {
        Ok(s) if s.success() => format!("ran systemctl {}", args.join(" ")),
        Ok(s) => format!("systemctl {} failed ({s}); run: {command}", args.join(" ")),
        Err(e) => format!("could not run systemctl ({e}); run: {command}"),
    }
}

/// Runs the command; returns what to print on standard output.
pub(crate) fn run(args: &Args) -> Result<String, String> {
    let daemon = match args.daemon {
        Some(d) => d,
        None => detect()?,
    };
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(daemon.default_dir()));
    for warning in omsagent_leftovers(daemon, &dir) {
        eprintln!("syslane: warning: {warning}");
    }
    let installed = dir.join(daemon.file_name());
    if args.remove {
        return match std::fs::remove_file(&installed) {
            Ok(()) => Ok(format!(
                "removed {}; {}\n",
                installed.display(),
                reload(daemon, args.no_reload)
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(format!(
                "{} was not installed; nothing to do\n",
                installed.display()
            )),
            Err(e) => Err(format!("could not remove {}: {e}", installed.display())),
        };
    }
    let sel = selection(args)?;
    let text = match daemon {
        Daemon::Rsyslog => render::rsyslog(&sel),
        Daemon::SyslogNg => render::syslog_ng(&sel),
    };
    let checked = validate(daemon, &text)?;
    let checked = match checked {
        Some(c) => format!("checked with {c}"),
        None => format!("not checked: {} is not installed here", daemon.binary()),
    };
    if args.install {
        if !dir.is_dir() {
            return Err(format!(
                "{} does not exist: is {} installed? (or give its drop-in directory with --dir)",
                dir.display(),
                daemon.name()
            ));
        }
        write_atomically(&installed, &text)?;
        return Ok(format!(
            "installed {} ({checked}); {}\n",
            installed.display(),
            reload(daemon, args.no_reload)
        ));
    }
    if let Some(path) = &args.output {
        write_atomically(path, &text)?;
        return Ok(format!("wrote {} ({checked})\n", path.display()));
    }
    eprintln!("syslane: {checked}");
    Ok(text)
}
