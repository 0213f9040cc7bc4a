//! `--cloud`: the sovereign clouds' Resource Manager endpoint and scope, authority
//! and Logs Ingestion scope. The expected values are Microsoft's, from these
//! pages (not from syslane's own table):
//! - Resource Manager, US Government: "Azure Resource Manager ...
//!   management.usgovcloudapi.net" in the endpoint mapping of
//!   <https://learn.microsoft.com/en-us/azure/azure-government/documentation-government-developer-guide#endpoint-mapping>;
//!   China: "management.chinacloudapi.cn" in
//!   <https://learn.microsoft.com/en-us/azure/china/resources-developer-guide#check-endpoints-in-azure>;
//! - authorities: "Microsoft Entra ID for US Government https://login.microsoftonline.us"
//!   and "Microsoft Entra China operated by 21Vianet https://login.partner.microsoftonline.cn"
//!   in <https://learn.microsoft.com/en-us/entra/identity-platform/authentication-national-cloud>;
//! - a resource's scope for the client credentials and device code grants is its
//!   identifier followed by `/.default`
//!   (<https://learn.microsoft.com/en-us/entra/identity-platform/scopes-oidc#the-default-scope>),
//!   the resource being the endpoint with a trailing slash;
//! - Logs Ingestion API audiences: `https://monitor.azure.us//.default` (Azure
//!   Government) and `https://monitor.azure.cn//.default` (Azure operated by
//!   21Vianet) in
//!   <https://learn.microsoft.com/en-us/azure/azure-monitor/logs/logs-ingestion-api-overview#request-headers>.
//!
//! Nothing here reaches Azure: `--arm-endpoint` and `--authority-host` send the
//! requests to the emulator, which records the scopes it is asked for.

use super::{arm, setup, write_config};
use syslane_tests::emulator::{Emulator, HEARTBEAT_STREAM};

struct Documented {
    cloud: &'static str,
    arm: &'static str,
    authority: &'static str,
    logs_ingestion_scope: &'static str,
}

const US_GOVERNMENT: Documented = Documented {
    cloud: "AzureUSGovernment",
    arm: "https://management.usgovcloudapi.net",
    authority: "https://login.microsoftonline.us",
    logs_ingestion_scope: "https://monitor.azure.us//.default",
};

const CHINA: Documented = Documented {
    cloud: "AzureChinaCloud",
    arm: "https://management.chinacloudapi.cn",
    authority: "https://login.partner.microsoftonline.cn",
    logs_ingestion_scope: "https://monitor.azure.cn//.default",
};

/// A run as a service principal in `d.cloud`, end to end against the emulator.
fn check(d: &Documented) {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), &[]);
    let config = write_config(dir.path());
    let (ok, out, err) = setup(
        &emu,
        &config,
        &[
            "--cloud",
            d.cloud,
            "--client-id",
            &emu.s("client_id"),
            "--client-secret-file",
            &emu.s("client_secret_file"),
            "--principal-id",
            &emu.s("principal_id"),
        ],
    );
    assert!(ok, "{out}\n{err}");
    let arm_scope = format!("{}//.default", d.arm);
    // What the cloud resolved to (the overrides are shown beside it).
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("✓ cloud {}:", d.cloud)))
        .unwrap_or_else(|| panic!("no cloud line in:\n{out}"));
    assert!(
        line.contains(&format!(
            "Resource Manager {} (overridden: {}) scope {arm_scope},",
            d.arm,
            emu.s("arm_endpoint")
        )),
        "{line}"
    );
    assert!(
        line.contains(&format!(
            "authority {} (overridden: {}),",
            d.authority,
            emu.s("authority_host")
        )),
        "{line}"
    );
    assert!(
        line.ends_with(&format!("Logs Ingestion scope {}", d.logs_ingestion_scope)),
        "{line}"
    );
    // The scopes the identity platform was asked for: Resource Manager's for
    // setup, the Logs Ingestion API's for the heartbeat setup sends; no other.
    let scopes = emu.stats()["scopes"].clone();
    let asked: Vec<String> = scopes.as_object().unwrap().keys().cloned().collect();
    let mut expected = vec![arm_scope.clone(), d.logs_ingestion_scope.to_string()];
    expected.sort();
    assert_eq!(asked, expected, "{scopes}");
    // The agent is configured for the cloud's Logs Ingestion scope.
    let drop_in = std::fs::read_to_string(dir.path().join("conf.d/90-syslane-setup.toml")).unwrap();
    assert!(
        drop_in.contains(&format!("scope = \"{}\"", d.logs_ingestion_scope)),
        "{drop_in}"
    );
    assert!(
        drop_in.contains(&format!("authority_host = \"{}\"", emu.s("authority_host"))),
        "{drop_in}"
    );
    assert!(!emu.records(HEARTBEAT_STREAM).is_empty());
    assert!(!arm(&emu)["rules"].as_object().unwrap().is_empty());
}

#[test]
fn us_government_resolves_its_documented_endpoints_and_scopes() {
    check(&US_GOVERNMENT);
}

#[test]
fn china_resolves_its_documented_endpoints_and_scopes() {
    check(&CHINA);
}
