//! What the emulator generates at start: a CA and a server certificate for
//! 127.0.0.1, an app registration (client id, secret, RSA certificate), a tenant,
//! a data collection rule id, the proxy's credentials, and the directory for Arc
//! challenge files.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub struct Identity {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// PKCS#1 DER of the registered certificate's public key.
    pub client_public_key: Vec<u8>,
    /// base64url SHA-256 of the registered certificate (`x5t#S256`, with PS256).
    pub client_x5t_s256: String,
    /// base64url SHA-1 of the registered certificate (`x5t`, with RS256, which
    /// Entra ID still takes but no longer recommends).
    pub client_x5t: String,
    pub dcr_immutable_id: String,
    pub server_cert_der: Vec<u8>,
    pub server_key_der: Vec<u8>,
    pub proxy_user: String,
    pub proxy_password: String,
    /// The emulated Resource Manager: subscription, workspace customer id, and the
    /// object ids of the app registration's service principal and of the host's
    /// managed identity.
    pub subscription_id: String,
    pub workspace_customer_id: String,
    pub principal_id: String,
    pub host_principal_id: String,
}

pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn guid() -> String {
    let h = random_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub fn write_private(path: &Path, data: &[u8]) -> Result<(), String> {
    std::fs::write(path, data).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub fn generate(dir: &Path) -> Result<Identity, String> {
    std::fs::create_dir_all(dir).map_err(err)?;
    // The CA clients trust, and the server certificate it signs.
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "syslane workspace emulator CA");
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).map_err(err)?;

    let server_key = KeyPair::generate().map_err(err)?;
    let mut server = CertificateParams::new(vec!["localhost".to_string()]).map_err(err)?;
    server
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    server
        .distinguished_name
        .push(DnType::CommonName, "syslane workspace emulator");
    let server_cert = server
        .signed_by(&server_key, &ca_cert, &ca_key)
        .map_err(err)?;

    // The app registration: a secret and an RSA certificate.
    let client_secret = format!("emu~{}", random_hex(20));
    write_private(&dir.join("client-secret"), client_secret.as_bytes())?;
    let rsa_key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(err)?;
    let key_pem = rsa_key.to_pkcs8_pem(LineEnding::LF).map_err(err)?;
    write_private(&dir.join("client-key.pem"), key_pem.as_bytes())?;
    let client_public_key = rsa_key
        .to_public_key()
        .to_pkcs1_der()
        .map_err(err)?
        .as_bytes()
        .to_vec();
    let client_key =
        KeyPair::from_pkcs8_pem_and_sign_algo(&key_pem, &rcgen::PKCS_RSA_SHA256).map_err(err)?;
    let mut client = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    client
        .distinguished_name
        .push(DnType::CommonName, "syslane agent");
    let client_cert = client.self_signed(&client_key).map_err(err)?;
    std::fs::write(dir.join("client-cert.pem"), client_cert.pem()).map_err(err)?;
    let thumbprint = |alg| {
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ring::digest::digest(alg, client_cert.der()).as_ref(),
        )
    };
    let client_x5t = thumbprint(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    let client_x5t_s256 = thumbprint(&ring::digest::SHA256);

    let arc = dir.join("arc-tokens");
    std::fs::create_dir_all(&arc).map_err(err)?;
    std::fs::set_permissions(&arc, std::fs::Permissions::from_mode(0o700)).map_err(err)?;

    Ok(Identity {
        tenant_id: guid(),
        client_id: guid(),
        client_secret,
        client_public_key,
        client_x5t,
        client_x5t_s256,
        dcr_immutable_id: format!("dcr-{}", random_hex(16)),
        server_cert_der: server_cert.der().to_vec(),
        server_key_der: server_key.serialize_der(),
        proxy_user: "syslane".into(),
        proxy_password: random_hex(12),
        subscription_id: guid(),
        workspace_customer_id: guid(),
        principal_id: guid(),
        host_principal_id: guid(),
    })
}
