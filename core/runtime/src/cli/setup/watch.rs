//! Watching the first record arrive: `setup` posts a heartbeat of this host to
//! the rule itself, as the agent will, until the Logs Ingestion API accepts it.
//! A new role assignment takes up to 30 minutes to apply; until then the API
//! answers 403, and the waiting line says so and for how long.
//! <https://learn.microsoft.com/en-us/azure/azure-monitor/logs/logs-ingestion-api-overview#rest-api-call>

use super::progress;
use std::time::{Duration, Instant};
use syslane_plugin_azure::reuse::{heartbeat_record, AuthConfig, Client, Credentials};

pub(super) struct Target<'a> {
    pub(super) endpoint: &'a str,
    pub(super) dcr: &'a str,
    pub(super) host: &'a str,
}

/// Posts heartbeats until one is accepted, or `limit` passes.
pub(super) fn until_accepted(
    t: &Target<'_>,
    auth: &AuthConfig,
    client: &Client,
    limit: Duration,
    every: Duration,
) -> Result<Duration, String> {
    let creds = Credentials::new(auth, client.clone(), client.agent.clone(), |p| {
        p.to_path_buf()
    })?;
    let url = format!(
        "{}/dataCollectionRules/{}/streams/Custom-SyslaneHeartbeat?api-version=2023-01-01",
        t.endpoint.trim_end_matches('/'),
        t.dcr
    );
    let start = Instant::now();
    let started = Instant::now();
    loop {
        let waited = start.elapsed();
        let why = match creds.token() {
            Err(e) => format!("no token for the agent's identity yet ({})", e.message),
            Ok(token) => {
                let mut body = b"[".to_vec();
                body.extend(heartbeat_record(t.host, started, 0));
                body.push(b']');
                let answer = client
                    .agent
                    .post(&url)
                    .header("authorization", &format!("Bearer {}", token.expose()))
                    .header("content-type", "application/json")
                    .send(&body[..]);
                match answer {
                    Ok(r) if r.status().is_success() => {
                        progress::end_waiting();
                        return Ok(waited);
                    }
                    Ok(r) if r.status().as_u16() == 403 => {
                        syslane_plugin_azure::reuse::while_role_applies().to_string()
                    }
                    Ok(r) if r.status().as_u16() == 401 => {
                        creds.invalidate(&token);
                        "the token was refused (401)".to_string()
                    }
                    Ok(mut r) => {
                        progress::end_waiting();
                        let status = r.status().as_u16();
                        let text = r.body_mut().read_to_string().unwrap_or_default();
                        return Err(format!("the Logs Ingestion API answered {status}: {text}"));
                    }
                    Err(e) => syslane_plugin_azure::reuse::describe(&e),
                }
            }
        };
        if waited >= limit {
            progress::end_waiting();
            return Err(format!("{why} after {}", progress::minutes(waited)));
        }
        progress::waiting(&format!(
            "{why}, {} of up to {}",
            progress::minutes(waited),
            progress::minutes(limit)
        ));
        std::thread::sleep(
            every
                .min(limit.saturating_sub(waited))
                .max(Duration::from_millis(100)),
        );
    }
}

/// The queries that show this host's rows.
pub(super) fn kql(host: &str) -> String {
    let h = host.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "SyslaneHeartbeat_CL | where Computer == \"{h}\" | sort by TimeGenerated desc | take 10\n\
         Syslog | where CollectorHostName == \"{h}\" | sort by TimeGenerated desc | take 50"
    )
}
