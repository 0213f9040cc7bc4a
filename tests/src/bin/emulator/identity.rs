//! The emulator's identity side: the Entra ID token endpoint (client secret or
//! certificate client assertion), the instance metadata identity endpoint, and the
//! Azure Arc one with its challenge file. A test can make all of them fail for a
//! while (503), as during an outage of Entra ID or IMDS.

use crate::server::{aad_error, body, header, now_secs, query, reply, Reply, Shared};
use crate::setup::random_hex;
use hyper::body::Incoming;
use hyper::Request;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Verifies a client assertion against the registered certificate, as Entra ID
/// documents it: PS256 with the certificate's SHA-256 thumbprint in `x5t#S256`,
/// or the older RS256 with its SHA-1 thumbprint in `x5t` (still taken, "not
/// recommended"). Returns the algorithm used.
/// <https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials>
fn verify_assertion(sh: &Shared, jwt: &str, tenant: &str) -> Result<String, String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, p, sig] = parts[..] else {
        return Err("the assertion is not a JWS".into());
    };
    let decode = |s: &str| {
        URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| "bad base64url".to_string())
    };
    let header: Value = serde_json::from_slice(&decode(h)?).map_err(|e| e.to_string())?;
    let claims: Value = serde_json::from_slice(&decode(p)?).map_err(|e| e.to_string())?;
    let id = &sh.s.identity;
    let alg = header["alg"].as_str().unwrap_or("").to_string();
    let (algorithm, thumbprint_ok): (&dyn ring::signature::VerificationAlgorithm, bool) =
        match alg.as_str() {
            "PS256" => (
                &ring::signature::RSA_PSS_2048_8192_SHA256,
                header["x5t#S256"] == id.client_x5t_s256.as_str(),
            ),
            "RS256" => (
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                header["x5t"] == id.client_x5t.as_str(),
            ),
            other => return Err(format!("alg {other:?} is neither PS256 nor RS256")),
        };
    if !thumbprint_ok {
        return Err(format!(
            "the {} thumbprint does not match the registered certificate",
            if alg == "PS256" { "x5t#S256" } else { "x5t" }
        ));
    }
    let key = ring::signature::UnparsedPublicKey::new(algorithm, &id.client_public_key);
    key.verify(format!("{h}.{p}").as_bytes(), &decode(sig)?)
        .map_err(|_| "the signature does not verify".to_string())?;
    let aud = format!("{}/{tenant}/oauth2/v2.0/token", sh.https_url);
    if claims["aud"] != aud.as_str() {
        return Err(format!("aud {} is not {aud}", claims["aud"]));
    }
    let id = sh.s.identity.client_id.as_str();
    if claims["iss"] != id || claims["sub"] != id {
        return Err("iss and sub must be the client id".into());
    }
    let now = now_secs();
    let exp = claims["exp"].as_u64().unwrap_or(0);
    let nbf = claims["nbf"].as_u64().unwrap_or(0);
    if exp <= now || nbf > now + 60 || claims["jti"].as_str().unwrap_or("").is_empty() {
        return Err("the assertion is expired, not yet valid, or has no jti".into());
    }
    Ok(alg)
}

