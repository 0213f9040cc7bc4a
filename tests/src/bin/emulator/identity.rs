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
        if form.get("scope").map(String::as_str) != Some("https://monitor.azure.com//.default") {
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
            let token = sh.issue(kind);
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
    if resource.trim_end_matches('/') != "https://monitor.azure.com" {
        return reply(
            400,
            json!({"error": "invalid_resource", "error_description": format!("resource {resource:?} is not https://monitor.azure.com/")}),
        );
    }
    let token = sh.issue(kind);
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
