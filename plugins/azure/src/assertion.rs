//! The client-certificate method: the app's RSA key and certificate, and the
//! client assertion (RFC 7523) that proves possession of the key, in the form
//! Microsoft Entra ID documents: signed with PS256, the certificate named by its
//! SHA-256 thumbprint in `x5t#S256` (RS256 with a SHA-1 `x5t` is "not
//! recommended"); claims `aud`, `iss`, `sub`, `jti`, `nbf`, `iat`, `exp`.
//! <https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials>

use crate::auth::AuthError;
use crate::secret::{read_secret_file, Secret};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::RsaKeyPair;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Loads an RSA private key (PKCS#8 or PKCS#1 PEM) for PS256 signing.
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

/// The certificate's SHA-256 thumbprint, base64url: the `x5t#S256` Entra ID matches.
pub fn load_thumbprint(path: &Path) -> Result<String, String> {
    let pem = std::fs::read(path).map_err(|e| {
        format!(
            "auth.certificate_file {}: cannot read it: {e}",
            path.display()
        )
    })?;
    for item in ureq::tls::parse_pem(&pem) {
        if let Ok(ureq::tls::PemItem::Certificate(c)) = item {
            let digest = ring::digest::digest(&ring::digest::SHA256, c.der());
            return Ok(URL_SAFE_NO_PAD.encode(digest.as_ref()));
        }
    }
    Err(format!(
        "auth.certificate_file {} holds no PEM certificate",
        path.display()
    ))
}

/// A client assertion (RFC 7523) signed with PS256, valid for ten minutes.
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
    let header = serde_json::json!({"alg": "PS256", "typ": "JWT", "x5t#S256": thumbprint});
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
        &ring::signature::RSA_PSS_SHA256,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A throwaway 2048-bit key and a certificate for it, made with openssl.
    fn key_and_certificate(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
        let ok = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=syslane test",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "openssl made a key and certificate");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        (key, cert)
    }

    #[test]
    fn assertions_are_ps256_with_the_sha256_thumbprint_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        let (key_path, cert_path) = key_and_certificate(dir.path());
        let key = load_key(&key_path).unwrap();
        let thumbprint = load_thumbprint(&cert_path).unwrap();
        let pem = std::fs::read(&cert_path).unwrap();
        let der = ureq::tls::parse_pem(&pem)
            .find_map(|i| match i {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c.der().to_vec()),
                _ => None,
            })
            .unwrap();
        let expected = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, &der));
        assert_eq!(thumbprint, expected);

        let aud = "https://login.microsoftonline.com/tenant/oauth2/v2.0/token";
        let jwt = client_assertion(&key, &thumbprint, "client", aud).unwrap();
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "PS256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["x5t#S256"], expected.as_str());
        assert!(header.get("x5t").is_none());
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], aud);
        assert_eq!(claims["iss"], "client");
        assert_eq!(claims["sub"], "client");
        assert!(claims["exp"].as_u64().unwrap() > claims["nbf"].as_u64().unwrap());
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PSS_2048_8192_SHA256,
            ring::signature::KeyPair::public_key(&key).as_ref().to_vec(),
        );
        public
            .verify(
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            )
            .expect("a PS256 signature by the certificate's key");
    }
}
