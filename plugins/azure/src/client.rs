//! The HTTPS client: rustls with TLS 1.2 as the floor, the system's roots plus an
//! optional CA file, an optional CONNECT proxy (spoken to over TLS when asked:
//! `proxy_tls`, or `https://` in `HTTPS_PROXY`), and timeouts. Certificate checks cannot be turned off.

use crate::proxy::ProxySetting;
use std::sync::Arc;
use std::time::Duration;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// Loads the trusted roots: the system's store, plus every certificate in `ca_file`.
pub fn roots(ca_file: Option<&std::path::Path>) -> Result<Vec<Certificate<'static>>, String> {
    let mut roots: Vec<Certificate<'static>> = rustls_native_certs::load_native_certs()
        .certs
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("ca_file {}: cannot read it: {e}", path.display()))?;
        let before = roots.len();
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => roots.push(c.to_owned()),
                Ok(_) => {}
                Err(e) => {
                    return Err(format!(
                        "ca_file {}: not PEM certificates: {e}",
                        path.display()
                    ))
                }
            }
        }
        if roots.len() == before {
            return Err(format!(
                "ca_file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ));
        }
    }
    if roots.is_empty() {
        return Err(
            "no trusted root certificates: install the ca-certificates package or set ca_file"
                .into(),
        );
    }
    Ok(roots)
}

/// An agent and the proxy it goes through, for messages.
#[derive(Debug, Clone)]
pub struct Client {
    pub agent: ureq::Agent,
    proxy: Option<(String, bool)>,
}

impl Client {
    pub fn new(
        roots: &[Certificate<'static>],
        proxy: Option<&ProxySetting>,
        timeout: Duration,
    ) -> Result<Client, String> {
        Ok(Client {
            agent: agent(roots, proxy, timeout)?,
            proxy: proxy.map(|p| (format!("{}:{}", p.host, p.port), p.tls)),
        })
    }

    /// A transport error, with what to check about the proxy when one is in the way.
    pub fn describe(&self, e: &ureq::Error) -> String {
        let text = describe(e);
        match &self.proxy {
            Some((at, true))
                if ["TLS failed", "connection failed", "timed out"]
                    .iter()
                    .any(|p| text.starts_with(p)) =>
            {
                format!(
                "{text} (through the proxy {at}, spoken to over TLS: if it takes plain HTTP, remove proxy_tls = true, or write http:// in HTTPS_PROXY; the tunnel to Azure is TLS either way)"
            )
            }
            Some((at, _))
                if text.starts_with("connection failed") || text.starts_with("timed out") =>
            {
                format!("{text} (through the proxy {at})")
            }
            _ => text,
        }
    }
}

/// Builds an agent. `proxy` applies to HTTPS destinations; local identity
/// endpoints (IMDS, Arc) are reached directly.
pub fn agent(
    roots: &[Certificate<'static>],
    proxy: Option<&ProxySetting>,
    timeout: Duration,
) -> Result<ureq::Agent, String> {
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::Specific(Arc::new(roots.to_vec())))
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build();
    let proxy = match proxy {
        None => None,
        Some(p) => {
            let protocol = if p.tls {
                ureq::ProxyProtocol::Https
            } else {
                ureq::ProxyProtocol::Http
            };
            let mut b = ureq::Proxy::builder(protocol).host(&p.host).port(p.port);
            if let (Some(user), Some(password)) = (&p.user, &p.password) {
                b = b.username(user).password(password.expose());
            }
            Some(b.build().map_err(|_| {
                format!("proxy: {}:{} is not a usable proxy address", p.host, p.port)
            })?)
        }
    };
    let config = ureq::Agent::config_builder()
        .tls_config(tls)
        .proxy(proxy)
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .timeout_connect(Some(timeout.min(Duration::from_secs(10))))
        .user_agent(concat!("syslane/", env!("CARGO_PKG_VERSION")))
        .max_idle_connections_per_host(16)
        .build();
    Ok(ureq::Agent::new_with_config(config))
}

/// A short, secret-free description of a transport error.
pub fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        // rustls reports a refused certificate as InvalidData inside an io::Error.
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
            format!("TLS failed: {io}; if the endpoint uses a private CA, set ca_file")
        }
        ureq::Error::Io(io) => format!("connection failed: {io}"),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectProxyFailed(why) => proxy_refusal(why),
        ureq::Error::Tls(why) => format!("TLS failed: {why}"),
        ureq::Error::Rustls(why) => format!("TLS failed: {why}"),
        other => {
            // Other variants name protocol problems; none carries credentials, but
            // keep only the first line and bound it.
            let text = other.to_string();
            text.lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect()
        }
    }
}

/// What a proxy's refusal of CONNECT means. ureq says `proxy server responded
/// 407/407`; a proxy that does not take the credentials answers 407 (RFC 9110
/// 15.5.8), some (tinyproxy) 401.
fn proxy_refusal(why: &str) -> String {
    let status = why
        .strip_prefix("proxy server responded ")
        .and_then(|s| s.split('/').next())
        .and_then(|s| s.trim().parse::<u16>().ok());
    match status {
        Some(code @ (401 | 407)) => format!(
            "proxy authentication failed (the proxy answered HTTP {code}): check the user name and password in proxy_file or HTTPS_PROXY (percent-encode @ : / % in them), and that the proxy takes Basic authentication"
        ),
        Some(code) => format!(
            "the proxy refused the tunnel (HTTP {code}): check that it allows CONNECT to port 443 of the endpoint and of the authority host"
        ),
        None => format!("the proxy did not open the tunnel: {why}"),
    }
}

/// The body of an error response, bounded, as one line.
pub fn error_text(response: &mut ureq::http::Response<ureq::Body>) -> String {
    let text = response
        .body_mut()
        .with_config()
        .limit(8 * 1024)
        .read_to_string()
        .unwrap_or_default();
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    text.chars().take(1000).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_refusals_say_what_failed() {
        for code in ["407/407", "401/401"] {
            let m = proxy_refusal(&format!("proxy server responded {code}"));
            assert!(
                m.starts_with("proxy authentication failed") && m.contains("proxy_file"),
                "{m}"
            );
        }
        let m = proxy_refusal("proxy server responded 403/403");
        assert!(m.contains("refused the tunnel (HTTP 403)"), "{m}");
        let m = proxy_refusal("proxy server did not respond");
        assert!(m.contains("did not open the tunnel"), "{m}");
    }
}
