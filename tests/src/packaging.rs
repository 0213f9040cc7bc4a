//! Helpers of the package tests (tests/tests/packages.rs): running commands,
//! the throwaway Debian root (a copy of the one debootstrap made, so that a test
//! may change it), and running commands chrooted there.

use crate::*;
use std::process::Output;

/// Runs `cmd`, failing the test with its output unless it succeeds.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("could not run {cmd:?}: {e}; scripts/test installs what the tests need")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Standard output and standard error, as text.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The one file of `ext` that `dir` holds.
pub fn only_file(dir: &Path, ext: &str) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// The throwaway Debian root made with debootstrap (never changed by a test).
pub fn debian_root() -> PathBuf {
    let root = PathBuf::from(
        std::env::var("SYSLANE_TEST_ROOT").unwrap_or_else(|_| "/opt/syslane-ci/chroot".into()),
    );
    assert!(
        root.join("usr/bin/dpkg").is_file(),
        "{} is a Debian root made with debootstrap (scripts/test makes it; SYSLANE_TEST_ROOT names another)",
        root.display()
    );
    root
}

/// A copy of [`debian_root`] in `dir` (as `dir/root`), for a test to change.
pub fn copy_of_debian_root(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    run(Command::new("cp").arg("-a").arg(debian_root()).arg(&root));
    root
}

/// Runs `args` inside the root.
pub fn in_root(root: &Path, args: &[&str]) -> Output {
    Command::new("chroot")
        .arg(root)
        .args(args)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap()
}

/// Runs `args` inside the root, failing the test unless it succeeds; its output.
pub fn ok_in_root(root: &Path, args: &[&str]) -> String {
    let out = in_root(root, args);
    assert!(out.status.success(), "{args:?} in the root: {}", text(&out));
    text(&out)
}

/// The command that runs `args` inside the root as the service user `syslane`.
pub fn as_service_in_root(root: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("chroot");
    c.arg(root)
        .args([
            "setpriv",
            "--reuid=syslane",
            "--regid=syslane",
            "--clear-groups",
        ])
        .args(args)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    c
}
