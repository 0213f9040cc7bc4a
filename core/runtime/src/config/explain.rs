//! Messages that say where and what to do: the file and line, the section as the
//! operator wrote it (`[[listen]] 2`, `[output]`), the key, the valid keys and the
//! closest one to a misspelling, with every value from the file escaped so that
//! control characters never reach the terminal raw.

use super::source::ARRAYS;

/// A file and, when known, a line in it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    pub file: String,
    pub line: Option<usize>,
}

/// A `[[listen]]`, `[[filter]]` or `[output]` table: its name and position
/// (0-based; shown 1-based, as an operator counts them in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Section {
    pub name: &'static str,
    pub index: usize,
}

impl std::fmt::Display for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if ARRAYS.contains(&self.name) {
            write!(f, "[[{}]] {}", self.name, self.index + 1)
        } else {
            write!(f, "[{}]", self.name)
        }
    }
}

/// `text` with control characters written as escapes (`\u{1b}`, `\n`, …).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Edit distance between two short words (keys), for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a misspelling.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (distance(&word.to_ascii_lowercase(), c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// "unknown key `x` (did you mean `y`?); the valid keys are a, b, c".
pub(crate) fn unknown_key(key: &str, valid: &[&str]) -> String {
    let mut text = format!("unknown key `{}`", escape(key));
    if let Some(near) = closest(key, valid.iter().copied()) {
        text.push_str(&format!(" (did you mean `{near}`?)"));
    }
    if valid.is_empty() {
        text.push_str("; this section takes no keys");
    } else {
        text.push_str(&format!("; the valid keys are {}", valid.join(", ")));
    }
    text
}

/// Drops serde_json's position (` at line 1 column 6`): it points into the JSON
/// the agent built from the section, not into the operator's file.
fn strip_json_position(message: &str) -> &str {
    if let Some(at) = message.rfind(" at line ") {
        let rest = &message[at + " at line ".len()..];
        let mut parts = rest.splitn(2, " column ");
        let line = parts.next().unwrap_or("");
        let column = parts.next().unwrap_or("");
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if digits(line) && digits(column) {
            return &message[..at];
        }
    }
    message
}

/// The backticked words of serde's "expected one of `a`, `b`" list.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// A serde message in the operator's words: "unknown field `x`, expected one of
/// `a`, `b`" becomes [`unknown_key`] (with `also_valid`, keys the agent itself
/// reads in that section), "missing field `x`" becomes "missing key `x`", and a
/// JSON position is dropped. Returns the text and the key it is about.
pub(crate) fn serde_message(message: &str, also_valid: &[&str]) -> (String, Option<String>) {
    let message = strip_json_position(message.trim());
    if let Some(at) = message.find("unknown field `") {
        let rest = &message[at + "unknown field `".len()..];
        if let Some((key, expected)) = rest.split_once('`') {
            let mut valid: Vec<&str> = also_valid.to_vec();
            valid.extend(backticked(expected));
            let text = format!("{}{}", escape(&message[..at]), unknown_key(key, &valid));
            return (text, Some(key.to_string()));
        }
    }
    if let Some(at) = message.find("missing field `") {
        let rest = &message[at + "missing field `".len()..];
        if let Some((key, tail)) = rest.split_once('`') {
            let text = format!(
                "{}missing key `{}`{}",
                escape(&message[..at]),
                escape(key),
                escape(tail)
            );
            return (text, Some(key.to_string()));
        }
    }
    (escape(message), None)
}

/// A plugin message that begins with the key it is about, as the SDK writes
/// them (`auth: unknown field …`, `auth.method: unknown variant …`, `keep: …`):
/// the key's path split into its parts, and the rest of the message.
pub(crate) fn leading_path(message: &str) -> Option<(Vec<&str>, &str)> {
    let (path, rest) = message.split_once(": ")?;
    let word = |w: &str| {
        w.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let parts: Vec<&str> = path.split('.').collect();
    parts.iter().all(|p| word(p)).then_some((parts, rest))
}

/// What to write for a required top-level key.
pub(crate) fn example(key: &str) -> Option<&'static str> {
    Some(match key {
        "state_dir" => "add the directory for the journal, dead letters and the control socket, such as state_dir = \"/var/lib/syslane\"",
        "plugin_dir" => "add the directory holding the plugins, such as plugin_dir = \"/usr/lib/syslane/plugins\" (where the packages put them; target/release in a source build)",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("a\u{1b}[31mb\nc"), "a\\u{1b}[31mb\\nc");
        assert_eq!(escape("héllo"), "héllo");
    }

    #[test]
    fn misspellings_find_their_key() {
        assert_eq!(closest("adress", ["address", "input"]), Some("address"));
        assert_eq!(closest("pth", ["path", "fsync", "keep"]), Some("path"));
        assert_eq!(closest("colour", ["state_dir", "plugin_dir"]), None);
    }

    #[test]
    fn serde_wording_becomes_the_operators() {
        let (text, key) = serde_message(
            "unknown field `pth`, expected one of `path`, `fsync`, `max_bytes`, `keep` at line 1 column 6",
            &[],
        );
        assert_eq!(
            text,
            "unknown key `pth` (did you mean `path`?); the valid keys are path, fsync, max_bytes, keep"
        );
        assert_eq!(key.as_deref(), Some("pth"));
        let (text, key) = serde_message("missing field `path` at line 1 column 2", &[]);
        assert_eq!(
            (text.as_str(), key.as_deref()),
            ("missing key `path`", Some("path"))
        );
        let (text, _) = serde_message("invalid type: string \"x\", expected u32", &[]);
        assert_eq!(text, "invalid type: string \"x\", expected u32");
    }

    #[test]
    fn a_leading_key_path_is_split_off() {
        assert_eq!(
            leading_path("auth.method: unknown variant `x`"),
            Some((vec!["auth", "method"], "unknown variant `x`"))
        );
        assert_eq!(
            leading_path("auth: unknown field `t`, expected `method`"),
            Some((vec!["auth"], "unknown field `t`, expected `method`"))
        );
        assert_eq!(leading_path("rules[0].pattern: does not compile"), None);
        assert_eq!(
            leading_path("endpoint \"x\" must start with https://"),
            None
        );
        assert_eq!(leading_path("plugin `x` not found: looked for …"), None);
    }

    #[test]
    fn sections_are_named_as_written() {
        let s = Section {
            name: "filter",
            index: 1,
        };
        assert_eq!(s.to_string(), "[[filter]] 2");
        let s = Section {
            name: "output",
            index: 0,
        };
        assert_eq!(s.to_string(), "[output]");
    }
}
