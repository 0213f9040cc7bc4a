//! Faults a test schedules for the next ingestion requests.

use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Clone)]
pub(crate) enum Fault {
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    /// Holds the request without answering, then drops the connection.
    Hang(Duration),
    /// Stores the records, then answers late.
    Slow(Duration),
    /// Drops the connection without an answer, storing nothing.
    Reset,
    /// Forgets every issued token (the request then gets 401).
    RevokeTokens,
    /// Lets this many requests through untouched before the next fault.
    Pass(u64),
}

pub(crate) fn parse_fault(v: &Value) -> Result<Fault, String> {
    if let Some(s) = v.get("status").and_then(Value::as_u64) {
        return Ok(Fault::Status {
            status: s as u16,
            retry_after: v.get("retry_after").and_then(Value::as_u64),
        });
    }
    if let Some(s) = v.get("hang_secs").and_then(Value::as_f64) {
        return Ok(Fault::Hang(Duration::from_secs_f64(s)));
    }
    if let Some(s) = v.get("slow_secs").and_then(Value::as_f64) {
        return Ok(Fault::Slow(Duration::from_secs_f64(s)));
    }
    if v.get("reset").is_some() {
        return Ok(Fault::Reset);
    }
    if let Some(n) = v.get("pass").and_then(Value::as_u64) {
        return Ok(Fault::Pass(n.max(1)));
    }
    if v.get("revoke_tokens").is_some() {
        return Ok(Fault::RevokeTokens);
    }
    Err(format!("unknown fault {v}"))
}
