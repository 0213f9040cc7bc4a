//! Which proxy a destination is reached through.
//!
//! `proxy_file` (or `proxy`, without a password) in the configuration applies to
//! the ingestion endpoint and the authority host; it is in the Log Analytics
//! agent's syntax, a plain TCP hop to the proxy unless `proxy_tls` is set. Without
//! either, the proxy comes from the environment as curl reads it for `https://`
//! URLs (there `https://` means TLS to the proxy): `https_proxy`,
//! `HTTPS_PROXY`, then `all_proxy`, `ALL_PROXY`; hosts matching `no_proxy` /
//! `NO_PROXY` go direct (so a private-link endpoint can be exempted). The local
//! identity endpoints (IMDS, Arc) are always reached directly.

use crate::proxy::{self, ProxySetting, Syntax};
use crate::secret::Secret;
use std::net::IpAddr;
use std::path::Path;

/// The proxy setting and where it came from.
#[derive(Debug)]
pub struct ProxyPlan {
    setting: Option<ProxySetting>,
    /// `proxy_file /etc/syslane/proxy.conf`, `HTTPS_PROXY`, … for messages.
    pub source: String,
    no_proxy: Option<String>,
}

const PROXY_VARS: [&str; 4] = ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"];
const NO_PROXY_VARS: [&str; 2] = ["no_proxy", "NO_PROXY"];

impl ProxyPlan {
    /// From the configuration, else from the environment (`env` reads a variable).
    /// `tls`: `proxy_tls`, TLS to a configured proxy.
    pub fn new(
        inline: Option<&Secret>,
        file: Option<&Path>,
        tls: bool,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ProxyPlan, String> {
        let syntax = Syntax::Agent { tls };
        if tls && inline.is_none() && file.is_none() {
            return Err("proxy_tls applies to the proxy of proxy_file or proxy, and neither is set; for a proxy from HTTPS_PROXY or ALL_PROXY, write https:// there for TLS to the proxy (curl's meaning)".into());
        }
        let (setting, source) = match (inline, file) {
            (Some(_), Some(_)) => return Err("set proxy or proxy_file, not both".into()),
            (Some(p), None) => {
                let setting = proxy::parse_as(p.expose(), syntax)?;
                if setting.password.is_some() {
                    return Err(
                        "proxy: a password written in the configuration file is refused, since the file is usually readable by others (the packaged one is 0644); put the whole setting in a file of its own, readable only by the agent's user, and set proxy_file to it (e.g. /etc/syslane/proxy.conf, mode 0600), or give the proxy in HTTPS_PROXY".into(),
                    );
                }
                (Some(setting), "proxy".to_string())
            }
            (None, Some(f)) => (
                Some(proxy::read_file(f, syntax)?),
                format!("proxy_file {}", f.display()),
            ),
            (None, None) => {
                let found = PROXY_VARS
                    .iter()
                    .find_map(|var| env(var).filter(|v| !v.trim().is_empty()).map(|v| (*var, v)));
                match found {
                    None => (None, String::new()),
                    Some((var, value)) => (
                        Some(
                            proxy::parse_as(&value, Syntax::Curl)
                                .map_err(|e| format!("{var}: {e}"))?,
                        ),
                        var.to_string(),
                    ),
                }
            }
        };
        let from_env = inline.is_none() && file.is_none();
        let no_proxy = if setting.is_some() && from_env {
            NO_PROXY_VARS.iter().find_map(|v| env(v))
        } else {
            None
        };
        Ok(ProxyPlan {
            setting,
            source,
            no_proxy,
        })
    }

    /// The proxy for `url`, or `None` to go direct.
    pub fn for_url(&self, url: &str) -> Option<&ProxySetting> {
        let setting = self.setting.as_ref()?;
        match (&self.no_proxy, url_host(url)) {
            (Some(list), Some(host)) if no_proxy_matches(list, &host) => None,
            _ => Some(setting),
        }
    }
}

/// The host of an `http(s)://host[:port]/…` URL, lowercased, IPv6 without brackets.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']')?.0
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Whether `host` matches a `NO_PROXY` list, as curl reads it: entries separated by
/// commas (or spaces); `*` matches everything; a domain matches itself and its
/// subdomains, with or without a leading `.` or `*.`; an IP address or CIDR range
/// matches addresses; a `:port` suffix is ignored.
pub fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let ip: Option<IpAddr> = host.parse().ok();
    list.split([',', ' ', '\t'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let entry = entry.to_ascii_lowercase();
            if let Some(ip) = ip {
                return ip_matches(&entry, ip);
            }
            let entry = entry
                .trim_start_matches("*.")
                .trim_start_matches('.')
                .trim_end_matches('.');
            let entry = match entry.rsplit_once(':') {
                Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
                _ => entry,
            };
            !entry.is_empty() && (host == entry || host.ends_with(&format!(".{entry}")))
        })
}

