//! `syslane setup`: from an installed package to records in the workspace with
//! one command. It signs in to Azure Resource Manager, creates or updates what
//! `azuredeploy.json` creates (the data collection rule, the heartbeat table, the
//! agent's role on the rule) through ARM's REST API, writes the azure output as a
//! drop-in, and waits until the workspace accepts a record from this host.
//! Every step prints one line, `✓` or `✗` with what to do; a second run changes
//! nothing; `--dry-run` prints every write instead of making it.

mod arm;
mod host;
mod progress;
mod remove;
mod resources;
mod rule;
mod signin;
mod watch;

use arm::Arm;
use progress::{fail, note, ok};
use signin::How;
use std::path::PathBuf;
use std::time::Duration;
use syslane_plugin_azure::reuse::{roots, Client};

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum CloudName {
    #[value(name = "AzureCloud")]
    Public,
    #[value(name = "AzureUSGovernment")]
    UsGovernment,
    #[value(name = "AzureChinaCloud")]
    China,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum SecurityStream {
    Auto,
    On,
    Off,
}

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The Log Analytics workspace's resource id
    /// (/subscriptions/SUB/resourceGroups/GROUP/providers/Microsoft.OperationalInsights/workspaces/NAME).
    #[arg(long, value_name = "RESOURCE_ID")]
    workspace: String,
    /// Deletes what setup created (role assignment, rule, drop-in) after confirmation.
    #[arg(long)]
    remove: bool,
    /// Prints every request setup would make; writes nothing (reads are made).
    #[arg(long)]
    dry_run: bool,
    /// Answers every question with its default (for scripts); without it answers
    /// are read from standard input.
    #[arg(long)]
    yes: bool,
    /// The configuration [default: /etc/syslane/syslane.toml]; the drop-in goes in conf.d/ beside it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The cloud: its Resource Manager endpoint and scope, authority and Logs Ingestion scope.
    #[arg(long, value_enum, default_value = "AzureCloud")]
    cloud: CloudName,
    /// Overrides the cloud's Resource Manager endpoint.
    #[arg(long, value_name = "URL")]
    arm_endpoint: Option<String>,
    /// Overrides the cloud's authority (the Microsoft identity platform).
    #[arg(long, value_name = "URL")]
    authority_host: Option<String>,
    /// Overrides the Azure instance metadata service's address
    /// (http://169.254.169.254), for an Azure VM. Without it, an Azure Arc-enabled
    /// server (IDENTITY_ENDPOINT and IMDS_ENDPOINT set, or the Arc agent
    /// installed) uses the Arc agent's endpoints instead.
    #[arg(long, value_name = "URL")]
    identity_endpoint: Option<String>,
    /// Where the Azure Arc agent writes its challenge files [default: /var/opt/azcmagent/tokens].
    #[arg(long, value_name = "DIR")]
    arc_token_dir: Option<PathBuf>,
    /// The tenant to sign in to (id or domain).
    #[arg(long, value_name = "ID")]
    tenant: Option<String>,
    /// Signs in with this host's managed identity (an Azure VM's, or an Azure
    /// Arc-enabled server's) instead of the device code flow.
    #[arg(long, conflicts_with = "client_id")]
    use_host_identity: bool,
    /// Signs in as this service principal (with --client-secret-file or
    /// --certificate-file and --private-key-file); the agent then uses it too.
    #[arg(long, value_name = "APP_ID")]
    client_id: Option<String>,
    /// The service principal's client secret, in a file of mode 0600.
    #[arg(long, value_name = "FILE", requires = "client_id")]
    client_secret_file: Option<PathBuf>,
    /// The service principal's certificate (PEM), registered with its app.
    #[arg(long, value_name = "FILE", requires_all = ["client_id", "private_key_file"])]
    certificate_file: Option<PathBuf>,
    /// The certificate's RSA private key (PEM, mode 0600).
    #[arg(long, value_name = "FILE", requires = "certificate_file")]
    private_key_file: Option<PathBuf>,
    /// The object id of the agent's identity (default: this VM's or Arc-enabled
    /// server's managed identity, found through ARM).
    #[arg(long, value_name = "OBJECT_ID")]
    principal_id: Option<String>,
    /// The data collection rule's name.
    #[arg(long, default_value = "syslane-dcr")]
    rule_name: String,
    /// CEF records into CommonSecurityLog: auto (when the workspace has that table, i.e. Sentinel), on, off.
    #[arg(long, value_enum, default_value = "auto")]
    security_stream: SecurityStream,
    /// How long to wait for the workspace to accept this host's first record.
    #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
    wait_secs: u64,
}

