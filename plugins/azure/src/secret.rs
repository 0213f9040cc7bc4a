//! Secrets: values that must never reach a log line, an error or `Debug` output.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A secret string. `Debug` and `Display` print a placeholder; read it with
/// [`Secret::expose`] only where it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// Reads a file that holds a secret, refusing one that others may read: the agent
/// must not be the reason a credential leaks. Trailing line breaks are removed.
pub fn read_secret_file(path: &Path, what: &str) -> Result<Secret, String> {
    let meta = std::fs::metadata(path).map_err(|e| {
        format!(
            "{what} {}: cannot read it: {e}; create it with mode 0600, owned by the agent's user",
            path.display()
        )
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{what} {} has mode {mode:04o}: group or others may read it; run `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{what} {}: cannot read it: {e}", path.display()))?;
    let text = text.trim_end_matches(['\r', '\n']);
    if text.is_empty() {
        return Err(format!("{what} {} is empty", path.display()));
    }
    Ok(Secret(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value() {
        let s = Secret::new("hunter2".into());
        assert_eq!(format!("{s:?}"), "[redacted]");
    }

    #[test]
    fn group_readable_files_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = read_secret_file(&path, "client_secret_file").unwrap_err();
        assert!(e.contains("0640") && e.contains("chmod 600"), "{e}");
        assert!(!e.contains("s3cret"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            read_secret_file(&path, "x").unwrap().expose(),
            "s3cret",
            "trailing newline removed"
        );
    }
}
