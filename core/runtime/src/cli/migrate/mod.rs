//! `syslane migrate omsagent`: carries the retired Log Analytics agent's setup on
//! this host over to syslane. It reads the old agent's workspaces, proxy and
//! forwarding rules (`reader`), works out the same selection for syslane, the
//! files to write and the old rules to disable (`planner`), and with `--apply`
//! writes them with backups (`writer`). Without `--apply` nothing changes.

mod planner;
mod reader;
#[cfg(test)]
mod tests;
mod writer;

use std::path::{Path, PathBuf};

#[derive(clap::Subcommand, Debug)]
pub(crate) enum From {
    /// The Log Analytics agent for Linux (omsagent, the "MMA"/"OMS" agent).
    Omsagent(Args),
}

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Reads and writes every path under DIR instead of / (a trial on a copied tree).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Writes the files and disables the old rules; without it, only prints the plan.
    #[arg(long)]
    pub apply: bool,
    /// The workspace to carry over when the old agent has several.
    #[arg(long, value_name = "ID")]
    pub workspace: Option<String>,
    /// Where rsyslog keeps syslane's queue files.
    #[arg(long, default_value = "/var/spool/rsyslog")]
    pub spool_dir: String,
}

/// The directory every path is read and written under.
#[derive(Debug, Clone)]
pub(crate) struct Root(PathBuf);

impl Root {
    /// `abs` (a path as the host sees it) under this root.
    pub(crate) fn path(&self, abs: &str) -> PathBuf {
        self.0.join(abs.trim_start_matches('/'))
    }
    /// A path under this root as the host sees it.
    pub(crate) fn strip(&self, real: &Path) -> PathBuf {
        match real.strip_prefix(&self.0) {
            Ok(rest) => Path::new("/").join(rest),
            Err(_) => real.to_path_buf(),
        }
    }
    fn is_host(&self) -> bool {
        self.0 == Path::new("/")
    }
}

/// syslane's listener ports (TCP, syslog and cef inputs) and whether the output
/// is the azure one, from syslane.toml and its conf.d under `root`.
fn syslane_settings(root: &Root) -> (planner::Ports, bool, Vec<String>) {
    let mut ports = planner::Ports {
        syslog: 25224,
        cef: 25226,
    };
    let mut notes = Vec::new();
    let main = root.path(crate::cli::DEFAULT_CONFIG);
    let mut files = vec![main.clone()];
    let mut drop_ins: Vec<PathBuf> = std::fs::read_dir(root.path("/etc/syslane/conf.d"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    drop_ins.retain(|p| {
        p.extension().is_some_and(|x| x == "toml")
            && !p.ends_with(Path::new(planner::DROP_IN).file_name().unwrap_or_default())
    });
    drop_ins.sort();
    files.extend(drop_ins);
    let mut azure = false;
    let (mut syslog, mut cef) = (None, None);
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            if file == &main {
                notes.push(format!(
                    "{} not found: forwarding to syslane's packaged ports 25224 (syslog) and 25226 (CEF)",
                    crate::cli::DEFAULT_CONFIG
                ));
            }
            continue;
        };
        let Ok(table) = text.parse::<toml::Table>() else {
            notes.push(format!(
                "{} does not parse; check it with `syslane check-config`",
                root.strip(file).display()
            ));
            continue;
        };
        if let Some(plugin) = table
            .get("output")
            .and_then(|o| o.get("plugin"))
            .and_then(|p| p.as_str())
        {
            azure = plugin == "azure";
        }
        for listen in table
            .get("listen")
            .and_then(|l| l.as_array())
            .into_iter()
            .flatten()
        {
            let address = listen.get("address").and_then(|a| a.as_str()).unwrap_or("");
            let input = listen.get("input").and_then(|a| a.as_str()).unwrap_or("");
            let port = address
                .strip_prefix("tcp://")
                .and_then(|a| a.rsplit_once(':'))
                .and_then(|(_, p)| p.parse::<u16>().ok());
            match (input, port) {
                ("syslog", Some(p)) if syslog.is_none() => syslog = Some(p),
                ("cef", Some(p)) if cef.is_none() => cef = Some(p),
                _ => {}
            }
        }
    }
    ports.syslog = syslog.unwrap_or(ports.syslog);
    ports.cef = cef.unwrap_or(ports.cef);
    (ports, azure, notes)
}

