//! What `check-config` checks beyond the file, as `run` would meet it: the state
//! directory (a directory, or one that can be created, writable by this user) and
//! every listen address (it can be bound; if not, why, and by whom when known).
//! Nothing is created or changed: sockets are bound and closed at once, and the
//! state directory is only looked at.

use crate::config::{Config, ListenAddress};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use crate::state_dir::this_user;

fn writable(dir: &Path) -> bool {
    rustix::fs::access(
        dir,
        rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
    )
    .is_ok()
}

/// `state_dir` is a directory this user can write, or can be created; a note on
/// the agent holding it, if one runs.
pub(super) fn state_dir(config: &Config) -> Result<Option<String>, String> {
    let dir = &config.state_dir;
    let err = |message: String| config.key_error("state_dir", &message);
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => {
            return Err(err(format!(
                "{} is not a directory; point state_dir at a directory (the journal lives there)",
                dir.display()
            )))
        }
        Ok(_) => {
            // As `run` meets them: a newer journal format, then every file it writes.
            crate::state_format::check(dir).map_err(err)?;
            crate::state_dir::check_writable(dir).map_err(err)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = dir.ancestors().skip(1).find(|a| a.exists());
            match parent {
                Some(p) if p.is_dir() && writable(p) => {}
                Some(p) => {
                    return Err(err(format!(
                        "{} does not exist and cannot be created: {} is not a directory writable by {}; create state_dir for the agent's user",
                        dir.display(),
                        p.display(),
                        this_user()
                    )))
                }
                None => {
                    return Err(err(format!(
                        "{} cannot be created",
                        dir.display()
                    )))
                }
            }
        }
        Err(e) => return Err(err(format!("cannot look at {}: {e}", dir.display()))),
    }
    Ok(crate::state_dir::holder(dir).map(|pid| match pid {
        Some(pid) => format!("an agent runs on this state_dir (pid {pid})"),
        None => "an agent runs on this state_dir".to_string(),
    }))
}

fn try_bind(address: &ListenAddress) -> std::io::Result<()> {
    let (addr, kind, protocol) = match address {
        ListenAddress::Udp(a) => (*a, Type::DGRAM, Protocol::UDP),
        ListenAddress::Tcp(a) | ListenAddress::Relp(a) => (*a, Type::STREAM, Protocol::TCP),
        ListenAddress::Unix(_) | ListenAddress::UnixStream(_) => return Ok(()),
    };
    let socket = Socket::new(Domain::for_address(addr), kind, Some(protocol))?;
    if kind == Type::STREAM {
        // As the listener does: a port in TIME_WAIT is no obstacle.
        socket.set_reuse_address(true)?;
    }
    socket.bind(&addr.into())
}

/// The kernel's socket tables print addresses as native-endian 32-bit words.
fn proc_ip(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| -> Option<[u8; 4]> {
        Some(
            u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16)
                .ok()?
                .to_ne_bytes(),
        )
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

/// The inode of the socket bound to `addr` in a /proc/net table (TCP: listening).
fn socket_inode(table: &str, addr: SocketAddr, tcp: bool) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (ip, port) = f.get(1)?.split_once(':')?;
        let port = u16::from_str_radix(port, 16).ok()?;
        let ip = proc_ip(ip)?;
        let listening = !tcp || *f.get(3)? == "0A";
        let same_ip = ip == addr.ip() || ip.is_unspecified() || addr.ip().is_unspecified();
        (listening && port == addr.port() && same_ip).then(|| f.get(9)?.parse().ok())?
    })
}

/// The process holding socket `inode`, as (pid, command), if this user may see it.
fn socket_owner(inode: u64) -> Option<(u32, String)> {
    let wanted = format!("socket:[{inode}]");
    for proc in std::fs::read_dir("/proc").ok()?.filter_map(Result::ok) {
        let Some(pid) = proc
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(proc.path().join("fd")) else {
            continue;
        };
        let found = fds.filter_map(Result::ok).any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == wanted.as_str())
        });
        if found {
            let comm = std::fs::read_to_string(proc.path().join("comm")).unwrap_or_default();
            return Some((pid, comm.trim().to_string()));
        }
    }
    None
}

/// A unix socket path: its directory exists or can be created, and nothing but a
/// stale socket, or the running agent's own, is in the way.
fn unix_socket(path: &Path, agent: Option<u32>) -> Result<Option<String>, String> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d.exists() {
                if !d.is_dir() {
                    return Err(format!("{} is not a directory", d.display()));
                }
                return Ok(None);
            }
            dir = d.parent();
        }
        return Ok(None);
    };
    if !meta.file_type().is_socket() {
        return Err(format!(
            "{} exists and is not a socket; remove it or choose another path",
            path.display()
        ));
    }
    let live = std::os::unix::net::UnixStream::connect(path).is_ok()
        || std::os::unix::net::UnixDatagram::unbound()
            .and_then(|s| s.connect(path))
            .is_ok();
    match (live, agent) {
        (false, _) => Ok(None),
        (true, Some(pid)) => Ok(Some(format!(
            "{} is the running agent's socket (pid {pid})",
            path.display()
        ))),
        (true, None) => Err(format!(
            "another process listens on {}; stop it or choose another path",
            path.display()
        )),
    }
}

