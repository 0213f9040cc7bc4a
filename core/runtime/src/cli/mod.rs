//! The command line: `run`, `check-config`, `plugins`, `stats`, `journal`,
//! `dead-letter`, `syslog-config`, `migrate`, `setup`, `--version`, and the
//! hidden `docs-reference` that writes the book's generated reference pages.

mod check;
mod check_env;
mod check_ports;
mod dead_letter;
mod journal;
mod migrate;
mod reference;
mod run;
mod setup;
pub(crate) mod stats;
pub(crate) mod syslog_config;

use clap::{Args, CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "syslane",
    version,
    about = "Syslog collector that ships to an Azure Log Analytics workspace"
)]
struct Cli {
    /// Log level (error, warn, info, debug, trace) or a tracing filter; SYSLANE_LOG overrides it.
    #[arg(long, global = true, default_value = "info")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

/// Where the packages install the configuration.
pub(crate) const DEFAULT_CONFIG: &str = "/etc/syslane/syslane.toml";

#[derive(Args)]
struct ConfigPath {
    /// The configuration file; files in conf.d/*.toml beside it are merged on top,
    /// in name order [default: /etc/syslane/syslane.toml]
    #[arg(long = "config", short = 'c', value_name = "FILE")]
    file: Option<PathBuf>,
    /// Uses the configuration compiled into the agent (config/local.toml of the
    /// source): syslog on 127.0.0.1:25224, CEF and Cisco ASA/FTD on 127.0.0.1:25226, records to
    /// data/records.jsonl and state in data/state under the current directory.
    #[arg(long, conflicts_with = "file")]
    embedded_config: bool,
}

impl ConfigPath {
    /// The file to read ([`crate::config::EMBEDDED`] for the compiled-in one). When
    /// no --config was given and the packages' file is missing, says how to start.
    fn path(&self) -> Result<PathBuf, String> {
        if self.embedded_config {
            return Ok(PathBuf::from(crate::config::EMBEDDED));
        }
        if let Some(file) = &self.file {
            return Ok(file.clone());
        }
        let default = PathBuf::from(DEFAULT_CONFIG);
        if default.exists() {
            return Ok(default);
        }
        Err(format!(
            "{DEFAULT_CONFIG} does not exist (the packages install it; it is read when --config is not given). \
             Name a configuration with --config FILE; to try syslane from a source checkout, \
             use --config config/local.toml, or --embedded-config for the same configuration \
             compiled into the agent (no file needed; it writes under ./data)"
        ))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Runs the agent until SIGTERM or SIGINT.
    Run {
        #[command(flatten)]
        config: ConfigPath,
    },
    /// Checks a configuration: syntax, listeners, every plugin's own config, and the
    /// output's own checks (for azure: secret files, a token, the endpoint).
    CheckConfig {
        #[command(flatten)]
        config: ConfigPath,
        /// Skips the checks that need the network.
        #[arg(long)]
        offline: bool,
    },
    /// Lists the plugins found in the configuration's plugin_dir.
    Plugins {
        #[command(flatten)]
        config: ConfigPath,
    },
    /// Shows or re-sends the records the output rejected for good.
    DeadLetter {
        #[command(subcommand)]
        action: DeadLetterAction,
    },
    /// Summarises the agent running with this configuration: rates over an
    /// interval, journal fill, listeners, the output's last error (read from
    /// state_dir/syslane.sock).
    Stats {
        #[command(flatten)]
        config: ConfigPath,
        /// Prints every counter and gauge in the Prometheus text format instead.
        #[arg(long)]
        prometheus: bool,
        /// Seconds between the two readings the rates are taken from.
        #[arg(long, value_name = "SECONDS", default_value_t = 2.0,
              value_parser = stats::parse_interval)]
        interval: f64,
    },
    /// Counts the records the journal holds that the output has not acknowledged
    /// yet, per table, from its files (read-only; the agent may run or not).
    Journal {
        #[command(flatten)]
        config: ConfigPath,
        /// Prints only the number of records (for scripts).
        #[arg(long)]
        count: bool,
    },
    /// Writes the rsyslog or syslog-ng drop-in that forwards the chosen facilities
    /// and severities to syslane (and CEF and Cisco ASA/FTD events to the CEF port), checks it with
    /// the daemon's own checker, and installs (--install) or removes (--remove) it.
    SyslogConfig(syslog_config::Args),
    /// Carries another agent's setup on this host over to syslane: prints the plan,
    /// or with --apply writes syslane's files and the syslog daemon's drop-in and
    /// disables the old forwarding (with backups).
    Migrate {
        #[command(subcommand)]
        from: migrate::From,
    },
    /// Connects this host to a Log Analytics workspace: signs in, creates the data
    /// collection rule, the heartbeat table and the agent's role through Azure
    /// Resource Manager, writes the azure output as a conf.d drop-in, and waits
    /// until the workspace accepts a record from this host.
    Setup(Box<setup::Args>),
    /// Writes the book's reference pages (configuration keys, metrics, every
    /// command's help) into DIR, generated from the code.
    #[command(hide = true)]
    DocsReference {
        /// Where to write them: docs/src/reference in the repository.
        dir: PathBuf,
    },
}

