//! The identities `setup` signs in with besides the device code flow: an Azure
//! Arc-enabled server's, and a service principal's certificate.

use super::{arm, command, run, setup, write_config};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::Value;
use syslane_tests::emulator::{Emulator, HEARTBEAT_STREAM};
use syslane_tests::*;

/// On an Arc-enabled server the Arc agent sets `IDENTITY_ENDPOINT` and
/// `IMDS_ENDPOINT`; its token endpoint answers a first request with 401 and
/// `WWW-Authenticate: Basic realm=<file>.key`, and a second one carrying
/// `Authorization: Basic <the file's content>` with a token
/// (<https://learn.microsoft.com/en-us/azure/azure-arc/servers/managed-identity-authentication>).
/// The identity is the `Microsoft.HybridCompute/machines` resource's.
#[test]
fn an_arc_enabled_server_signs_in_with_its_identity_and_finds_it_through_arm() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), &["--require-role-assignment"]);
    let config = write_config(dir.path());
    let mut c = command(&emu, &config);
    c.env("IDENTITY_ENDPOINT", emu.s("arc_endpoint"))
        .env("IMDS_ENDPOINT", emu.s("arc_imds_endpoint"))
        .args(["--arc-token-dir", &emu.s("arc_token_dir")])
        .args(["--use-host-identity", "--yes"]);
    let (ok, out, err) = run(c, "");
    assert!(ok, "{out}\n{err}");
    let principal = emu.s("host_principal_id");
    for line in [
        "✓ signed in to Azure Resource Manager (the host's managed identity)",
        &format!("✓ agent identity {principal} (this Arc-enabled server's identity)"),
        "✓ Monitoring Metrics Publisher assigned on the rule",
        "✓ the workspace accepted a heartbeat from",
        "its user must be in the himds group",
    ] {
        assert!(out.contains(line), "no {line:?} in:\n{out}\n{err}");
    }
    // Both tokens came through the Arc challenge: Resource Manager's for setup,
    // the Logs Ingestion API's for the heartbeat; none from a VM's IMDS.
    assert_eq!(
        emu.stat(&["token_requests", "arm_arc"]),
        1,
        "{}",
        emu.stats()
    );
    assert!(emu.stat(&["token_requests", "arc"]) >= 1, "{}", emu.stats());
    assert_eq!(emu.stat(&["token_requests", "imds"]), 0, "{}", emu.stats());
    // The machine was read through Resource Manager, and its identity holds the role.
    let state = arm(&emu);
    let machine = format!("{}?", emu.s("arc_machine_id"));
    assert!(
        state["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["method"] == "GET"
                && r["status"] == 200
                && r["path"]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case(machine.trim_end_matches('?'))),
        "{state}"
    );
    assert_eq!(
        state["assignments"][0]["properties"]["principalId"],
        principal.as_str()
    );
    // The agent ships as the Arc identity too.
    let drop_in = std::fs::read_to_string(dir.path().join("conf.d/90-syslane-setup.toml")).unwrap();
    assert!(drop_in.contains("method = \"azure_arc\""), "{drop_in}");
    assert!(
        drop_in.contains(&format!(
            "identity_endpoint = \"{}\"",
            emu.s("arc_endpoint")
        )),
        "{drop_in}"
    );
    let (ok, out2, err2) = syslane(&[
        "check-config",
        "--offline",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(ok, "{out2}\n{err2}");
    assert!(!emu.records(HEARTBEAT_STREAM).is_empty());
}

fn pem_der(pem: &str) -> Vec<u8> {
    let b64: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    STANDARD.decode(b64).unwrap()
}

/// The client assertion of a certificate credential, as Entra ID documents it
/// (<https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials>):
/// a JWS whose header names the certificate by its SHA-256 thumbprint
/// (`x5t#S256`, with PS256) or SHA-1 one (`x5t`, with RS256); `aud` the token
/// endpoint; `iss` and `sub` the client id; signed with the certificate's key.
/// Checked here on what the emulator received, with the certificate's public key.
#[test]
fn a_service_principal_signs_in_with_a_certificate() {
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::DecodePrivateKey;
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), &["--require-role-assignment"]);
    let config = write_config(dir.path());
    let client_id = emu.s("client_id");
    let (ok, out, err) = setup(
        &emu,
        &config,
        &[
            "--client-id",
            &client_id,
            "--certificate-file",
            &emu.s("certificate_file"),
            "--private-key-file",
            &emu.s("private_key_file"),
            "--principal-id",
            &emu.s("principal_id"),
        ],
    );
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("✓ signed in to Azure Resource Manager (service principal (certificate))"),
        "{out}"
    );
    assert!(
        out.contains("✓ the workspace accepted a heartbeat"),
        "{out}"
    );

    let cert = pem_der(&std::fs::read_to_string(emu.s("certificate_file")).unwrap());
    let key_pem = std::fs::read_to_string(emu.s("private_key_file")).unwrap();
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(&key_pem)
        .or_else(|_| {
            use rsa::pkcs1::DecodeRsaPrivateKey;
            rsa::RsaPrivateKey::from_pkcs1_pem(&key_pem)
        })
        .unwrap();
    let public = key.to_public_key().to_pkcs1_der().unwrap();
    // The certificate carries this public key.
    assert!(
        cert.windows(public.as_bytes().len())
            .any(|w| w == public.as_bytes()),
        "the key is not the certificate's"
    );
    let thumbprint = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, &cert));
    let token_url = format!(
        "{}/{}/oauth2/v2.0/token",
        emu.s("authority_host"),
        emu.s("tenant_id")
    );
    let got: Vec<Value> = serde_json::from_str(&curl_get(&emu, "assertions")).unwrap();
    // One for Resource Manager, one at least for the heartbeat.
    assert!(got.len() >= 2, "{got:?}");
    for jwt in got.iter().map(|j| j.as_str().unwrap()) {
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(header["alg"], "PS256", "{header}");
        assert_eq!(header["x5t#S256"], thumbprint.as_str(), "{header}");
        assert_eq!(claims["aud"], token_url.as_str(), "{claims}");
        assert_eq!(claims["iss"], client_id.as_str(), "{claims}");
        assert_eq!(claims["sub"], client_id.as_str(), "{claims}");
        assert!(claims["exp"].as_u64().unwrap() > claims["nbf"].as_u64().unwrap());
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PSS_2048_8192_SHA256,
            public.as_bytes(),
        )
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .expect("the assertion verifies with the certificate's public key");
    }
    let drop_in = std::fs::read_to_string(dir.path().join("conf.d/90-syslane-setup.toml")).unwrap();
    assert!(
        drop_in.contains("method = \"client_certificate\""),
        "{drop_in}"
    );
    assert!(!out.contains("BEGIN"), "key material printed");
}

fn curl_get(emu: &Emulator, what: &str) -> String {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--cacert", &emu.s("ca_file")])
        .arg(format!("{}/_emulator/{what}", emu.s("endpoint")))
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}