fn restart_command(daemon: reader::DaemonKind) -> &'static str {
    match daemon {
        reader::DaemonKind::Rsyslog => "sudo systemctl restart rsyslog",
        reader::DaemonKind::SyslogNg => "sudo systemctl reload syslog-ng",
    }
}

/// Runs `migrate omsagent`; returns the report for standard output.
pub(crate) fn run(from: &From) -> Result<String, String> {
    let From::Omsagent(args) = from;
    let root = Root(args.root.clone().unwrap_or_else(|| PathBuf::from("/")));
    if !root.0.is_dir() {
        return Err(format!("--root {}: not a directory", root.0.display()));
    }
    if args.spool_dir.contains(['"', '\n']) {
        return Err("--spool-dir must not contain quotes or line breaks".into());
    }
    let found = reader::read(&root);
    let (ports, azure, mut notes) = syslane_settings(&root);
    let plan = planner::plan(
        &root,
        &found,
        args.workspace.as_deref(),
        ports,
        &args.spool_dir,
        azure,
    )?;
    for file in plan
        .files
        .iter()
        .filter(|f| f.path.starts_with("/etc/rsyslog.d") || f.path.starts_with("/etc/syslog-ng"))
    {
        let daemon = match plan.daemon {
            reader::DaemonKind::Rsyslog => crate::cli::syslog_config::Daemon::Rsyslog,
            reader::DaemonKind::SyslogNg => crate::cli::syslog_config::Daemon::SyslogNg,
        };
        if let Some(checker) = crate::cli::syslog_config::validate(daemon, &file.text)? {
            notes.push(format!("{} checked with {checker}", file.path.display()));
        }
    }
    let mut out = String::new();
    out.push_str("Found:\n");
    for f in &plan.found {
        out.push_str(&format!("  {f}\n"));
    }
    match &plan.workspace {
        Some(ws) => out.push_str(&format!(
            "Workspace carried over: {ws} ({})\n",
            plan.why_workspace
        )),
        None => out.push_str(&format!("Workspace: none ({})\n", plan.why_workspace)),
    }
    if !args.apply {
        out.push_str("\nWould write:\n");
        for f in &plan.files {
            out.push_str(&format!(
                "  {} (mode {:04o}): {}\n",
                f.path.display(),
                f.mode,
                f.why
            ));
            if f.mode != 0o600 {
                for line in f.text.lines() {
                    out.push_str(&format!("    | {line}\n"));
                }
            }
        }
        out.push_str("\nWould disable (so nothing is forwarded twice):\n");
        if plan.edits.is_empty() {
            out.push_str("  nothing: no active rule of the old agent is carried\n");
        }
        for e in &plan.edits {
            for (n, line) in &e.disabled {
                out.push_str(&format!("  {}:{n}: {line}\n", e.path.display()));
            }
        }
        for e in &plan.edits {
            if let Some((lines, why)) = &e.appended {
                out.push_str(&format!("\nWould add to {} ({why}):\n", e.path.display()));
                for line in lines.lines() {
                    out.push_str(&format!("    | {line}\n"));
                }
            }
        }
    }
    out.push_str("\nNot carried over (what to do instead):\n");
    for c in &plan.cannot_carry {
        out.push_str(&format!("  - {c}\n"));
    }
    for n in &notes {
        out.push_str(&format!("Note: {n}\n"));
    }
    if !args.apply {
        out.push_str("\nNothing was changed. Run again with --apply to write these files (every file changed is backed up first).\n");
        return Ok(out);
    }
    let applied = writer::apply(&root, &plan)?;
    out.push('\n');
    if applied.changed.is_empty() {
        out.push_str("Nothing to change: this host is already migrated.\n");
        return Ok(out);
    }
    for c in &applied.changed {
        out.push_str(&format!("{c}\n"));
    }
    for n in &applied.notes {
        out.push_str(&format!("Note: {n}\n"));
    }
    out.push_str(&format!(
        "\nNext: {} so the daemon forwards to syslane, then set up the Azure side (\"Ship to Azure\" in the documentation, docs/src/azure.md) and remove the old agent.\n",
        restart_command(plan.daemon)
    ));
    out.push_str("To undo, run these and restart the daemon:\n");
    for u in &applied.undo {
        out.push_str(&format!("  {u}\n"));
    }
    Ok(out)
}
