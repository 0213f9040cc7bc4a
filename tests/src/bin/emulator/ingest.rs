//! The Logs Ingestion API: what the service checks, in its order, and what it
//! stores: the rows the rule's transformation makes of each record.
//! Request and answers: <https://learn.microsoft.com/en-us/azure/azure-monitor/logs/logs-ingestion-api-overview#rest-api-call>;
//! 403 while the identity has no Monitoring Metrics Publisher role on the rule
//! (a new assignment can take up to 30 minutes to apply):
//! <https://learn.microsoft.com/en-us/azure/azure-monitor/logs/tutorial-logs-ingestion-code#troubleshooting>,
//! with the service's body as the Azure SDK's troubleshooting guide quotes it:
//! <https://github.com/Azure/azure-sdk-for-net/blob/main/sdk/monitor/Azure.Monitor.Ingestion/TROUBLESHOOTING.md>

use crate::faults::Fault;
use crate::schema;
use crate::server::{body, header, query, service_error, Reply, Shared};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| "gzip")?;
    if out.len() > limit {
        return Err("size");
    }
    Ok(out)
}

pub(crate) async fn ingest(
    sh: Arc<Shared>,
    req: Request<Incoming>,
    dcr: String,
    stream: String,
) -> Reply {
    let fault = {
        let mut st = sh.lock();
        match st.faults.pop_front() {
            Some(Fault::Pass(n)) => {
                if n > 1 {
                    st.faults.push_front(Fault::Pass(n - 1));
                }
                None
            }
            other => other,
        }
    };
    let mut slow = None;
    if let Some(f) = &fault {
        sh.lock().faults_applied += 1;
        match f {
            Fault::Status {
                status,
                retry_after,
            } => {
                let mut r = service_error(*status, "Injected", "fault injected by the test")?;
                if let Some(s) = retry_after {
                    if let Ok(v) = hyper::header::HeaderValue::from_str(&s.to_string()) {
                        r.headers_mut().insert("retry-after", v);
                    }
                }
                *sh.lock().statuses.entry(*status).or_default() += 1;
                return Ok(r);
            }
            Fault::Hang(d) => {
                tokio::time::sleep(*d).await;
                return Err(std::io::Error::other("hung request dropped"));
            }
            Fault::Reset => return Err(std::io::Error::other("connection reset by the test")),
            Fault::Slow(d) => slow = Some(*d),
            Fault::RevokeTokens => sh.lock().tokens.clear(),
            Fault::Pass(_) => {}
        }
    }
    let started = Instant::now();
    let q = query(&req);
    let mut log = json!({
        // When the request arrived (milliseconds since the Unix epoch), so tests
        // can check how far apart the agent's retries are.
        "at_ms": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "query": q,
        "content_type": header(&req, "content-type"),
        "content_encoding": header(&req, "content-encoding"),
        "user_agent": header(&req, "user-agent"),
    });
    if slow.is_some() {
        log["fault"] = json!("slow");
    }
    let result = ingest_checked(&sh, req, &dcr, &stream, q, &mut log).await;
    let status = match &result {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    };
    log["status"] = json!(status);
    log["elapsed_ms"] = json!(started.elapsed().as_millis() as u64);
    {
        let mut st = sh.lock();
        *st.statuses.entry(status).or_default() += 1;
        st.requests.push_back(log);
        if st.requests.len() > 2000 {
            st.requests.pop_front();
        }
    }
    if let Some(d) = slow {
        tokio::time::sleep(d).await;
    }
    result
}