/// The endpoints of a cloud, after the overrides.
/// Resource Manager endpoints: <https://learn.microsoft.com/en-us/azure/azure-government/documentation-government-developer-guide#endpoint-mapping>
/// and <https://learn.microsoft.com/en-us/azure/china/resources-developer-guide#check-endpoints-in-azure>;
/// authorities: <https://learn.microsoft.com/en-us/entra/identity-platform/authentication-national-cloud>.
pub(crate) struct Cloud {
    arm: String,
    arm_scope: String,
    authority: String,
    monitor_scope: String,
    identity: String,
    tenant: Option<String>,
    authority_overridden: bool,
    identity_overridden: bool,
    /// The cloud's own Resource Manager endpoint and authority (before overrides).
    name: &'static str,
    default_arm: &'static str,
    default_authority: &'static str,
    /// Set on an Azure Arc-enabled server: its identity replaces the VM's.
    arc: Option<ArcHost>,
}

/// An Azure Arc-enabled server's local identity service (himds): the token
/// endpoint with its challenge file, and the metadata service beside it.
/// <https://learn.microsoft.com/en-us/azure/azure-arc/servers/managed-identity-authentication>
pub(crate) struct ArcHost {
    token_endpoint: String,
    metadata: String,
    token_dir: Option<PathBuf>,
}

/// Where the Arc agent's identity service is: the `IDENTITY_ENDPOINT` and
/// `IMDS_ENDPOINT` it sets, or its well-known address when the agent is installed
/// (`sudo` may have dropped the variables). `--identity-endpoint` means an Azure VM.
fn arc_host(a: &Args) -> Option<ArcHost> {
    if a.identity_endpoint.is_some() {
        return None;
    }
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let (token_endpoint, metadata) = match (var("IDENTITY_ENDPOINT"), var("IMDS_ENDPOINT")) {
        (Some(t), Some(m)) => (t, m),
        _ if std::path::Path::new("/opt/azcmagent/bin/himds").exists() => (
            "http://localhost:40342/metadata/identity/oauth2/token".to_string(),
            "http://localhost:40342".to_string(),
        ),
        _ => return None,
    };
    Some(ArcHost {
        token_endpoint,
        metadata,
        token_dir: a.arc_token_dir.clone().map(|d| absolute(&d)),
    })
}

impl Cloud {
    fn new(a: &Args) -> Cloud {
        let (name, arm, authority, monitor) = match a.cloud {
            CloudName::Public => (
                "AzureCloud",
                "https://management.azure.com",
                "https://login.microsoftonline.com",
                "https://monitor.azure.com",
            ),
            CloudName::UsGovernment => (
                "AzureUSGovernment",
                "https://management.usgovcloudapi.net",
                "https://login.microsoftonline.us",
                "https://monitor.azure.us",
            ),
            CloudName::China => (
                "AzureChinaCloud",
                "https://management.chinacloudapi.cn",
                "https://login.partner.microsoftonline.cn",
                "https://monitor.azure.cn",
            ),
        };
        Cloud {
            arm: a.arm_endpoint.clone().unwrap_or_else(|| arm.into()),
            arm_scope: format!("{arm}//.default"),
            authority: a.authority_host.clone().unwrap_or_else(|| authority.into()),
            monitor_scope: format!("{monitor}//.default"),
            identity: a
                .identity_endpoint
                .clone()
                .unwrap_or_else(|| "http://169.254.169.254".into()),
            tenant: a.tenant.clone(),
            authority_overridden: a.authority_host.is_some()
                || !matches!(a.cloud, CloudName::Public),
            identity_overridden: a.identity_endpoint.is_some(),
            name,
            default_arm: arm,
            default_authority: authority,
            arc: arc_host(a),
        }
    }

