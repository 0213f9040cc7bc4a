//! The client-certificate method: the app's RSA key and certificate, and the
//! RS256 client assertion (RFC 7523) that proves possession of the key.

use crate::auth::AuthError;
use crate::secret::{read_secret_file, Secret};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::RsaKeyPair;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Loads an RSA private key (PKCS#8 or PKCS#1 PEM) for RS256 signing.
pub fn load_key(path: &Path) -> Result<RsaKeyPair, String> {
    let pem = read_secret_file(path, "auth.private_key_file")?;
    let mut found = None;
    for item in ureq::tls::parse_pem(pem.expose().as_bytes()) {
        if let Ok(ureq::tls::PemItem::PrivateKey(k)) = item {
            found = Some(k);
            break;
        }
    }
    let key = found.ok_or_else(|| {
        format!(
            "auth.private_key_file {} holds no PEM private key",
            path.display()
        )
    })?;
    RsaKeyPair::from_pkcs8(key.der())
        .or_else(|_| RsaKeyPair::from_der(key.der()))
        .map_err(|_| {
            format!(
                "auth.private_key_file {}: not an RSA key of 2048 bits or more (Entra ID signs client assertions with RSA)",
                path.display()
            )
        })
}

/// The certificate's SHA-1 thumbprint, base64url: the `x5t` Entra ID matches.
pub fn load_thumbprint(path: &Path) -> Result<String, String> {
    let pem = std::fs::read(path).map_err(|e| {
        format!(
            "auth.certificate_file {}: cannot read it: {e}",
            path.display()
        )
    })?;
    for item in ureq::tls::parse_pem(&pem) {
        if let Ok(ureq::tls::PemItem::Certificate(c)) = item {
            let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, c.der());
            return Ok(URL_SAFE_NO_PAD.encode(digest.as_ref()));
        }
    }
    Err(format!(
        "auth.certificate_file {} holds no PEM certificate",
        path.display()
    ))
}

/// A client assertion (RFC 7523) signed with RS256, valid for ten minutes.
pub fn client_assertion(
    key: &RsaKeyPair,
    thumbprint: &str,
    client_id: &str,
    audience: &str,
) -> Result<Secret, AuthError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut jti = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut jti).map_err(|_| {
        AuthError {
            message: "no randomness for the client assertion".into(),
            retry_after: None,
        }
    })?;
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": thumbprint});
    let claims = serde_json::json!({
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": jti.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "nbf": now,
        "iat": now,
        "exp": now + 600,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| AuthError {
        message: "could not sign the client assertion".into(),
        retry_after: None,
    })?;
    Ok(Secret::new(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    )))
}