async fn ingest_checked(
    sh: &Shared,
    req: Request<Incoming>,
    dcr: &str,
    stream: &str,
    q: HashMap<String, String>,
    log: &mut Value,
) -> Reply {
    let auth = header(&req, "authorization");
    let valid = auth.strip_prefix("Bearer ").is_some_and(|t| {
        sh.lock()
            .tokens
            .get(t)
            .is_some_and(|exp| Instant::now() < *exp)
    });
    log["authorization"] = json!(if auth.starts_with("Bearer ") {
        if valid {
            "Bearer <valid token>"
        } else {
            "Bearer <invalid token>"
        }
    } else {
        "<missing>"
    });
    if !valid || Shared::until(sh.lock().reject_tokens_until) {
        return service_error(
            401,
            "InvalidToken",
            "The provided access token is missing, expired or invalid.",
        );
    }
    if q.get("api-version").map(String::as_str) != Some("2023-01-01") {
        return service_error(400, "InvalidApiVersion", "api-version must be 2023-01-01");
    }
    if dcr != sh.s.identity.dcr_immutable_id {
        return service_error(
            404,
            "NotFound",
            &format!("Data collection rule with immutable Id '{dcr}' not found."),
        );
    }
    let principal = auth
        .strip_prefix("Bearer ")
        .and_then(|t| sh.lock().token_principal.get(t).cloned())
        .unwrap_or_default();
    if Shared::until(sh.lock().forbidden_until)
        || (sh.s.require_role_assignment && !crate::arm::role_applied(sh, &principal))
    {
        return service_error(
            403,
            "OperationFailed",
            &format!("The authentication token provided does not have access to ingest data for the data collection rule with immutable Id '{dcr}'."),
        );
    }
    let Some(declared) = sh.s.streams.get(stream) else {
        return service_error(
            404,
            "InvalidStream",
            &format!("Stream '{stream}' is not declared in the data collection rule."),
        );
    };
    if !header(&req, "content-type").starts_with("application/json") {
        return service_error(
            415,
            "UnsupportedMediaType",
            "Content-Type must be application/json",
        );
    }
    let gzip = header(&req, "content-encoding") == "gzip";
    let limit = sh.s.max_request_bytes;
    let Ok(raw) = body(req, limit).await else {
        return service_error(
            413,
            "ContentLengthLimitExceeded",
            "The request body is larger than 1 MB.",
        );
    };
    log["body_bytes"] = json!(raw.len());
    log["gzip_magic"] = json!(raw.starts_with(&[0x1f, 0x8b]));
    let plain = if gzip {
        match gunzip(&raw, limit) {
            Ok(p) => p,
            Err("size") => {
                return service_error(
                    413,
                    "ContentLengthLimitExceeded",
                    "The uncompressed body is larger than 1 MB.",
                )
            }
            Err(_) => {
                return service_error(400, "InvalidContentEncoding", "The body is not valid gzip.")
            }
        }
    } else {
        raw.to_vec()
    };
    log["uncompressed_bytes"] = json!(plain.len());
    let Ok(Value::Array(records)) = serde_json::from_slice::<Value>(&plain) else {
        return service_error(
            400,
            "InvalidContentFormat",
            "The body must be a JSON array of objects.",
        );
    };
    log["records"] = json!(records.len());
    let mut dropped = Vec::new();
    for r in &records {
        match schema::check(r, &declared.columns) {
            Ok(unknown) => dropped.extend(unknown),
            Err(e) => return service_error(400, "InvalidContentFormat", &e),
        }
    }
    // What the workspace keeps: the transformation's rows; the columns it does not
    // carry are dropped, like undeclared ones.
    let rows: Vec<Value> = records
        .iter()
        .filter_map(Value::as_object)
        .map(|r| {
            let (row, lost) = declared.transform.apply(r);
            dropped.extend(
                lost.into_iter()
                    .filter(|c| declared.columns.contains_key(c)),
            );
            Value::Object(row)
        })
        .collect();
    let mut st = sh.lock();
    for d in dropped {
        *st.dropped_columns.entry(d).or_default() += 1;
    }
    st.bytes_compressed += raw.len() as u64;
    st.bytes_uncompressed += plain.len() as u64;
    st.records
        .entry(stream.to_string())
        .or_default()
        .extend(rows);
    drop(st);
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok(r)
}
