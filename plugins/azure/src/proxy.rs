//! The proxy setting in the Log Analytics agent's format:
//! `[protocol://][user:password@]proxyhost[:port]`.
//!
//! The agent asks the proxy to CONNECT (tunnel) to the workspace, and the TLS
//! session to Azure runs end to end inside the tunnel. In the Log Analytics
//! agent's syntax (`proxy`, `proxy_file`) the protocol names the traffic the proxy
//! carries, not TLS to the proxy: `http://`, `https://` and none all mean a plain
//! TCP hop to the proxy, as the old agent read them (its `parse_proxy_config`
//! drops the scheme) and as the Log Analytics gateway expects ("Connect computers
//! without internet access by using the Log Analytics gateway",
//! https://learn.microsoft.com/azure/azure-monitor/agents/gateway). TLS to the
//! proxy itself is asked for separately (`proxy_tls = true`). In the environment
//! (`HTTPS_PROXY`, `ALL_PROXY`) the scheme keeps curl's meaning: `https://` is TLS
//! to the proxy. User and password may be percent-encoded (`p%40ss` for `p@ss`);
//! both are decoded once, and are sent only when given.

use crate::secret::Secret;

#[derive(Clone, PartialEq, Eq)]
pub struct ProxySetting {
    /// TLS to the proxy itself (`proxy_tls = true`, or `https://` in `HTTPS_PROXY`).
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<Secret>,
}

impl std::fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxySetting")
            .field("tls", &self.tls)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password)
            .finish()
    }
}

fn decode(part: &str, what: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format!("proxy: the {what} is not valid UTF-8 once percent-decoded"))
}

/// How the scheme of a setting is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// The Log Analytics agent's (`proxy`, `proxy_file`): every scheme is a plain
    /// TCP hop to the proxy; `tls` is set from `proxy_tls`.
    Agent { tls: bool },
    /// curl's (`HTTPS_PROXY`, `ALL_PROXY`): `https://` is TLS to the proxy.
    Curl,
}

/// Parses a setting in the Log Analytics agent's syntax, with a plain TCP hop to
/// the proxy. Errors never repeat the password.
pub fn parse(text: &str) -> Result<ProxySetting, String> {
    parse_as(text, Syntax::Agent { tls: false })
}

/// Parses the one-line setting. Errors never repeat the password.
pub fn parse_as(text: &str, syntax: Syntax) -> Result<ProxySetting, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("proxy: the setting is empty".into());
    }
    let (tls, rest) = match text.split_once("://") {
        Some((scheme, rest)) => match (scheme.to_ascii_lowercase().as_str(), syntax) {
            ("http", Syntax::Curl) => (false, rest),
            ("https", Syntax::Curl) => (true, rest),
            ("http" | "https", Syntax::Agent { tls }) => (tls, rest),
            (other, Syntax::Curl) => {
                return Err(format!(
                    "proxy: protocol {other:?} is not supported; use http:// (plain TCP to the proxy) or https:// (TLS to the proxy); both tunnel with CONNECT"
                ))
            }
            (other, Syntax::Agent { .. }) => {
                return Err(format!(
                    "proxy: protocol {other:?} is not supported; use http://, https:// or none (all three tunnel with CONNECT over plain TCP to the proxy; set proxy_tls = true for TLS to the proxy itself)"
                ))
            }
        },
        None => (matches!(syntax, Syntax::Agent { tls: true }), text),
    };
    let rest = rest.trim_end_matches('/');
    let (credentials, address) = match rest.rsplit_once('@') {
        Some((c, a)) => (Some(c), a),
        None => (None, rest),
    };
    let (user, password) = match credentials {
        None => (None, None),
        Some(c) => {
            let (u, p) = c.split_once(':').ok_or(
                "proxy: credentials must be user:password (percent-encode ':' or '@' inside them)",
            )?;
            if u.is_empty() {
                return Err("proxy: the user name is empty".into());
            }
            (
                Some(decode(u, "user name")?),
                Some(Secret::new(decode(p, "password")?)),
            )
        }
    };
    let (host, port) = match address.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            let port = p
                .parse::<u16>()
                .map_err(|_| format!("proxy: port {p:?} is not a number from 1 to 65535"))?;
            (h, port)
        }
        _ => (address, 8080),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(['/', ' ', '@']) {
        return Err(format!("proxy: {host:?} is not a host name or address"));
    }
    if port == 0 {
        return Err("proxy: port 0 is not valid".into());
    }
    Ok(ProxySetting {
        tls,
        host: host.to_string(),
        port,
        user,
        password,
    })
}

