//! Listener addresses (`udp://`, `tcp://`, `relp://`, `unix://`, `unixstream://`)
//! and socket addresses, with messages that say what is wrong with them.

use std::net::SocketAddr;
use std::path::PathBuf;

/// The longest path a unix socket can have (`sun_path` holds 108 bytes with the NUL).
const UNIX_PATH_MAX: usize = 107;

/// A listener's transport and address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListenAddress {
    Udp(SocketAddr),
    Tcp(SocketAddr),
    /// RELP (rsyslog's omrelp): each message is acknowledged once journaled.
    Relp(SocketAddr),
    /// A unix datagram socket: one datagram is one message, as from `omuxsock`.
    Unix(PathBuf),
    /// A unix stream socket, framed like TCP.
    UnixStream(PathBuf),
}

impl std::fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenAddress::Udp(a) => write!(f, "udp://{a}"),
            ListenAddress::Tcp(a) => write!(f, "tcp://{a}"),
            ListenAddress::Relp(a) => write!(f, "relp://{a}"),
            ListenAddress::Unix(p) => write!(f, "unix://{}", p.display()),
            ListenAddress::UnixStream(p) => write!(f, "unixstream://{}", p.display()),
        }
    }
}

impl ListenAddress {
    /// The IP socket address, for the network transports.
    pub(crate) fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            ListenAddress::Udp(a) | ListenAddress::Tcp(a) | ListenAddress::Relp(a) => Some(*a),
            ListenAddress::Unix(_) | ListenAddress::UnixStream(_) => None,
        }
    }

    /// Whether only this host can send to it.
    pub(crate) fn is_local(&self) -> bool {
        self.socket_addr().is_none_or(|a| a.ip().is_loopback())
    }
}

/// Who may write to a unix socket listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnixSocket {
    /// Permission bits of the socket file (default 0666: any local user, as with
    /// a loopback port).
    pub mode: u32,
    /// Group name or number given the socket file.
    pub group: Option<String>,
}

impl Default for UnixSocket {
    fn default() -> Self {
        UnixSocket {
            mode: 0o666,
            group: None,
        }
    }
}

const SCHEMES: &str = "udp://, tcp://, relp://, unix:// or unixstream://";

/// `host:port` with an IP address: says which part is wrong.
pub(crate) fn parse_socket_address(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let example = "such as 127.0.0.1:25224 or [::1]:25224";
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!(
            "`{text}` has no port; write an IP address and a port, {example}"
        ));
    };
    if port.is_empty() {
        return Err(format!(
            "`{text}` has no port; write an IP address and a port, {example}"
        ));
    }
    if port.bytes().all(|b| b.is_ascii_digit()) {
        if port.parse::<u16>().is_err() {
            return Err(format!(
                "port {port} is out of range; use a port from 1 to 65535, {example}"
            ));
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<std::net::IpAddr>().is_ok() {
            return Err(format!(
                "`{text}`: an IPv6 address needs brackets, such as [::1]:{port}"
            ));
        }
        return Err(format!(
            "`{host}` is not an IP address (host names are not resolved); write 127.0.0.1:{port}, [::1]:{port} or this host's address"
        ));
    }
    Err(format!(
        "`{port}` is not a port number; write an IP address and a port, {example}"
    ))
}

fn unix_path(rest: &str, scheme: &str) -> Result<PathBuf, String> {
    if !rest.starts_with('/') {
        return Err(format!(
            "`{rest}` is not an absolute path; write {scheme}:// and the socket's path, such as {scheme}:///run/syslane/syslog.sock"
        ));
    }
    if rest.len() > UNIX_PATH_MAX {
        return Err(format!(
            "the path is {} bytes long; a unix socket's path can have at most {UNIX_PATH_MAX}",
            rest.len()
        ));
    }
    Ok(PathBuf::from(rest))
}

/// `scheme://address`.
pub(super) fn parse(text: &str) -> Result<ListenAddress, String> {
    let (scheme, rest) = text.split_once("://").ok_or_else(|| {
        format!(
            "`{text}` has no scheme; write {SCHEMES} and an address, such as tcp://127.0.0.1:25224"
        )
    })?;
    match scheme {
        "udp" => parse_socket_address(rest).map(ListenAddress::Udp),
        "tcp" => parse_socket_address(rest).map(ListenAddress::Tcp),
        "relp" => parse_socket_address(rest).map(ListenAddress::Relp),
        "unix" => unix_path(rest, "unix").map(ListenAddress::Unix),
        "unixstream" => unix_path(rest, "unixstream").map(ListenAddress::UnixStream),
        other => Err(format!("unknown scheme `{other}://`; use {SCHEMES}")),
    }
}

/// `socket_mode`: a string of octal digits ("0660") or a TOML octal number (0o660).
pub(super) fn parse_mode(value: &toml::Value) -> Result<u32, String> {
    let advice = "write it as a string of octal digits, such as socket_mode = \"0660\"";
    let mode = match value {
        toml::Value::String(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8)
            .map_err(|_| format!("`{s}` is not an octal mode; {advice}"))?,
        toml::Value::Integer(n) => u32::try_from(*n)
            .ok()
            .filter(|n| *n <= 0o777)
            .ok_or_else(|| format!("{n} is not a mode (decimal numbers are not); {advice}"))?,
        other => return Err(format!("a {} is not a mode; {advice}", other.type_str())),
    };
    if mode > 0o777 {
        return Err(format!("{mode:o} has bits beyond 0777; {advice}"));
    }
    if mode & 0o200 == 0 {
        return Err(format!(
            "{mode:04o} does not let the agent's own user write to the socket; use 0600 or more, such as \"0660\""
        ));
    }
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_what_is_wrong_with_them() {
        assert_eq!(
            parse("unix:///run/syslane/syslog.sock").unwrap(),
            ListenAddress::Unix("/run/syslane/syslog.sock".into())
        );
        assert_eq!(
            parse("unixstream:///tmp/s").unwrap().to_string(),
            "unixstream:///tmp/s"
        );
        let e = parse("udp://127.0.0.1:99999").unwrap_err();
        assert!(e.contains("port 99999 is out of range"), "{e}");
        let e = parse("udp://localhost:514").unwrap_err();
        assert!(e.contains("`localhost` is not an IP address"), "{e}");
        let e = parse("tcp://127.0.0.1").unwrap_err();
        assert!(e.contains("has no port"), "{e}");
        let e = parse("tcp://::1:514").unwrap_err();
        assert!(e.contains("brackets"), "{e}");
        let e = parse("unix://relative.sock").unwrap_err();
        assert!(e.contains("absolute path"), "{e}");
        let e = parse(&format!("unix:///{}", "x".repeat(120))).unwrap_err();
        assert!(e.contains("at most 107"), "{e}");
        assert!(parse("tcp://127.0.0.1:0").is_ok());
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode(&toml::Value::String("0660".into())), Ok(0o660));
        assert_eq!(parse_mode(&toml::Value::Integer(0o640)), Ok(0o640));
        assert!(parse_mode(&toml::Value::Integer(660)).is_err());
        assert!(parse_mode(&toml::Value::String("rw".into())).is_err());
        assert!(parse_mode(&toml::Value::String("0440".into())).is_err());
    }
}
