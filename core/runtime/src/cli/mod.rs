//! The command line: `run`, `check-config`, `plugins`, `stats`, `dead-letter`,
//! `syslog-config`, `--version`.

mod check;
mod check_env;
mod components;
mod dead_letter;
mod run;
pub mod stats;
pub mod syslog_config;

use clap::{Args, Parser, Subcommand};
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
pub const DEFAULT_CONFIG: &str = "/etc/syslane/syslane.toml";

#[derive(Args)]
struct ConfigPath {
    /// The configuration file; files in conf.d/*.toml beside it are merged on top, in name order.
    #[arg(long = "config", short = 'c', value_name = "FILE", default_value = DEFAULT_CONFIG)]
    path: PathBuf,
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
    /// Prints the counters of the agent running with this configuration
    /// (Prometheus text format, read from state_dir/syslane.sock).
    Stats {
        #[command(flatten)]
        config: ConfigPath,
    },
    /// Writes the rsyslog or syslog-ng drop-in that forwards the chosen facilities
    /// and severities to syslane (and CEF events to the CEF port), checks it with
    /// the daemon's own checker, and installs (--install) or removes (--remove) it.
    SyslogConfig(syslog_config::Args),
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
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_level);
    let result = match cli.command {
        Command::Run { config } => run::run(&config.path),
        Command::CheckConfig { config, offline } => {
            check::check_config(&config.path, offline).map(|summary| println!("{summary}"))
        }
        Command::Plugins { config } => {
            check::list_plugins(&config.path).map(|table| print!("{table}"))
        }
        Command::DeadLetter {
            action: DeadLetterAction::List { config },
        } => dead_letter::list(&config.path).map(|t| print!("{t}")),
        Command::DeadLetter {
            action: DeadLetterAction::Replay { config },
        } => dead_letter::replay(&config.path).map(|t| print!("{t}")),
        Command::Stats { config } => stats::read(&config.path).map(|text| print!("{text}")),
        Command::SyslogConfig(args) => syslog_config::run(&args).map(|text| print!("{text}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("syslane: {message}");
            ExitCode::FAILURE
        }
    }
}