pub(crate) async fn token_endpoint(
    sh: Arc<Shared>,
    req: Request<Incoming>,
    tenant: String,
) -> Reply {
    if !header(&req, "content-type").starts_with("application/x-www-form-urlencoded") {
        return aad_error(
            400,
            "invalid_request",
            "AADSTS900144: the request body must be a form",
        );
    }
    let Ok(raw) = body(req, 64 * 1024).await else {
        return aad_error(400, "invalid_request", "AADSTS900144: body too large");
    };
    let form: HashMap<String, String> = form_urlencoded::parse(&raw).into_owned().collect();
    let id = &sh.s.identity;
    if form.get("grant_type").map(String::as_str)
        == Some("urn:ietf:params:oauth:grant-type:device_code")
    {
        return device_code_token(&sh, &form);
    }
    let arm = form.get("scope").is_some_and(|s| is_arm_scope(s));
    if let Some(scope) = form.get("scope") {
        count_scope(&sh, scope);
    }
    if let Some(jwt) = form.get("client_assertion") {
        sh.lock().assertions.push(jwt.clone());
    }
    let kind = if form.contains_key("client_assertion") {
        "client_assertion"
    } else {
        "client_secret"
    };
    if let Some(r) = sh.token_outage(kind) {
        return r;
    }
    let check = || -> Result<(), (u16, &'static str, String)> {
        if tenant != id.tenant_id {
            return Err((
                400,
                "invalid_request",
                format!("AADSTS90002: Tenant '{tenant}' not found."),
            ));
        }
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return Err((
                400,
                "unsupported_grant_type",
                "AADSTS70003: grant_type must be client_credentials".into(),
            ));
        }
        if form.get("client_id") != Some(&id.client_id) {
            return Err((
                400,
                "unauthorized_client",
                "AADSTS700016: Application not found in the directory.".into(),
            ));
        }
        if !arm
            && !form
                .get("scope")
                .is_some_and(|s| s.ends_with("//.default") && is_monitor_resource(s))
        {
            return Err((
                400,
                "invalid_scope",
                "AADSTS70011: The provided value for scope is not valid.".into(),
            ));
        }
        if let Some(secret) = form.get("client_secret") {
            if *secret != id.client_secret {
                return Err((
                    401,
                    "invalid_client",
                    "AADSTS7000215: Invalid client secret provided.".into(),
                ));
            }
            return Ok(());
        }
        if form.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return Err((
                400,
                "invalid_request",
                "AADSTS7000218: client_assertion or client_secret is required.".into(),
            ));
        }
        let jwt = form
            .get("client_assertion")
            .map(String::as_str)
            .unwrap_or("");
        let alg = verify_assertion(&sh, jwt, &tenant).map_err(|e| {
            (
                401,
                "invalid_client",
                format!("AADSTS700027: Client assertion failed signature validation: {e}"),
            )
        })?;
        *sh.lock().assertion_algs.entry(alg).or_default() += 1;
        Ok(())
    };
    match check() {
        Ok(()) => {
            let token = if arm {
                sh.issue_arm(kind)
            } else {
                sh.issue(kind)
            };
            reply(
                200,
                json!({"token_type": "Bearer", "expires_in": sh.s.token_lifetime.as_secs(), "ext_expires_in": sh.s.token_lifetime.as_secs(), "access_token": token}),
            )
        }
        Err((status, code, text)) => {
            sh.refuse_token(kind);
            aad_error(status, code, &text)
        }
    }
}

pub(crate) fn identity_token(
    sh: &Shared,
    req: &Request<Incoming>,
    kind: &str,
    version: &str,
) -> Reply {
    if let Some(r) = sh.token_outage(kind) {
        return r;
    }
    if header(req, "metadata") != "true" {
        return reply(
            400,
            json!({"error": "invalid_request", "error_description": "Required metadata header not specified"}),
        );
    }
    let q = query(req);
    if q.get("api-version").map(String::as_str) != Some(version) {
        return reply(
            400,
            json!({"error": "invalid_request", "error_description": format!("api-version must be {version}")}),
        );
    }
    let resource = q.get("resource").map(String::as_str).unwrap_or("");
    count_scope(sh, resource);
    let arm = is_arm_scope(resource);
    if !arm && !is_monitor_resource(resource) {
        return reply(
            400,
            json!({"error": "invalid_resource", "error_description": format!("resource {resource:?} is not https://monitor.azure.com/")}),
        );
    }
    let token = if arm {
        sh.issue_arm(kind)
    } else {
        sh.issue(kind)
    };
    let lifetime = sh.s.token_lifetime.as_secs();
    reply(
        200,
        json!({"access_token": token, "expires_in": lifetime.to_string(), "expires_on": (now_secs() + lifetime).to_string(), "resource": resource, "token_type": "Bearer"}),
    )
}