    /// The cloud's endpoints, and where an override sends them instead.
    fn describe(&self) -> String {
        let here = |value: &str, default: &str| {
            if value.trim_end_matches('/') == default {
                default.to_string()
            } else {
                format!("{default} (overridden: {value})")
            }
        };
        format!(
            "cloud {}: Resource Manager {} scope {}, authority {}, Logs Ingestion scope {}",
            self.name,
            here(&self.arm, self.default_arm),
            self.arm_scope,
            here(&self.authority, self.default_authority),
            self.monitor_scope
        )
    }
}

/// The parts of a workspace's resource id.
struct Workspace {
    id: String,
    subscription: String,
    group: String,
    name: String,
}

fn parse_workspace(id: &str) -> Result<Workspace, String> {
    let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        [s, sub, g, group, p, ns, w, name]
            if s.eq_ignore_ascii_case("subscriptions")
                && g.eq_ignore_ascii_case("resourceGroups")
                && p.eq_ignore_ascii_case("providers")
                && ns.eq_ignore_ascii_case("Microsoft.OperationalInsights")
                && w.eq_ignore_ascii_case("workspaces") =>
        {
            Ok(Workspace {
                id: format!("/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.OperationalInsights/workspaces/{name}"),
                subscription: sub.to_string(),
                group: group.to_string(),
                name: name.to_string(),
            })
        }
        _ => Err(format!(
            "--workspace {id:?} is not a workspace's resource id; it looks like \
             /subscriptions/SUB/resourceGroups/GROUP/providers/Microsoft.OperationalInsights/workspaces/NAME \
             (the workspace's Properties page in the portal shows it)"
        )),
    }
}

fn how(a: &Args) -> How {
    match (
        &a.client_id,
        &a.client_secret_file,
        &a.certificate_file,
        &a.private_key_file,
    ) {
        (Some(id), Some(file), _, _) => How::Secret {
            client_id: id.clone(),
            file: absolute(file),
        },
        (Some(id), None, Some(cert), Some(key)) => How::Certificate {
            client_id: id.clone(),
            cert: absolute(cert),
            key: absolute(key),
        },
        _ if a.use_host_identity => How::HostIdentity,
        _ => How::DeviceCode,
    }
}

