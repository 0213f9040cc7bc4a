//! The emulator's HTTP(S) endpoints and its state.

use crate::identity::{arc_endpoint, identity_token, token_endpoint};
use crate::schema::{self, Streams};
use crate::setup::{random_hex, Identity};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;

pub struct Settings {
    pub dir: PathBuf,
    pub identity: Identity,
    pub streams: Streams,
    pub https_port: u16,
    pub http_port: u16,
    pub token_lifetime: Duration,
    pub max_request_bytes: usize,
}

/// One scheduled fault, applied to the next ingestion request.
#[derive(Debug, Clone)]
enum Fault {
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

fn parse_fault(v: &Value) -> Result<Fault, String> {
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

#[derive(Default)]
pub(crate) struct State {
    pub(crate) tokens: HashMap<String, Instant>,
    pub(crate) issued: Vec<String>,
    pub(crate) token_requests: BTreeMap<String, u64>,
    pub(crate) token_failures: BTreeMap<String, u64>,
    pub(crate) arc_challenges: HashMap<String, PathBuf>,
    faults: VecDeque<Fault>,
    pub(crate) records: BTreeMap<String, Vec<Value>>,
    pub(crate) statuses: BTreeMap<u16, u64>,
    pub(crate) faults_applied: u64,
    pub(crate) dropped_columns: BTreeMap<String, u64>,
    pub(crate) requests: VecDeque<Value>,
    pub(crate) bytes_compressed: u64,
    pub(crate) bytes_uncompressed: u64,
}

pub(crate) struct Shared {
    pub(crate) s: Settings,
    pub(crate) https_url: String,
    pub(crate) state: Mutex<State>,
}

pub(crate) type Reply = Result<Response<Full<Bytes>>, std::io::Error>;

pub(crate) fn reply(status: u16, body: Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

fn service_error(status: u16, code: &str, message: &str) -> Reply {
    reply(status, json!({"error": {"code": code, "message": message}}))
}

pub(crate) fn aad_error(status: u16, error: &str, description: &str) -> Reply {
    reply(
        status,
        json!({"error": error, "error_description": format!("{description}\r\nTrace ID: {}", random_hex(8))}),
    )
}

impl Shared {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn issue(&self, kind: &str) -> String {
        let token = format!("emu.{}", random_hex(24));
        let mut st = self.lock();
        st.tokens
            .insert(token.clone(), Instant::now() + self.s.token_lifetime);
        st.issued.push(token.clone());
        *st.token_requests.entry(kind.into()).or_default() += 1;
        token
    }

    pub(crate) fn refuse_token(&self, kind: &str) {
        *self.lock().token_failures.entry(kind.into()).or_default() += 1;
    }
}

pub(crate) fn query(req: &Request<Incoming>) -> HashMap<String, String> {
    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

pub(crate) fn header<'a>(req: &'a Request<Incoming>, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

pub(crate) async fn body(req: Request<Incoming>, limit: usize) -> Result<Bytes, ()> {
    Limited::new(req.into_body(), limit)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|_| ())
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

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

async fn ingest(sh: Arc<Shared>, req: Request<Incoming>, dcr: String, stream: String) -> Reply {
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
    if !valid {
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
    let Some(columns) = sh.s.streams.get(stream) else {
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
        match schema::check(r, columns) {
            Ok(unknown) => dropped.extend(unknown),
            Err(e) => return service_error(400, "InvalidContentFormat", &e),
        }
    }
    let mut st = sh.lock();
    for d in dropped {
        *st.dropped_columns.entry(d).or_default() += 1;
    }
    st.bytes_compressed += raw.len() as u64;
    st.bytes_uncompressed += plain.len() as u64;
    st.records
        .entry(stream.to_string())
        .or_default()
        .extend(records);
    drop(st);
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok(r)
}

async fn control(sh: Arc<Shared>, req: Request<Incoming>, what: &str) -> Reply {
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
                }),
            )
        }
        ("GET", "requests") => reply(
            200,
            Value::Array(sh.lock().requests.iter().cloned().collect()),
        ),
        ("GET", "tokens") => reply(200, json!(sh.lock().issued)),
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
        _ => service_error(404, "NotFound", "unknown control path"),
    }
}

