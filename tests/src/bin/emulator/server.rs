//! The emulator's HTTP(S) endpoints and its state.

use crate::control::control;
use crate::faults::Fault;
use crate::identity::{
    arc_endpoint, device_code_endpoint, identity_token, instance_metadata, token_endpoint,
};
use crate::ingest::ingest;
use crate::schema::Streams;
use crate::setup::{random_hex, write_private, Identity};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
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
    pub proxy_port: u16,
    pub token_lifetime: Duration,
    pub max_request_bytes: usize,
    /// Ingestion answers 403 for this long after the start, as while a new role
    /// assignment has not applied yet.
    pub role_applies_after: Duration,
    /// Ingestion answers 403 until the token's principal holds a role assignment
    /// made through the emulated Resource Manager (and `role_applies_after` has
    /// passed since it was made).
    pub require_role_assignment: bool,
    /// Role assignment writes are refused with 403 AuthorizationFailed.
    pub deny_role_assignment_writes: bool,
    pub workspace_location: String,
    /// The device code flow: polls answered `authorization_pending` before the
    /// user "signs in", whether they decline instead, and the code's lifetime.
    pub device_code_approve_after_polls: u32,
    pub device_code_decline: bool,
    pub device_code_expires_secs: u64,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) tokens: HashMap<String, Instant>,
    /// Tokens issued for Resource Manager (not valid for ingestion).
    pub(crate) arm_tokens: HashMap<String, Instant>,
    /// The principal (object id) each ingestion token was issued to.
    pub(crate) token_principal: HashMap<String, String>,
    pub(crate) device_codes: HashMap<String, crate::identity::DeviceCode>,
    pub(crate) arm: crate::arm::ArmState,
    pub(crate) issued: Vec<String>,
    pub(crate) token_requests: BTreeMap<String, u64>,
    pub(crate) token_failures: BTreeMap<String, u64>,
    pub(crate) arc_challenges: HashMap<String, PathBuf>,
    pub(crate) faults: VecDeque<Fault>,
    /// Until then, ingestion answers 403: the role assignment has not applied.
    pub(crate) forbidden_until: Option<Instant>,
    /// Until then, every token endpoint answers 503.
    pub(crate) token_outage_until: Option<Instant>,
    /// Until then, ingestion refuses every token with 401 (as a token for another
    /// tenant or cloud would be).
    pub(crate) reject_tokens_until: Option<Instant>,
    /// Client assertions by signature algorithm.
    pub(crate) assertion_algs: BTreeMap<String, u64>,
    /// Every client assertion received (a signed JWT; tests check it themselves).
    pub(crate) assertions: Vec<String>,
    /// Scopes (or resources) tokens were asked for, with their counts.
    pub(crate) scopes: BTreeMap<String, u64>,
    /// Tunnels the proxy opened, by target; and CONNECTs it refused, by status.
    pub(crate) proxy_tunnels: BTreeMap<String, u64>,
    pub(crate) proxy_refused: BTreeMap<u16, u64>,
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

