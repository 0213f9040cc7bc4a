//! Signing in to Azure Resource Manager: the person running `setup` with the
//! device code flow (the default), the host's own identity, or a service
//! principal. The token lives in memory only; it is never written or printed.

use super::Cloud;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use syslane_plugin_azure::reuse::{AuthConfig, Client, Credentials, Method, Secret};

/// The public client the device code flow signs in with: the Azure CLI's
/// application id. It is a first-party Microsoft application present in every
/// tenant and pre-authorized for Resource Manager, so nobody has to register
/// an application (or consent to one) before `setup` can run; `az login
/// --use-device-code` asks the user for the same thing.
pub(super) const PUBLIC_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// How `setup` signs in, from the command line.
pub(super) enum How {
    DeviceCode,
    HostIdentity,
    Secret {
        client_id: String,
        file: PathBuf,
    },
    Certificate {
        client_id: String,
        cert: PathBuf,
        key: PathBuf,
    },
}

impl How {
    pub(super) fn name(&self) -> &'static str {
        match self {
            How::DeviceCode => "device code sign-in",
            How::HostIdentity => "the host's managed identity",
            How::Secret { .. } => "service principal (client secret)",
            How::Certificate { .. } => "service principal (certificate)",
        }
    }
}

/// The settings of the token sources the azure output has, for `scope`.
pub(super) fn auth_config(how: &How, cloud: &Cloud, scope: &str) -> Option<AuthConfig> {
    let base = |method| AuthConfig {
        method,
        tenant_id: cloud.tenant.clone(),
        client_id: None,
        client_secret_file: None,
        certificate_file: None,
        private_key_file: None,
        authority_host: cloud.authority.clone(),
        identity_endpoint: None,
        arc_token_dir: None,
        scope: scope.to_string(),
    };
    match how {
        How::DeviceCode => None,
        How::HostIdentity if cloud.arc.is_some() => Some(AuthConfig {
            identity_endpoint: cloud.arc.as_ref().map(|a| a.token_endpoint.clone()),
            arc_token_dir: cloud.arc.as_ref().and_then(|a| a.token_dir.clone()),
            ..base(Method::AzureArc)
        }),
        How::HostIdentity => Some(AuthConfig {
            identity_endpoint: Some(format!(
                "{}/metadata/identity/oauth2/token",
                cloud.identity.trim_end_matches('/')
            )),
            ..base(Method::ManagedIdentity)
        }),
        How::Secret { client_id, file } => Some(AuthConfig {
            client_id: Some(client_id.clone()),
            client_secret_file: Some(file.clone()),
            ..base(Method::ClientSecret)
        }),
        How::Certificate {
            client_id,
            cert,
            key,
        } => Some(AuthConfig {
            client_id: Some(client_id.clone()),
            certificate_file: Some(cert.clone()),
            private_key_file: Some(key.clone()),
            ..base(Method::ClientCertificate)
        }),
    }
}

/// A token for Resource Manager.
pub(super) fn sign_in(how: &How, cloud: &Cloud, client: &Client) -> Result<Secret, String> {
    match auth_config(how, cloud, &cloud.arm_scope) {
        None => device_code(cloud, &client.agent),
        Some(c) => {
            let creds = Credentials::new(&c, client.clone(), client.agent.clone(), |p| {
                p.to_path_buf()
            })?;
            creds.token().map_err(|e| e.message)
        }
    }
}