async fn route(sh: Arc<Shared>, req: Request<Incoming>, tls: bool) -> Reply {
    let path = req.uri().path().to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (tls, req.method().as_str(), parts.as_slice()) {
        (true, "POST", [tenant, "oauth2", "v2.0", "token"]) => {
            let tenant = tenant.to_string();
            token_endpoint(sh, req, tenant).await
        }
        (true, "POST", ["dataCollectionRules", dcr, "streams", stream]) => {
            let (dcr, stream) = (dcr.to_string(), stream.to_string());
            ingest(sh, req, dcr, stream).await
        }
        (true, _, ["_emulator", what]) => {
            let what = what.to_string();
            control(sh, req, &what).await
        }
        (false, "GET", ["metadata", "identity", "oauth2", "token"]) => {
            identity_token(&sh, &req, "imds", "2018-02-01")
        }
        (false, "GET", ["arc", "metadata", "identity", "oauth2", "token"]) => {
            arc_endpoint(&sh, &req)
        }
        _ => service_error(404, "NotFound", &format!("no such endpoint: {path}")),
    }
}

pub async fn serve(s: Settings) -> Result<(), String> {
    let https = TcpListener::bind(("127.0.0.1", s.https_port))
        .await
        .map_err(|e| format!("cannot bind 127.0.0.1:{}: {e}", s.https_port))?;
    let http = TcpListener::bind(("127.0.0.1", s.http_port))
        .await
        .map_err(|e| format!("cannot bind 127.0.0.1:{}: {e}", s.http_port))?;
    let https_port = https.local_addr().map_err(|e| e.to_string())?.port();
    let http_port = http.local_addr().map_err(|e| e.to_string())?.port();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(
            vec![s.identity.server_cert_der.clone().into()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(s.identity.server_key_der.clone().into()),
        )
        .map_err(|e| e.to_string())?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let https_url = format!("https://127.0.0.1:{https_port}");
    let info = json!({
        "https_port": https_port,
        "http_port": http_port,
        "endpoint": https_url,
        "authority_host": https_url,
        "imds_endpoint": format!("http://127.0.0.1:{http_port}/metadata/identity/oauth2/token"),
        "arc_endpoint": format!("http://127.0.0.1:{http_port}/arc/metadata/identity/oauth2/token"),
        "arc_token_dir": s.dir.join("arc-tokens"),
        "ca_file": s.dir.join("ca.pem"),
        "tenant_id": s.identity.tenant_id,
        "client_id": s.identity.client_id,
        "client_secret_file": s.dir.join("client-secret"),
        "certificate_file": s.dir.join("client-cert.pem"),
        "private_key_file": s.dir.join("client-key.pem"),
        "dcr_immutable_id": s.identity.dcr_immutable_id,
        "streams": s.streams.keys().collect::<Vec<_>>(),
    });
    let tmp = s.dir.join("emulator.json.tmp");
    std::fs::write(&tmp, format!("{info:#}\n")).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, s.dir.join("emulator.json")).map_err(|e| e.to_string())?;
    eprintln!("syslane-emulator: workspace at {https_url}, identity endpoints at http://127.0.0.1:{http_port}; details in {}", s.dir.join("emulator.json").display());

    let shared = Arc::new(Shared {
        s,
        https_url,
        state: Mutex::new(State::default()),
    });
    let plain = Arc::clone(&shared);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = http.accept().await else {
                continue;
            };
            let sh = Arc::clone(&plain);
            tokio::spawn(async move {
                let svc = service_fn(move |req| route(Arc::clone(&sh), req, false));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    loop {
        let accepted = tokio::select! {
            a = https.accept() => a,
            _ = term.recv() => return Ok(()),
        };
        let Ok((stream, _)) = accepted else { continue };
        let (acceptor, sh) = (acceptor.clone(), Arc::clone(&shared));
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let svc = service_fn(move |req| route(Arc::clone(&sh), req, true));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        });
    }
}