pub(crate) fn service_error(status: u16, code: &str, message: &str) -> Reply {
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
        st.token_principal
            .insert(token.clone(), self.principal_of(kind).to_string());
        *st.token_requests.entry(kind.into()).or_default() += 1;
        token
    }

    /// A token for Resource Manager.
    pub(crate) fn issue_arm(&self, kind: &str) -> String {
        let token = format!("emu-arm.{}", random_hex(24));
        let mut st = self.lock();
        st.arm_tokens
            .insert(token.clone(), Instant::now() + self.s.token_lifetime);
        *st.token_requests.entry(format!("arm_{kind}")).or_default() += 1;
        token
    }

    /// The object id behind a kind of token: the app registration's service
    /// principal, or the host's managed identity.
    pub(crate) fn principal_of(&self, kind: &str) -> &str {
        match kind {
            "imds" | "arc" => &self.s.identity.host_principal_id,
            _ => &self.s.identity.principal_id,
        }
    }

    pub(crate) fn refuse_token(&self, kind: &str) {
        *self.lock().token_failures.entry(kind.into()).or_default() += 1;
    }

    /// Whether a deadline set by a test is still ahead.
    pub(crate) fn until(deadline: Option<Instant>) -> bool {
        deadline.is_some_and(|d| Instant::now() < d)
    }

    /// The token endpoints' answer while a token outage lasts.
    pub(crate) fn token_outage(&self, kind: &str) -> Option<Reply> {
        if !Shared::until(self.lock().token_outage_until) {
            return None;
        }
        self.refuse_token(kind);
        Some(aad_error(
            503,
            "temporarily_unavailable",
            "AADSTS90033: A transient error has occurred. Please try again.",
        ))
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

async fn route(sh: Arc<Shared>, req: Request<Incoming>, tls: bool) -> Reply {
    let path = req.uri().path().to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (tls, req.method().as_str(), parts.as_slice()) {
        (true, "POST", [tenant, "oauth2", "v2.0", "devicecode"]) => {
            let tenant = tenant.to_string();
            device_code_endpoint(sh, req, tenant).await
        }
        (true, _, ["subscriptions", ..]) => crate::arm::arm(sh, req).await,
        (false, "GET", ["metadata", "instance"]) => instance_metadata(&sh, &req),
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
        (false, "GET", ["arc", "metadata", "instance"]) => {
            crate::identity::arc_instance_metadata(&sh, &req)
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
    let proxy = TcpListener::bind(("127.0.0.1", s.proxy_port))
        .await
        .map_err(|e| format!("cannot bind 127.0.0.1:{}: {e}", s.proxy_port))?;
    let proxy_port = proxy.local_addr().map_err(|e| e.to_string())?.port();
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
        "arc_imds_endpoint": format!("http://127.0.0.1:{http_port}/arc"),
        "arc_machine_id": crate::arm::arc_machine_id_of(&s.identity.subscription_id),
        "ca_file": s.dir.join("ca.pem"),
        "tenant_id": s.identity.tenant_id,
        "client_id": s.identity.client_id,
        "client_secret_file": s.dir.join("client-secret"),
        "certificate_file": s.dir.join("client-cert.pem"),
        "private_key_file": s.dir.join("client-key.pem"),
        "dcr_immutable_id": s.identity.dcr_immutable_id,
        "streams": s.streams.keys().collect::<Vec<_>>(),
        "outputs": s.streams.iter().map(|(k, v)| (k.clone(), v.output.clone())).collect::<BTreeMap<_, _>>(),
        "proxy_port": proxy_port,
        "proxy_user": s.identity.proxy_user,
        "proxy_file": s.dir.join("proxy.conf"),
        "output_file": s.dir.join("output.toml"),
        "arm_endpoint": https_url,
        "identity_endpoint": format!("http://127.0.0.1:{http_port}"),
        "subscription_id": s.identity.subscription_id,
        "resource_group": crate::arm::RESOURCE_GROUP,
        "workspace_id": format!("/subscriptions/{}/resourceGroups/{}/providers/Microsoft.OperationalInsights/workspaces/{}", s.identity.subscription_id, crate::arm::RESOURCE_GROUP, crate::arm::WORKSPACE),
        "workspace_location": s.workspace_location,
        "principal_id": s.identity.principal_id,
        "host_principal_id": s.identity.host_principal_id,
    });
    write_private(
        &s.dir.join("proxy.conf"),
        format!(
            "https://{}:{}@127.0.0.1:{proxy_port}\n",
            s.identity.proxy_user, s.identity.proxy_password
        )
        .as_bytes(),
    )?;
    std::fs::write(s.dir.join("output.toml"), output_toml(&s, &https_url))
        .map_err(|e| e.to_string())?;
    let tmp = s.dir.join("emulator.json.tmp");
    std::fs::write(&tmp, format!("{info:#}\n")).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, s.dir.join("emulator.json")).map_err(|e| e.to_string())?;
    eprintln!("syslane-emulator: workspace at {https_url}, identity endpoints at http://127.0.0.1:{http_port}; details in {}", s.dir.join("emulator.json").display());

    let forbidden_until = (!s.require_role_assignment && !s.role_applies_after.is_zero())
        .then(|| Instant::now() + s.role_applies_after);
    let shared = Arc::new(Shared {
        s,
        https_url,
        state: Mutex::new(State {
            forbidden_until,
            ..State::default()
        }),
    });
    tokio::spawn(crate::proxy::run(
        proxy,
        acceptor.clone(),
        Arc::clone(&shared),
    ));
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

/// The `[output]` and `[output.auth]` tables that point the agent at this emulator
/// (the book's dry run, docs/src/azure-emulator.md, shows the same keys).
fn output_toml(s: &Settings, https_url: &str) -> String {
    let dir = s.dir.display();
    let security = if s.streams.contains_key("Custom-SyslaneSecurity") {
        "security_stream = \"Custom-SyslaneSecurity\"\n"
    } else {
        ""
    };
    format!(
        "[output]\nplugin = \"azure\"\nendpoint = \"{https_url}\"\ndcr_immutable_id = \"{}\"\nstream = \"Custom-SyslaneSyslog\"\n{security}heartbeat_stream = \"Custom-SyslaneHeartbeat\"\nca_file = \"{dir}/ca.pem\"\n\n[output.auth]\nmethod = \"client_secret\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"{dir}/client-secret\"\nauthority_host = \"{https_url}\"\n",
        s.identity.dcr_immutable_id, s.identity.tenant_id, s.identity.client_id
    )
}