/// Reads the setting from a file of the agent's format (one line; blank lines and
/// `#` comments ignored), such as the Log Analytics agent's `proxy.conf`.
pub fn read_file(path: &std::path::Path, syntax: Syntax) -> Result<ProxySetting, String> {
    let secret = crate::secret::read_secret_file(path, "proxy_file")?;
    let line = secret
        .expose()
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| format!("proxy_file {} holds no setting", path.display()))?;
    parse_as(line, syntax).map_err(|e| format!("proxy_file {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agents_forms_parse() {
        let p = parse("https://user:p%40ss%3Aw%2Frd@proxy.example:3128").unwrap();
        assert!(
            !p.tls,
            "https:// in the agent's syntax is a plain hop to the proxy"
        );
        assert_eq!(p.host, "proxy.example");
        assert_eq!(p.port, 3128);
        assert_eq!(p.user.as_deref(), Some("user"));
        assert_eq!(p.password.unwrap().expose(), "p@ss:w/rd");
        let p = parse("proxy.example:8888").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.user),
            ("proxy.example", 8888, None)
        );
        let p = parse("http://10.0.0.4").unwrap();
        assert_eq!((p.tls, p.host.as_str(), p.port), (false, "10.0.0.4", 8080));
        let p = parse("http://u:pw@[::1]:3128/").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", 3128));
        // The documented example, and a password with every character the old
        // agent's documentation says to encode.
        let p = parse("https://user01:password@proxy01.contoso.com:30443").unwrap();
        assert_eq!(
            (p.tls, p.host.as_str(), p.port, p.user.as_deref()),
            (false, "proxy01.contoso.com", 30443, Some("user01"))
        );
        assert_eq!(p.password.unwrap().expose(), "password");
        let p = parse("user:a%40b%3Ac%25d@gw:8080").unwrap();
        assert_eq!(p.password.unwrap().expose(), "a@b:c%d");
    }

    #[test]
    fn tls_to_the_proxy_is_chosen_apart_from_the_scheme_except_in_curls_syntax() {
        let tls = Syntax::Agent { tls: true };
        for line in ["https://gw:8080", "http://gw:8080", "gw:8080"] {
            assert!(parse_as(line, tls).unwrap().tls, "{line}");
            assert!(!parse(line).unwrap().tls, "{line}");
        }
        assert!(parse_as("https://gw:8080", Syntax::Curl).unwrap().tls);
        assert!(!parse_as("http://gw:8080", Syntax::Curl).unwrap().tls);
        assert!(!parse_as("gw:8080", Syntax::Curl).unwrap().tls);
        let e = parse("socks5://gw:1080").unwrap_err();
        assert!(e.contains("proxy_tls"), "{e}");
    }

    #[test]
    fn errors_say_what_is_wrong_and_never_show_the_password() {
        for (input, expect) in [
            ("socks5://h:1", "not supported"),
            ("http://user:topsecret@h:99999", "port"),
            ("http://usertopsecret@h:1", "user:password"),
            ("", "empty"),
        ] {
            let e = parse(input).unwrap_err();
            assert!(e.contains(expect), "{input}: {e}");
            assert!(!e.contains("topsecret"), "{e}");
        }
        let p = parse("http://user:topsecret@h:1").unwrap();
        assert!(!format!("{p:?}").contains("topsecret"));
    }
}
