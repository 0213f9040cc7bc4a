//! `/_emulator/...`: what tests read back and the faults and states they set.

use crate::faults::parse_fault;
use crate::server::{body, query, reply, service_error, Reply, Shared};
use hyper::body::Incoming;
use hyper::Request;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) async fn control(sh: Arc<Shared>, req: Request<Incoming>, what: &str) -> Reply {
    match (req.method().as_str(), what) {
        ("GET", "records") => {
            let stream = query(&req).get("stream").cloned().unwrap_or_default();
            let records = sh.lock().records.get(&stream).cloned().unwrap_or_default();
            reply(200, Value::Array(records))
        }
        ("GET", "stats") => {
            let st = sh.lock();
            let counts: BTreeMap<&String, usize> =
                st.records.iter().map(|(k, v)| (k, v.len())).collect();
            reply(
                200,
                json!({
                    "records": counts,
                    "statuses": st.statuses.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
                    "faults_applied": st.faults_applied,
                    "faults_pending": st.faults.len(),
                    "token_requests": st.token_requests,
                    "token_failures": st.token_failures,
                    "dropped_columns": st.dropped_columns,
                    "bytes_compressed": st.bytes_compressed,
                    "bytes_uncompressed": st.bytes_uncompressed,
                    "assertion_algs": st.assertion_algs,
                    "scopes": st.scopes,
                    "proxy_tunnels": st.proxy_tunnels,
                    "proxy_refused": st.proxy_refused.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
                    "forbidden": Shared::until(st.forbidden_until),
                    "token_outage": Shared::until(st.token_outage_until),
                }),
            )
        }
        ("GET", "requests") => reply(
            200,
            Value::Array(sh.lock().requests.iter().cloned().collect()),
        ),
        ("GET", "tokens") => reply(200, json!(sh.lock().issued)),
        ("GET", "assertions") => reply(200, json!(sh.lock().assertions)),
        // What the emulated Resource Manager holds, and every request it answered.
        ("GET", "arm") => {
            let st = sh.lock();
            reply(
                200,
                json!({
                    "rules": st.arm.rules,
                    "tables": st.arm.tables,
                    "assignments": st.arm.assignments.values().map(|(a, _)| a.clone()).collect::<Vec<_>>(),
                    "requests": st.arm.log,
                }),
            )
        }
        ("POST", "faults") => {
            let Ok(raw) = body(req, 1 << 20).await else {
                return service_error(400, "Bad", "body");
            };
            let list: Vec<Value> = serde_json::from_slice(&raw).unwrap_or_default();
            let mut faults = Vec::new();
            for v in &list {
                match parse_fault(v) {
                    Ok(f) => faults.push(f),
                    Err(e) => return service_error(400, "BadFault", &e),
                }
            }
            let n = faults.len();
            sh.lock().faults.extend(faults);
            reply(200, json!({"scheduled": n}))
        }
        // Deadlines from now: {"forbidden_secs": 30} answers 403 to ingestion for
        // 30 s (a role assignment not applied yet), {"token_outage_secs": 10} makes
        // every token endpoint answer 503, {"reject_tokens_secs": 10} refuses every
        // token with 401. 0 ends the state.
        ("POST", "state") => {
            let Ok(raw) = body(req, 64 * 1024).await else {
                return service_error(400, "Bad", "body");
            };
            let Ok(Value::Object(set)) = serde_json::from_slice::<Value>(&raw) else {
                return service_error(400, "Bad", "a JSON object of deadlines");
            };
            let mut st = sh.lock();
            for (key, v) in &set {
                let Some(secs) = v.as_f64() else {
                    return service_error(400, "Bad", &format!("{key} must be seconds"));
                };
                let until = (secs > 0.0).then(|| Instant::now() + Duration::from_secs_f64(secs));
                match key.as_str() {
                    "forbidden_secs" => st.forbidden_until = until,
                    "token_outage_secs" => st.token_outage_until = until,
                    "reject_tokens_secs" => st.reject_tokens_until = until,
                    other => return service_error(400, "Bad", &format!("unknown state {other}")),
                }
            }
            reply(200, json!({"set": set.len()}))
        }
        _ => service_error(404, "NotFound", "unknown control path"),
    }
}
