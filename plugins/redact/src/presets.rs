//! The documented presets: credentials written as `key=value` (or `key: value`,
//! `"key":"value"`), bearer tokens, and payment card numbers that pass the Luhn
//! check. Each keeps what identifies the event (the key, the word `Bearer`, the
//! card's last four digits) and masks the secret.

use regex::bytes::{Captures, Regex};

/// What replaces a secret.
pub const MASK: &str = "***";

/// A preset: its name, its pattern, and how a match is replaced.
pub struct Preset {
    pub name: &'static str,
    pub pattern: &'static str,
    pub replace: fn(&Captures<'_>) -> Vec<u8>,
}

/// `key` `=`/`:` `value`: the key and separator kept, the value masked (inside
/// its quotes when it had them).
fn keep_key(c: &Captures<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(c.get(1).map_or(&b""[..], |m| m.as_bytes()));
    out.extend_from_slice(c.get(2).map_or(&b""[..], |m| m.as_bytes()));
    let value = c.get(3).map_or(&b""[..], |m| m.as_bytes());
    match value.first() {
        Some(q @ (b'"' | b'\'')) => {
            out.push(*q);
            out.extend_from_slice(MASK.as_bytes());
            out.push(*q);
        }
        _ => out.extend_from_slice(MASK.as_bytes()),
    }
    out
}

/// The separator and the quoted or bare value of a `key=value` credential.
macro_rules! credential {
    ($keys:literal) => {
        concat!(
            r#"(?i)\b([\w.-]*(?:"#,
            $keys,
            r#"))(["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&"'<>]+)"#
        )
    };
}

fn bearer(c: &Captures<'_>) -> Vec<u8> {
    let mut out = c.get(1).map_or(Vec::new(), |m| m.as_bytes().to_vec());
    out.extend_from_slice(MASK.as_bytes());
    out
}

/// The Luhn check digit test (ISO/IEC 7812-1).
pub fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// A run of 13–19 digits (spaces or dashes between groups) is masked but for
/// its last four when it passes the Luhn check; when the run holds more than the
/// card (digits before or after it, separated), whole groups of it are tried.
/// Order numbers and other ids, which fail the check nine times in ten, stay.
fn card(c: &Captures<'_>) -> Vec<u8> {
    let text = c.get(0).map_or(&b""[..], |m| m.as_bytes());
    // Groups of digits: (first position, digit positions).
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut previous_digit = false;
    for (i, b) in text.iter().enumerate() {
        if b.is_ascii_digit() {
            if !previous_digit {
                groups.push(Vec::new());
            }
            if let Some(g) = groups.last_mut() {
                g.push(i);
            }
        }
        previous_digit = b.is_ascii_digit();
    }
    let mut best: Option<Vec<usize>> = None;
    for a in 0..groups.len() {
        for b in a..groups.len() {
            let positions: Vec<usize> = groups[a..=b].iter().flatten().copied().collect();
            if !(13..=19).contains(&positions.len()) {
                continue;
            }
            let digits: Vec<u8> = positions.iter().map(|p| text[*p]).collect();
            if luhn(&digits) && best.as_ref().is_none_or(|x| positions.len() > x.len()) {
                best = Some(positions);
            }
        }
    }
    let Some(positions) = best else {
        return text.to_vec();
    };
    let mut out = text.to_vec();
    for &p in &positions[..positions.len() - 4] {
        out[p] = b'*';
    }
    out
}

/// Every preset, in the order they apply.
pub const PRESETS: [Preset; 5] = [
    Preset {
        name: "password",
        pattern: credential!("password|passwd|passphrase"),
        replace: keep_key,
    },
    Preset {
        name: "secret",
        pattern: credential!("secret|secret_access_key|secret_key"),
        replace: keep_key,
    },
    Preset {
        name: "token",
        pattern: credential!("token|api[_-]?key"),
        replace: keep_key,
    },
    Preset {
        name: "bearer",
        pattern: r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*",
        replace: bearer,
    },
    Preset {
        name: "card_number",
        pattern: r"\b(?:\d[ -]?){12,18}\d\b",
        replace: card,
    },
];

/// The names, for messages.
pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}

/// Compiles a preset's pattern (they are fixed; a failure is a bug, reported as an error).
pub fn compile(p: &Preset) -> Result<Regex, String> {
    Regex::new(p.pattern).map_err(|e| format!("preset {}: {e}", p.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(name: &str, text: &str) -> String {
        let p = PRESETS.iter().find(|p| p.name == name).unwrap();
        let re = compile(p).unwrap();
        String::from_utf8(
            re.replace_all(text.as_bytes(), |c: &Captures<'_>| (p.replace)(c))
                .into_owned(),
        )
        .unwrap()
    }

    #[test]
    fn credentials_keep_the_key_and_mask_the_value() {
        assert_eq!(
            apply("password", "login user=bob password=hunter2 from 10.0.0.1"),
            "login user=bob password=*** from 10.0.0.1"
        );
        assert_eq!(
            apply("password", "DB_PASSWORD: s3cr3t;x"),
            "DB_PASSWORD: ***;x"
        );
        assert_eq!(
            apply("password", r#"{"user":"bob","password":"hunter 2"}"#),
            r#"{"user":"bob","password":"***"}"#
        );
        assert_eq!(
            apply("secret", "client_secret=abc&x=1"),
            "client_secret=***&x=1"
        );
        assert_eq!(
            apply("token", "access_token=eyJabc.def api_key='k-1'"),
            "access_token=*** api_key='***'"
        );
        assert_eq!(apply("password", "no secrets here"), "no secrets here");
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(
            apply("bearer", "Authorization: Bearer eyJhbGciOi.x-y_z== next"),
            "Authorization: Bearer *** next"
        );
    }

    #[test]
    fn card_numbers_pass_luhn_and_keep_the_last_four() {
        assert_eq!(
            apply("card_number", "card 4111 1111 1111 1111 ok"),
            "card **** **** **** 1111 ok"
        );
        assert_eq!(
            apply("card_number", "card 5500-0000-0000-0004."),
            "card ****-****-****-0004."
        );
        assert_eq!(
            apply("card_number", "pan=378282246310005"),
            "pan=***********0005"
        );
        // An order id of 16 digits that fails the check stays.
        assert_eq!(
            apply("card_number", "order 1234567890123456 shipped"),
            "order 1234567890123456 shipped"
        );
        // A card next to other numbers is still found.
        assert_eq!(
            apply("card_number", "4111111111111111 2024"),
            "************1111 2024"
        );
        assert_eq!(
            apply("card_number", "ref 12 4111111111111111"),
            "ref 12 ************1111"
        );
        assert!(luhn(b"79927398713") && !luhn(b"79927398710"));
    }
}
