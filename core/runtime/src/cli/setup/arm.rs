//! Azure Resource Manager's REST API, as `setup` uses it: JSON over HTTPS with a
//! bearer token, errors as `{"error": {"code", "message"}}`, and long-running
//! writes that answer 201/202 with an `Azure-AsyncOperation` URL to poll until its
//! `status` is `Succeeded`, `Failed` or `Canceled`
//! (<https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/async-operations>).
//! With `--dry-run` every write is printed, not sent; reads are sent and printed.

use serde_json::Value;
use std::time::{Duration, Instant};
use syslane_plugin_azure::reuse::Secret;

pub(super) struct Arm {
    pub(super) agent: ureq::Agent,
    pub(super) base: String,
    pub(super) token: Secret,
    pub(super) dry_run: bool,
}

/// An answer: status, body (Null when empty), the operation URL to follow.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: Value,
    pub(super) operation: Option<String>,
}

impl Answer {
    pub(super) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `STATUS CODE: message` from ARM's error body.
    pub(super) fn error(&self) -> String {
        let e = &self.body["error"];
        match (e["code"].as_str(), e["message"].as_str()) {
            (Some(c), Some(m)) => format!("{} {c}: {m}", self.status),
            _ => format!("{} {}", self.status, self.body),
        }
    }

    pub(super) fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl Arm {
    pub(super) fn url(&self, path: &str, api: &str) -> String {
        format!(
            "{}{path}?api-version={api}",
            self.base.trim_end_matches('/')
        )
    }

    pub(super) fn get(&self, path: &str, api: &str) -> Result<Answer, String> {
        let url = self.url(path, api);
        if self.dry_run {
            println!("  GET {url}");
        }
        self.send("GET", &url, None)
    }

    /// A write: printed and not sent with `--dry-run` (then `None`).
    pub(super) fn write(
        &self,
        method: &str,
        path: &str,
        api: &str,
        body: Option<&Value>,
    ) -> Result<Option<Answer>, String> {
        let url = self.url(path, api);
        if self.dry_run {
            println!("  {method} {url} (not sent: --dry-run)");
            if let Some(b) = body {
                for line in serde_json::to_string_pretty(b).unwrap_or_default().lines() {
                    println!("    {line}");
                }
            }
            return Ok(None);
        }
        self.send(method, &url, body).map(Some)
    }

    fn send(&self, method: &str, url: &str, body: Option<&Value>) -> Result<Answer, String> {
        let auth = format!("Bearer {}", self.token.expose());
        let result = match (method, body) {
            ("GET", _) => self.agent.get(url).header("authorization", &auth).call(),
            ("DELETE", _) => self.agent.delete(url).header("authorization", &auth).call(),
            (_, b) => self
                .agent
                .put(url)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .send(b.map(Value::to_string).unwrap_or_default().as_bytes()),
        };
        let mut response = result.map_err(|e| {
            format!(
                "{method} {url}: {}",
                syslane_plugin_azure::reuse::describe(&e)
            )
        })?;
        let status = response.status().as_u16();
        let operation = ["azure-asyncoperation", "location"]
            .iter()
            .find_map(|h| response.headers().get(*h))
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let text = response
            .body_mut()
            .with_config()
            .limit(8 << 20)
            .read_to_string()
            .unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            body,
            operation,
        })
    }

    /// Follows a long-running operation to its end, polling every `Retry-After`
    /// (1 s here) for at most `limit`.
    pub(super) fn wait_operation(&self, url: &str, limit: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            let a = self.send("GET", url, None)?;
            if !a.ok() {
                return Err(format!("the operation's status: {}", a.error()));
            }
            match a.body["status"].as_str().unwrap_or("") {
                "Succeeded" => return Ok(()),
                s @ ("Failed" | "Canceled") => {
                    return Err(format!("the operation ended {s}: {}", a.body["error"]))
                }
                _ if start.elapsed() > limit => {
                    return Err(format!(
                        "the operation has not finished after {}",
                        super::progress::minutes(limit)
                    ))
                }
                _ => std::thread::sleep(Duration::from_secs(1)),
            }
        }
    }
}