pub(crate) fn arc_endpoint(sh: &Shared, req: &Request<Incoming>) -> Reply {
    if let Some(r) = sh.token_outage("arc") {
        return r;
    }
    let auth = header(req, "authorization");
    if let Some(secret) = auth.strip_prefix("Basic ") {
        let file = sh.lock().arc_challenges.remove(secret);
        return match file {
            Some(path) => {
                let _ = std::fs::remove_file(path);
                identity_token(sh, req, "arc", "2019-11-01")
            }
            None => {
                sh.refuse_token("arc");
                reply(
                    401,
                    json!({"error": "unauthorized", "error_description": "the challenge answer is wrong"}),
                )
            }
        };
    }
    if header(req, "metadata") != "true" {
        return reply(
            400,
            json!({"error": "invalid_request", "error_description": "Required metadata header not specified"}),
        );
    }
    let secret = random_hex(32);
    let path =
        sh.s.dir
            .join("arc-tokens")
            .join(format!("{}.key", random_hex(8)));
    if std::fs::write(&path, &secret).is_err() {
        return reply(500, json!({"error": "server_error"}));
    }
    sh.lock().arc_challenges.insert(secret, path.clone());
    let mut r = reply(401, json!({"error": "unauthorized"}))?;
    if let Ok(v) = hyper::header::HeaderValue::from_str(&format!("Basic realm={}", path.display()))
    {
        r.headers_mut().insert("www-authenticate", v);
    }
    Ok(r)
}

/// The public client `syslane setup` signs in with (the Azure CLI's, see
/// docs/src/azure.md): the only client the emulator's device code endpoint knows.
pub(crate) const PUBLIC_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// Scopes of Azure Resource Manager that the token endpoints take, besides the
/// Logs Ingestion API's: the global cloud's and the sovereign clouds' (which ones
/// a client asks for is what the tests read back from `scopes` in the stats).
pub(crate) fn is_arm_scope(scope: &str) -> bool {
    let resource = scope.trim_end_matches(".default").trim_end_matches('/');
    [
        "https://management.azure.com",
        "https://management.core.windows.net",
        "https://management.usgovcloudapi.net",
        "https://management.chinacloudapi.cn",
    ]
    .contains(&resource)
}

/// The Logs Ingestion API's resource in the global and the sovereign clouds.
pub(crate) fn is_monitor_resource(scope: &str) -> bool {
    let resource = scope.trim_end_matches(".default").trim_end_matches('/');
    [
        "https://monitor.azure.com",
        "https://monitor.azure.us",
        "https://monitor.azure.cn",
    ]
    .contains(&resource)
}

fn count_scope(sh: &Shared, scope: &str) {
    *sh.lock().scopes.entry(scope.to_string()).or_default() += 1;
}

/// The Arc machine's instance metadata, as the Arc agent's identity service
/// serves a subset of the Azure instance metadata (`compute.resourceId` names the
/// `Microsoft.HybridCompute/machines` resource):
/// <https://learn.microsoft.com/en-us/azure/azure-arc/servers/managed-identity-authentication>.
pub(crate) fn arc_instance_metadata(sh: &Shared, req: &Request<Incoming>) -> Reply {
    if header(req, "metadata") != "true" {
        return reply(
            400,
            json!({"error": "invalid_request", "error_description": "Required metadata header not specified"}),
        );
    }
    let sub = &sh.s.identity.subscription_id;
    reply(
        200,
        json!({"compute": {"resourceId": crate::arm::arc_machine_id_of(sub), "name": crate::arm::ARC_MACHINE,
                           "location": sh.s.workspace_location, "subscriptionId": sub,
                           "resourceGroupName": crate::arm::RESOURCE_GROUP}}),
    )
}

/// One device code handed out: when it expires, polls so far, the last poll.
pub(crate) struct DeviceCode {
    pub(crate) expires: std::time::Instant,
    pub(crate) polls: u32,
    pub(crate) last_poll: Option<std::time::Instant>,
}