/// The command line's definition, as `--help` renders it.
fn command() -> clap::Command {
    Cli::command()
}

#[derive(Subcommand)]
enum DeadLetterAction {
    /// Lists rejected batches with their reasons.
    List {
        #[command(flatten)]
        config: ConfigPath,
    },
    /// Offers every dead letter to the configured output again.
    Replay {
        #[command(flatten)]
        config: ConfigPath,
    },
}

fn init_logging(level: &str) {
    let filter = std::env::var("SYSLANE_LOG").unwrap_or_else(|_| level.to_string());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// Entry point of the `syslane` binary.
pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_level);
    let result = match cli.command {
        Command::Run { config } => config.path().and_then(|p| run::run(&p)),
        Command::CheckConfig { config, offline } => config
            .path()
            .and_then(|p| check::check_config(&p, offline))
            .map(|summary| println!("{}", printable(&summary))),
        Command::Plugins { config } => config
            .path()
            .and_then(|p| check::list_plugins(&p))
            .map(|table| print!("{}", printable(&table))),
        Command::DeadLetter {
            action: DeadLetterAction::List { config },
        } => config
            .path()
            .and_then(|p| dead_letter::list(&p))
            .map(|t| print!("{}", printable(&t))),
        Command::DeadLetter {
            action: DeadLetterAction::Replay { config },
        } => config
            .path()
            .and_then(|p| dead_letter::replay(&p))
            .map(|t| print!("{}", printable(&t))),
        Command::Stats {
            config,
            prometheus,
            interval,
        } => config
            .path()
            .and_then(|p| stats::show(&p, prometheus, interval))
            .map(|text| print!("{}", printable(&text))),
        Command::Journal { config, count } => config
            .path()
            .and_then(|p| journal::show(&p, count))
            .map(|text| print!("{}", printable(&text))),
        Command::SyslogConfig(args) => syslog_config::run(&args).map(|text| print!("{text}")),
        Command::Migrate { from } => migrate::run(&from).map(|text| print!("{}", printable(&text))),
        Command::Setup(args) => setup::run(&args),
        Command::DocsReference { dir } => {
            reference::write(&dir, &command()).map(|text| print!("{text}"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("syslane: {}", printable(&message));
            ExitCode::FAILURE
        }
    }
}

/// A message or report with control characters other than line breaks escaped:
/// values from files, plugins and the network never drive the terminal. (Not
/// for `syslog-config`, whose output is a daemon's configuration file.)
fn printable(message: &str) -> String {
    message
        .split('\n')
        .map(crate::config::escape)
        .collect::<Vec<_>>()
        .join("\n")
}