fn post_form(
    agent: &ureq::Agent,
    url: &str,
    form: &[(&str, &str)],
) -> Result<(u16, Value), String> {
    let mut r = agent
        .post(url)
        .send_form(form.iter().copied())
        .map_err(|e| format!("{url}: {}", syslane_plugin_azure::reuse::describe(&e)))?;
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// The device authorization grant as the Microsoft identity platform documents
/// it: ask `/devicecode` for a user code, show the URL and the code, then poll
/// the token endpoint every `interval` seconds (5 more after `slow_down`) until
/// a token comes, the user declines, or the code expires (`expires_in`).
/// <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-device-code>
fn device_code(cloud: &Cloud, agent: &ureq::Agent) -> Result<Secret, String> {
    let tenant = cloud.tenant.as_deref().unwrap_or("organizations");
    let authority = cloud.authority.trim_end_matches('/');
    let (status, start) = post_form(
        agent,
        &format!("{authority}/{tenant}/oauth2/v2.0/devicecode"),
        &[("client_id", PUBLIC_CLIENT_ID), ("scope", &cloud.arm_scope)],
    )?;
    let field = |k: &str| start[k].as_str().map(String::from);
    let (Some(device_code), Some(user_code), Some(uri)) = (
        field("device_code"),
        field("user_code"),
        field("verification_uri"),
    ) else {
        return Err(format!(
            "the device code request failed ({status}): {}",
            aad_text(&start)
        ));
    };
    let mut interval = Duration::from_secs(start["interval"].as_u64().unwrap_or(5).max(1));
    let expires = Duration::from_secs(start["expires_in"].as_u64().unwrap_or(900));
    println!(
        "To sign in, open {} in a browser and enter the code {} (valid for {}).",
        crate::config::escape(&uri),
        crate::config::escape(&user_code),
        super::progress::minutes(expires)
    );
    let began = Instant::now();
    let token_url = format!("{authority}/{tenant}/oauth2/v2.0/token");
    loop {
        std::thread::sleep(interval);
        if began.elapsed() > expires {
            return Err(
                "the code expired before the sign-in was completed; run setup again".into(),
            );
        }
        let (status, answer) = post_form(
            agent,
            &token_url,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", PUBLIC_CLIENT_ID),
                ("device_code", &device_code),
            ],
        )?;
        if let Some(token) = answer["access_token"].as_str() {
            return Ok(Secret::new(token.to_string()));
        }
        match answer["error"].as_str().unwrap_or("") {
            "authorization_pending" => continue,
            "slow_down" => interval += Duration::from_secs(5),
            "authorization_declined" => {
                return Err("the sign-in was declined; run setup again to retry".into())
            }
            "expired_token" => {
                return Err(
                    "the code expired before the sign-in was completed; run setup again".into(),
                )
            }
            _ => {
                return Err(format!(
                    "the sign-in failed ({status}): {}",
                    aad_text(&answer)
                ))
            }
        }
    }
}

/// The identity platform's error, first line of its description (the trace ids
/// follow on the next lines).
fn aad_text(v: &Value) -> String {
    let error = v["error"].as_str().unwrap_or("no error code");
    let text = v["error_description"]
        .as_str()
        .and_then(|d| d.lines().next())
        .unwrap_or("");
    format!("{error}: {text}")
}

/// The host's resource id, from the instance metadata service: an Azure VM's
/// (`Microsoft.Compute/virtualMachines`), or on an Azure Arc-enabled server the
/// Arc machine's (`Microsoft.HybridCompute/machines`), whose identity service
/// serves a subset of the same metadata at `IMDS_ENDPOINT`.
/// <https://learn.microsoft.com/en-us/azure/virtual-machines/instance-metadata-service>
/// <https://learn.microsoft.com/en-us/azure/azure-arc/servers/managed-identity-authentication>
pub(super) fn host_resource_id(cloud: &Cloud, local: &ureq::Agent) -> Result<String, String> {
    let url = match &cloud.arc {
        Some(arc) => format!(
            "{}/metadata/instance?api-version=2020-06-01",
            arc.metadata.trim_end_matches('/')
        ),
        None => format!(
            "{}/metadata/instance?api-version=2021-02-01",
            cloud.identity.trim_end_matches('/')
        ),
    };
    let mut r = local
        .get(&url)
        .header("metadata", "true")
        .call()
        .map_err(|e| format!("{url}: {}", syslane_plugin_azure::reuse::describe(&e)))?;
    let text = r.body_mut().read_to_string().unwrap_or_default();
    let v: HashMap<String, Value> = serde_json::from_str(&text).unwrap_or_default();
    v.get("compute")
        .and_then(|c| c["resourceId"].as_str())
        .map(String::from)
        .ok_or_else(|| {
            format!("{url} gave no compute.resourceId (not an Azure VM or Arc-enabled server?)")
        })
}
