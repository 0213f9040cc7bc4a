//! The Azure Arc method's challenge: the local identity endpoint answers the first
//! request with a file name; only a user allowed to read that file gets a token.

use crate::secret::Secret;
use std::path::Path;

/// Reads the challenge file named by `WWW-Authenticate: Basic realm=<path>`, only
/// from `token_dir`, only a `.key` file, only a small one.
pub fn arc_secret(challenge: &str, token_dir: &Path) -> Result<Secret, String> {
    let path = challenge
        .split_once("realm=")
        .map(|(_, p)| p.trim().trim_matches('"'))
        .filter(|p| !p.is_empty())
        .ok_or("the Arc agent's 401 named no challenge file")?;
    let path = Path::new(path);
    let dir = token_dir
        .canonicalize()
        .map_err(|e| format!("arc_token_dir {}: {e}", token_dir.display()))?;
    let file = path.canonicalize().map_err(|e| {
        format!(
            "Arc challenge file {}: {e}; the agent's user must be in the himds group",
            path.display()
        )
    })?;
    if file.parent() != Some(dir.as_path())
        || file.extension().and_then(|e| e.to_str()) != Some("key")
    {
        return Err(format!(
            "Arc challenge file {} is not a .key file in {}; refusing to read it",
            path.display(),
            dir.display()
        ));
    }
    let len = std::fs::metadata(&file)
        .map(|m| m.len())
        .unwrap_or(u64::MAX);
    if len > 4096 {
        return Err(format!(
            "Arc challenge file {} is too large",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("Arc challenge file {}: {e}", path.display()))?;
    Ok(Secret::new(text.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arc_challenge_files_outside_the_token_dir_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        std::fs::write(tokens.join("a.key"), "abc\n").unwrap();
        std::fs::write(dir.path().join("b.key"), "abc").unwrap();
        std::fs::write(tokens.join("c.txt"), "abc").unwrap();
        let ok = arc_secret(
            &format!("Basic realm={}", tokens.join("a.key").display()),
            &tokens,
        )
        .unwrap();
        assert_eq!(ok.expose(), "abc");
        for bad in [
            dir.path().join("b.key"),
            tokens.join("c.txt"),
            tokens.join("../b.key"),
        ] {
            let e = arc_secret(&format!("Basic realm={}", bad.display()), &tokens).unwrap_err();
            assert!(e.contains("refusing") || e.contains("No such"), "{e}");
        }
        assert!(arc_secret("Basic", &tokens).is_err());
    }
}
