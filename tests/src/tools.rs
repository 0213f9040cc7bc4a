//! The system programs the tests drive. A missing one fails the test with its
//! name, the Debian package that has it and `scripts/test`, which installs every
//! one of them: no test is skipped because a tool is missing.

use std::path::PathBuf;

/// Finds a program on PATH or in the sbin directories.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The Debian package holding a program the tests use.
fn package(name: &str) -> &'static str {
    match name {
        "logger" => "bsdutils",
        "rsyslogd" => "rsyslog (and rsyslog-relp)",
        "syslog-ng" => "syslog-ng-core, unpacked beside rsyslog with a wrapper on PATH",
        "tinyproxy" => "tinyproxy",
        "cc" => "gcc",
        "faketime" => "faketime",
        "systemd-analyze" => "systemd",
        "lintian" => "lintian",
        "rpm" | "rpmbuild" => "rpm",
        "debootstrap" => "debootstrap",
        "dpkg-deb" => "dpkg",
        "hostname" => "hostname",
        "kill" => "procps",
        "python3" => "python3",
        "mount" | "umount" => "mount",
        "cargo-deb" => "none: cargo install",
        _ => "unknown",
    }
}

/// The path of a program the tests need; panics, saying how to get it, when it
/// is missing.
pub fn tool(name: &str) -> PathBuf {
    find_program(name).unwrap_or_else(|| {
        panic!(
            "`{name}` is not installed (Debian package: {}); the tests need it: run `scripts/test` (as root), which installs everything they use, then runs them",
            package(name)
        )
    })
}