fn absolute(p: &std::path::Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// What a failed step makes of the run: it stops with this message.
const STOPPED: &str = "setup stopped at the step marked ✗";

/// Runs `setup`.
pub(crate) fn run(a: &Args) -> Result<(), String> {
    let ws = parse_workspace(&a.workspace)?;
    let cloud = Cloud::new(a);
    let config = a
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(super::DEFAULT_CONFIG));
    if a.client_id.is_some() && a.client_secret_file.is_none() && a.certificate_file.is_none() {
        return Err(
            "--client-id needs --client-secret-file, or --certificate-file and --private-key-file"
                .into(),
        );
    }
    if a.client_id.is_some() && cloud.tenant.is_none() {
        return Err("a service principal signs in to its tenant: add --tenant ID".into());
    }
    let how = how(a);
    ok(&cloud.describe());
    // System roots; rustls-native-certs honours SSL_CERT_FILE and SSL_CERT_DIR.
    let client = Client::new(&roots(None)?, None, Duration::from_secs(30))?;
    let token = match signin::sign_in(&how, &cloud, &client) {
        Ok(t) => {
            ok(&format!(
                "signed in to Azure Resource Manager ({})",
                how.name()
            ));
            t
        }
        Err(e) => {
            fail(
                &format!("sign-in ({}): {e}", how.name()),
                "check the tenant (--tenant) and the credentials, then run setup again",
            );
            return Err(STOPPED.into());
        }
    };
    let arm = Arm {
        agent: client.agent.clone(),
        base: cloud.arm.clone(),
        token,
        dry_run: a.dry_run,
    };
    let w = arm.get(&ws.id, rule::WORKSPACE_API)?;
    if !w.ok() {
        let todo = match w.status {
            403 => "the signed-in identity may not read the workspace: it needs Reader (or Log Analytics Reader) on it",
            404 => "check --workspace (subscription, resource group and name) and --tenant",
            _ => "run setup again; if it persists, check Azure's status page",
        };
        fail(&format!("read workspace {}: {}", ws.name, w.error()), todo);
        return Err(STOPPED.into());
    }
    let location = w.body["location"].as_str().unwrap_or("").to_string();
    ok(&format!("workspace {} in {location}", ws.name));
    let t = arm.get(
        &format!("{}/tables/CommonSecurityLog", ws.id),
        rule::WORKSPACE_API,
    )?;
    let sentinel = match t.status {
        200 => true,
        404 => false,
        _ => {
            fail(
                &format!("read table CommonSecurityLog: {}", t.error()),
                "say --security-stream on or off",
            );
            return Err(STOPPED.into());
        }
    };
    let security = match a.security_stream {
        SecurityStream::Auto => sentinel,
        SecurityStream::On => true,
        SecurityStream::Off => false,
    };
    ok(&format!(
        "CommonSecurityLog {} (Microsoft Sentinel {}): security stream {}",
        if sentinel { "present" } else { "absent" },
        if sentinel { "enabled" } else { "not enabled" },
        if security { "on" } else { "off" }
    ));
    let rule_id = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Insights/dataCollectionRules/{}",
        ws.subscription, ws.group, a.rule_name
    );
    if a.remove {
        return remove::remove(a, &arm, &cloud, &how, &rule_id, &config);
    }
    resources::heartbeat_table(&arm, &ws)?;
    let rule = resources::data_collection_rule(&arm, &ws, &rule_id, &location, security)?;
    let principal = resources::principal(a, &arm, &cloud, &how, &client)?;
    let refused = match resources::role(&arm, &ws, &rule_id, &principal)? {
        resources::Role::Assigned => None,
        resources::Role::Refused { command } => {
            let keep = progress::confirm(
                &format!(
                    "Keep the data collection rule {} and write the agent's drop-in anyway (it ships once the role is assigned)?",
                    a.rule_name
                ),
                true,
                a.yes,
            );
            if !keep {
                if rule.created {
                    match arm.write("DELETE", &rule_id, rule::RULE_API, None)? {
                        Some(r) if r.ok() || r.status == 404 => {
                            ok("data collection rule removed again")
                        }
                        Some(r) => fail(
                            &format!("remove the rule: {}", r.error()),
                            "remove it in the portal, or run `syslane setup --remove`",
                        ),
                        None => {}
                    }
                }
                println!("Someone with that right can assign the role with:\n  {command}");
                return Err(STOPPED.into());
            }
            Some(command)
        }
    };
    let (endpoint, dcr) = (rule.endpoint.clone(), rule.immutable_id.clone());
    let output = host::Output {
        endpoint: endpoint.clone(),
        dcr_immutable_id: dcr.clone(),
        security,
        ca_file: std::env::var_os("SSL_CERT_FILE").map(PathBuf::from),
        auth: agent_auth(&how, &cloud),
    };
    match host::write_drop_in(&config, &host::drop_in_text(&output), a.dry_run)? {
        host::Written::Unchanged(p) => ok(&format!("{} unchanged", p.display())),
        host::Written::DryRun(p) => ok(&format!("{} would be written", p.display())),
        host::Written::New { path, backups } => {
            ok(&format!("wrote {} (mode 0640)", path.display()));
            for (old, bak) in backups {
                note(&format!(
                    "{} had an [output]: kept as {}",
                    old.display(),
                    bak.display()
                ));
            }
            if cloud.arc.is_some() && !matches!(how, How::Secret { .. } | How::Certificate { .. }) {
                note("the agent answers the Arc agent's challenge: its user must be in the himds group (`sudo usermod -aG himds syslane`)");
            }
        }
    }
    if a.dry_run {
        ok("dry run: nothing was written");
        return Ok(());
    }
    match super::check::check_config(&config, true) {
        Ok(_) => ok(&format!("check-config {}: OK", config.display())),
        Err(e) => {
            fail(
                &format!("check-config: {e}"),
                "fix what it names, then run setup again",
            );
            return Err(STOPPED.into());
        }
    }
    match host::reload(&config)? {
        Some(pid) => ok(&format!("the running agent (pid {pid}) reloads its configuration")),
        None => ok(&format!(
            "no agent is running with {}: start it with `sudo systemctl enable --now syslane` (or `syslane run --config {}`)",
            config.display(),
            config.display()
        )),
    }
    if let Some(command) = refused {
        fail(
            "the agent's identity has no role on the rule yet: the workspace refuses its records (403) until it has",
            &format!("someone with Owner, User Access Administrator or Role Based Access Control Administrator runs:\n{command}\nthen the agent ships on its own (within 30 min); run setup again to watch it arrive"),
        );
        return Err(STOPPED.into());
    }
    let host_name = crate::system::host_name();
    let Some(auth) = signin::auth_config(&agent_how(&how), &cloud, &cloud.monitor_scope) else {
        return Err(STOPPED.into());
    };
    println!("Waiting for the workspace to accept a record from {host_name} (Ctrl-C stops waiting; everything stays in place and the agent keeps retrying on its own)");
    let target = watch::Target {
        endpoint: &endpoint,
        dcr: &dcr,
        host: &host_name,
    };
    match watch::until_accepted(
        &target,
        &auth,
        &client,
        Duration::from_secs(a.wait_secs),
        Duration::from_secs(5),
    ) {
        Ok(waited) => ok(&format!(
            "the workspace accepted a heartbeat from {host_name} (after {})",
            progress::minutes(waited)
        )),
        Err(e) => {
            fail(
                &format!("no record accepted: {e}"),
                "the agent keeps retrying on its own; `syslane stats` shows its last error",
            );
            return Err(STOPPED.into());
        }
    }
    println!("Rows of this host appear in the workspace within a few minutes; in Logs, run:");
    for q in watch::kql(&host_name).lines() {
        println!("  {q}");
    }
    Ok(())
}

