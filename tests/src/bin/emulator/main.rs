//! `syslane-emulator`: a stand-in for an Azure Log Analytics workspace, for tests
//! and dry runs.
//!
//! It serves, on 127.0.0.1 only:
//! - over HTTPS (a CA it generates, written to `DIR/ca.pem`): the Entra ID token
//!   endpoint (`/{tenant}/oauth2/v2.0/token`: client secret or a PS256/RS256
//!   client assertion) and the Logs Ingestion API
//!   (`/dataCollectionRules/{dcr}/streams/{stream}?api-version=2023-01-01`), which
//!   checks what the service checks: bearer token, the role on the rule, content
//!   type, gzip, the size limit, a JSON array, a known rule and stream, and column
//!   types, then stores the rows the rule's transformation makes. The rule is
//!   `plugins/azure/deploy/azuredeploy.json` deployed with `--parameter`s;
//! - over HTTP: the instance metadata identity endpoint
//!   (`/metadata/identity/oauth2/token`) and an Azure Arc one
//!   (`/arc/metadata/identity/oauth2/token`, with its challenge file, and the
//!   Arc machine's instance metadata at `/arc/metadata/instance`);
//! - a CONNECT proxy that speaks TLS (an `https://` proxy) and asks for Basic
//!   credentials (`DIR/proxy.conf` holds its URL with them).
//!
//! Tests schedule faults and states (a role not yet applied, a token outage) and
//! read back what was stored under `/_emulator/`. Everything a client needs
//! (ports, ids, file names) is in `DIR/emulator.json`; `DIR/output.toml` is the
//! agent's `[output]` for it.

mod arm;
mod control;
mod faults;
mod identity;
mod ingest;
mod proxy;
mod schema;
mod server;
mod setup;

use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "syslane-emulator",
    version,
    about = "A local Log Analytics workspace (Logs Ingestion API + Entra ID) for tests and dry runs"
)]
struct Args {
    /// Where to write the CA, the credentials and emulator.json.
    #[arg(long)]
    dir: PathBuf,
    /// ARM template whose data collection rule declares the streams (default: the one built in).
    #[arg(long)]
    template: Option<PathBuf>,
    /// A template parameter, NAME=VALUE, as `az deployment group create --parameters`
    /// takes it (e.g. securityStream=true); repeat for more.
    #[arg(long = "parameter", value_name = "NAME=VALUE")]
    parameters: Vec<String>,
    /// Answer ingestion with 403 for this long after the start, as while a new role
    /// assignment has not applied yet.
    #[arg(long, default_value_t = 0)]
    role_applies_after_secs: u64,
    /// Answer ingestion with 403 until the token's principal holds Monitoring
    /// Metrics Publisher on the rule through the emulated Resource Manager (and
    /// --role-applies-after-secs has passed since the assignment).
    #[arg(long)]
    require_role_assignment: bool,
    /// Refuse role assignment writes with 403 AuthorizationFailed, as Resource
    /// Manager does for an identity without Microsoft.Authorization/roleAssignments/write.
    #[arg(long)]
    deny_role_assignment_writes: bool,
    /// The emulated workspace's region.
    #[arg(long, default_value = "westeurope")]
    workspace_location: String,
    /// Device code flow: polls answered authorization_pending before the user signs in.
    #[arg(long, default_value_t = 2)]
    device_code_approve_after_polls: u32,
    /// Device code flow: the user declines instead (authorization_declined).
    #[arg(long)]
    device_code_decline: bool,
    /// Device code flow: the code's lifetime (expires_in).
    #[arg(long, default_value_t = 900)]
    device_code_expires_secs: u64,
    #[arg(long, default_value_t = 0)]
    https_port: u16,
    #[arg(long, default_value_t = 0)]
    http_port: u16,
    #[arg(long, default_value_t = 0)]
    proxy_port: u16,
    /// Lifetime of the tokens it issues.
    #[arg(long, default_value_t = 3600)]
    token_lifetime_secs: u64,
    /// Largest request body, compressed or not.
    #[arg(long, default_value_t = 1_048_576)]
    max_request_bytes: usize,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let result = (|| -> Result<(), String> {
        let template = match &args.template {
            Some(p) => std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?,
            None => schema::DEFAULT_TEMPLATE.to_string(),
        };
        let mut params =
            syslane_tests::emulator::rule::parameters(args.parameters.iter().map(String::as_str))?;
        if !params.contains_key("workspaceName") {
            params.insert("workspaceName".into(), "emulated-workspace".into());
        }
        let streams = schema::from_template(&template, &params)?;
        let identity = setup::generate(&args.dir)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(server::serve(server::Settings {
            dir: args.dir.clone(),
            identity,
            streams,
            https_port: args.https_port,
            http_port: args.http_port,
            proxy_port: args.proxy_port,
            role_applies_after: std::time::Duration::from_secs(args.role_applies_after_secs),
            token_lifetime: std::time::Duration::from_secs(args.token_lifetime_secs),
            max_request_bytes: args.max_request_bytes,
            require_role_assignment: args.require_role_assignment,
            deny_role_assignment_writes: args.deny_role_assignment_writes,
            workspace_location: args.workspace_location.clone(),
            device_code_approve_after_polls: args.device_code_approve_after_polls,
            device_code_decline: args.device_code_decline,
            device_code_expires_secs: args.device_code_expires_secs,
        }))
    })();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("syslane-emulator: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