/// Who holds `address`, if the socket tables and /proc tell.
fn holder_of(address: &ListenAddress) -> Option<(u32, String)> {
    let (addr, tcp) = match address {
        ListenAddress::Udp(a) => (*a, false),
        ListenAddress::Tcp(a) | ListenAddress::Relp(a) => (*a, true),
        ListenAddress::Unix(_) | ListenAddress::UnixStream(_) => return None,
    };
    let tables: &[&str] = if tcp {
        &["/proc/net/tcp", "/proc/net/tcp6"]
    } else {
        &["/proc/net/udp", "/proc/net/udp6"]
    };
    let inode = tables
        .iter()
        .find_map(|t| socket_inode(&std::fs::read_to_string(t).ok()?, addr, tcp))?;
    socket_owner(inode)
}

/// Every listen address can be bound, or is held by the agent running on this
/// state_dir (`agent`): notes for those, or the first that cannot, with the reason.
pub(super) fn listen_addresses(config: &Config, agent: Option<u32>) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    for l in &config.listen {
        let at = |message: String| config.listen_error(l.section, "address", &message);
        let address = &l.address;
        let port = match address {
            ListenAddress::Udp(a) | ListenAddress::Tcp(a) | ListenAddress::Relp(a) => *a,
            ListenAddress::Unix(path) | ListenAddress::UnixStream(path) => {
                if let Some(note) = unix_socket(path, agent).map_err(at)? {
                    notes.push(note);
                }
                continue;
            }
        };
        // As the service would meet a port below 1024 (see check_ports).
        let as_root = rustix::process::geteuid().is_root();
        if let Some(why) = super::check_ports::refused(port.port(), Path::new("/"), as_root) {
            return Err(at(format!("{address}: {why}")));
        }
        let Err(e) = try_bind(address) else { continue };
        match e.kind() {
            std::io::ErrorKind::AddrInUse => match holder_of(address) {
                Some((pid, _)) if Some(pid) == agent => {
                    notes.push(format!("{address} is held by the running agent (pid {pid})"));
                }
                Some((pid, command)) => {
                    return Err(at(format!(
                        "{address} is in use by {command} (pid {pid}); stop it or choose another port"
                    )))
                }
                None => {
                    return Err(at(format!(
                        "{address} is in use by another process (not visible to {}; as root, `ss -lnp 'sport = :{}'` names it); stop it or choose another port",
                        this_user(),
                        port.port()
                    )))
                }
            },
            std::io::ErrorKind::AddrNotAvailable => {
                return Err(at(format!(
                    "{address}: {} is not an address of this host; listen on 127.0.0.1 or an address `ip address` shows",
                    port.ip()
                )))
            }
            std::io::ErrorKind::PermissionDenied => {
                return Err(at(format!(
                    "{address}: {} may not bind port {} (ports below {} need CAP_NET_BIND_SERVICE); choose a port above 1023, or see \"Ports below 1024\" in the documentation (docs/src/syslog-daemons.md)",
                    this_user(),
                    port.port(),
                    super::check_ports::unprivileged_start()
                )))
            }
            _ => return Err(at(format!("cannot listen on {address}: {e}"))),
        }
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_addresses_are_read_in_network_order() {
        assert_eq!(
            proc_ip(&format!("{:08X}", u32::from_ne_bytes([127, 0, 0, 1]))),
            Some(IpAddr::from([127, 0, 0, 1]))
        );
        let table = format!(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
             \x20  0: {:08X}:627C 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4711 1\n\
             \x20  1: {:08X}:627D 0100007F:1234 01 00000000:00000000 00:00000000 00000000     0        0 4712 1\n",
            u32::from_ne_bytes([127, 0, 0, 1]),
            u32::from_ne_bytes([127, 0, 0, 1])
        );
        let at = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
        assert_eq!(socket_inode(&table, at(0x627C), true), Some(4711));
        assert_eq!(
            socket_inode(&table, at(0x627D), true),
            None,
            "not listening"
        );
        assert_eq!(socket_inode(&table, at(0x627D), false), Some(4712));
    }

    #[test]
    fn a_bound_port_is_found_with_its_owner() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = ListenAddress::Tcp(taken.local_addr().unwrap());
        assert_eq!(
            try_bind(&addr).unwrap_err().kind(),
            std::io::ErrorKind::AddrInUse
        );
        let (pid, _) = holder_of(&addr).unwrap();
        assert_eq!(pid, std::process::id());
    }
}