fn ip_matches(entry: &str, ip: IpAddr) -> bool {
    let entry = entry.trim_start_matches('[');
    let (addr, bits) = match entry.split_once('/') {
        Some((a, b)) => (a.trim_end_matches(']'), b.parse::<u32>().ok()),
        None => (entry.split(']').next().unwrap_or(entry), None),
    };
    let Ok(net) = addr.parse::<IpAddr>() else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            prefix_eq(u128::from(u32::from(n)), u128::from(u32::from(i)), 32, bits)
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => prefix_eq(u128::from(n), u128::from(i), 128, bits),
        _ => false,
    }
}

fn prefix_eq(net: u128, ip: u128, width: u32, bits: Option<u32>) -> bool {
    let bits = bits.unwrap_or(width).min(width);
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (net >> shift) == (ip >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_entries_match_as_curl_reads_them() {
        let list = "localhost, .internal.example,*.privatelink.monitor.azure.com, 10.0.0.0/8,192.168.1.7, [::1], exact.example:443";
        for host in [
            "localhost",
            "a.internal.example",
            "internal.example",
            "dcr-x.westeurope-1.ingest.privatelink.monitor.azure.com",
            "10.20.30.40",
            "192.168.1.7",
            "::1",
            "exact.example",
            "sub.exact.example",
        ] {
            assert!(no_proxy_matches(list, host), "{host}");
        }
        for host in [
            "notlocalhost",
            "internal.example.com",
            "dcr-x.westeurope-1.ingest.monitor.azure.com",
            "11.0.0.1",
            "192.168.1.8",
            "::2",
            "login.microsoftonline.com",
        ] {
            assert!(!no_proxy_matches(list, host), "{host}");
        }
        assert!(no_proxy_matches("*", "anything.example"));
        assert!(!no_proxy_matches("", "anything.example"));
    }

    #[test]
    fn hosts_of_urls() {
        assert_eq!(
            url_host("https://Dce-1.WestEurope-1.ingest.monitor.azure.com/dataCollectionRules/x")
                .as_deref(),
            Some("dce-1.westeurope-1.ingest.monitor.azure.com")
        );
        assert_eq!(
            url_host("https://127.0.0.1:8443").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(url_host("https://[::1]:8443/x").as_deref(), Some("::1"));
    }

    #[test]
    fn the_environment_is_read_only_without_a_configured_proxy() {
        let env = |name: &str| match name {
            "HTTPS_PROXY" => Some("https://user:pw@proxy.example:3128".to_string()),
            "NO_PROXY" => Some(".privatelink.monitor.azure.com".to_string()),
            _ => None,
        };
        let plan = ProxyPlan::new(None, None, false, &env).unwrap();
        assert_eq!(plan.source, "HTTPS_PROXY");
        let p = plan
            .for_url("https://login.microsoftonline.com/t/oauth2/v2.0/token")
            .unwrap();
        assert!(p.tls && p.host == "proxy.example" && p.port == 3128);
        assert!(plan
            .for_url("https://x.westeurope-1.ingest.privatelink.monitor.azure.com")
            .is_none());
        let nothing = |_: &str| None;
        assert!(ProxyPlan::new(None, None, false, &nothing)
            .unwrap()
            .for_url("https://a")
            .is_none());
        let bad = |name: &str| (name == "https_proxy").then(|| "socks5://h:1".to_string());
        let e = ProxyPlan::new(None, None, false, &bad).unwrap_err();
        assert!(
            e.starts_with("https_proxy: ") && e.contains("not supported"),
            "{e}"
        );
        // A configured proxy wins and NO_PROXY does not apply to it.
        let inline = Secret::new("http://proxy.local:8080".into());
        let plan = ProxyPlan::new(Some(&inline), None, false, &env).unwrap();
        assert_eq!(plan.source, "proxy");
        assert!(plan
            .for_url("https://x.ingest.privatelink.monitor.azure.com")
            .is_some());
        assert!(!plan.for_url("https://a").unwrap().tls);
        let inline = Secret::new("https://proxy.local:8080".into());
        let plan = ProxyPlan::new(Some(&inline), None, true, &env).unwrap();
        assert!(plan.for_url("https://a").unwrap().tls);
        let e = ProxyPlan::new(None, None, true, &env).unwrap_err();
        assert!(e.contains("HTTPS_PROXY") && e.contains("https://"), "{e}");
    }

    #[test]
    fn a_password_inline_in_the_configuration_is_refused_without_showing_it() {
        let nothing = |_: &str| None;
        let inline = Secret::new("https://user:topsecret@proxy.local:3128".into());
        let e = ProxyPlan::new(Some(&inline), None, false, &nothing).unwrap_err();
        assert!(e.contains("proxy_file") && e.contains("0600"), "{e}");
        assert!(!e.contains("topsecret"));
    }
}
