//! Facts about this host: its name and address, and the clock.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// This host's name: `/proc/sys/kernel/hostname`, else `localhost`.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// This host's address for records from local senders: the first non-loopback
/// address `/etc/hosts` gives the host name, else 127.0.0.1. No network look-up.
pub(crate) fn host_ip(host_name: &str) -> IpAddr {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    hosts
        .lines()
        .filter_map(|line| {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let ip: IpAddr = words.next()?.parse().ok()?;
            (!ip.is_loopback() && words.any(|w| w == host_name)).then_some(ip)
        })
        .next()
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// Nanoseconds since the Unix epoch.
pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