/// The identity the agent ships with: the service principal setup signed in
/// as, else the host's.
fn agent_how(how: &How) -> How {
    match how {
        How::Secret { client_id, file } => How::Secret {
            client_id: client_id.clone(),
            file: file.clone(),
        },
        How::Certificate {
            client_id,
            cert,
            key,
        } => How::Certificate {
            client_id: client_id.clone(),
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => How::HostIdentity,
    }
}

/// `[output.auth]` for the agent.
fn agent_auth(how: &How, cloud: &Cloud) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    let mut add = |k: &str, val: &str| v.push((k.to_string(), val.to_string()));
    match how {
        How::Secret { client_id, file } => {
            add("method", "client_secret");
            add("tenant_id", cloud.tenant.as_deref().unwrap_or(""));
            add("client_id", client_id);
            add("client_secret_file", &file.display().to_string());
        }
        How::Certificate {
            client_id,
            cert,
            key,
        } => {
            add("method", "client_certificate");
            add("tenant_id", cloud.tenant.as_deref().unwrap_or(""));
            add("client_id", client_id);
            add("certificate_file", &cert.display().to_string());
            add("private_key_file", &key.display().to_string());
        }
        _ if cloud.arc.is_some() => {
            add("method", "azure_arc");
            if let Some(arc) = &cloud.arc {
                if arc.token_endpoint != "http://localhost:40342/metadata/identity/oauth2/token" {
                    add("identity_endpoint", &arc.token_endpoint);
                }
                if let Some(dir) = &arc.token_dir {
                    add("arc_token_dir", &dir.display().to_string());
                }
            }
        }
        _ => {
            add("method", "managed_identity");
            if cloud.identity_overridden {
                add(
                    "identity_endpoint",
                    &format!(
                        "{}/metadata/identity/oauth2/token",
                        cloud.identity.trim_end_matches('/')
                    ),
                );
            }
        }
    }
    if matches!(how, How::Secret { .. } | How::Certificate { .. }) && cloud.authority_overridden {
        add("authority_host", &cloud.authority);
    }
    if cloud.monitor_scope != "https://monitor.azure.com//.default" {
        add("scope", &cloud.monitor_scope);
    }
    v
}