/// The device authorization request, as the Microsoft identity platform's
/// "OAuth 2.0 device authorization grant" page gives it: `POST
/// /{tenant}/oauth2/v2.0/devicecode` with `client_id` and `scope`; the answer
/// holds `device_code`, `user_code`, `verification_uri`, `expires_in`, `interval`
/// and `message`.
/// <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-device-code>
pub(crate) async fn device_code_endpoint(
    sh: Arc<Shared>,
    req: Request<Incoming>,
    tenant: String,
) -> Reply {
    let Ok(raw) = body(req, 64 * 1024).await else {
        return aad_error(400, "invalid_request", "AADSTS900144: body too large");
    };
    let form: HashMap<String, String> = form_urlencoded::parse(&raw).into_owned().collect();
    if tenant != sh.s.identity.tenant_id && tenant != "organizations" {
        return aad_error(
            400,
            "invalid_request",
            &format!("AADSTS90002: Tenant '{tenant}' not found."),
        );
    }
    if form.get("client_id").map(String::as_str) != Some(PUBLIC_CLIENT_ID) {
        return aad_error(
            400,
            "unauthorized_client",
            "AADSTS700016: Application not found in the directory.",
        );
    }
    if let Some(scope) = form.get("scope") {
        count_scope(&sh, scope);
    }
    if !form
        .get("scope")
        .is_some_and(|s| s.split(' ').any(is_arm_scope))
    {
        return aad_error(
            400,
            "invalid_scope",
            "AADSTS70011: The provided value for scope is not valid.",
        );
    }
    let device_code = random_hex(24);
    let user_code = random_hex(4).to_uppercase();
    let lifetime = sh.s.device_code_expires_secs;
    sh.lock().device_codes.insert(
        device_code.clone(),
        DeviceCode {
            expires: std::time::Instant::now() + std::time::Duration::from_secs(lifetime),
            polls: 0,
            last_poll: None,
        },
    );
    let uri = format!("{}/devicelogin", sh.https_url);
    reply(
        200,
        json!({"device_code": device_code, "user_code": user_code, "verification_uri": uri,
               "expires_in": lifetime, "interval": 1,
               "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate.")}),
    )
}

/// The token request of the device code flow: `authorization_pending` until the
/// user has signed in (here: `--device-code-approve-after-polls` polls),
/// `slow_down` to a poll sooner than `interval` (RFC 8628 section 3.5),
/// `expired_token` after `expires_in`, `authorization_declined` when the emulator
/// was told the user declines.
pub(crate) fn device_code_token(sh: &Shared, form: &HashMap<String, String>) -> Reply {
    if form.get("client_id").map(String::as_str) != Some(PUBLIC_CLIENT_ID) {
        return aad_error(
            400,
            "unauthorized_client",
            "AADSTS700016: Application not found in the directory.",
        );
    }
    let code = form.get("device_code").cloned().unwrap_or_default();
    let now = std::time::Instant::now();
    let outcome = {
        let mut st = sh.lock();
        let Some(d) = st.device_codes.get_mut(&code) else {
            return aad_error(
                400,
                "bad_verification_code",
                "AADSTS70019: The device code was not recognized.",
            );
        };
        let too_soon = d
            .last_poll
            .is_some_and(|t| now.duration_since(t) < std::time::Duration::from_millis(900));
        d.last_poll = Some(now);
        d.polls += 1;
        if now >= d.expires {
            "expired"
        } else if too_soon {
            "slow_down"
        } else if d.polls <= sh.s.device_code_approve_after_polls {
            "pending"
        } else if sh.s.device_code_decline {
            "declined"
        } else {
            "approved"
        }
    };
    match outcome {
        "expired" => aad_error(400, "expired_token", "AADSTS70020: The provided value for the input parameter 'device_code' is not valid. This device code has expired."),
        "slow_down" => aad_error(400, "slow_down", "polled sooner than the interval"),
        "pending" => aad_error(400, "authorization_pending", "AADSTS70016: The provided request has not yet been authorized by the user. The user must input their code."),
        "declined" => aad_error(400, "authorization_declined", "AADSTS70000: The user declined the sign-in."),
        _ => {
            sh.lock().device_codes.remove(&code);
            let token = sh.issue_arm("device_code");
            reply(200, json!({"token_type": "Bearer", "scope": "https://management.azure.com//user_impersonation",
                              "expires_in": sh.s.token_lifetime.as_secs(), "access_token": token}))
        }
    }
}

/// The instance metadata service's description of the VM (`compute.resourceId`),
/// from which `setup` finds the VM's managed identity through Resource Manager.
/// <https://learn.microsoft.com/en-us/azure/virtual-machines/instance-metadata-service>
pub(crate) fn instance_metadata(sh: &Shared, req: &Request<Incoming>) -> Reply {
    if header(req, "metadata") != "true" {
        return reply(
            400,
            json!({"error": "invalid_request", "error_description": "Required metadata header not specified"}),
        );
    }
    reply(
        200,
        json!({"compute": {"resourceId": crate::arm::vm_id(sh), "name": crate::arm::VM,
                           "location": sh.s.workspace_location,
                           "subscriptionId": sh.s.identity.subscription_id,
                           "resourceGroupName": crate::arm::RESOURCE_GROUP}}),
    )
}
