//! ArcSight Common Event Format (CEF), as security appliances send it over syslog:
//!
//! `CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension`
//!
//! In the seven header fields a `|` or `\` is escaped with a backslash. The extension
//! is `key=value` pairs separated by spaces; values may contain spaces, and in them
//! `=` and `\` are escaped, `\n` and `\r` are line breaks. A new pair starts where a
//! space is followed by a key (letters, digits, `_`, `.`, `[`, `]`) and an unescaped
//! `=`; anything else belongs to the value before it.

use std::borrow::Cow;

/// A parsed CEF event. Text borrows from the input unless escapes had to be undone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cef<'a> {
    /// The number after `CEF:` (0 or 1 today).
    pub version: u32,
    pub device_vendor: Cow<'a, [u8]>,
    pub device_product: Cow<'a, [u8]>,
    pub device_version: Cow<'a, [u8]>,
    pub signature_id: Cow<'a, [u8]>,
    /// The event's name (`Activity` in CommonSecurityLog).
    pub name: Cow<'a, [u8]>,
    /// 0 to 10, or Low / Medium / High / Very-High, as sent.
    pub severity: Cow<'a, [u8]>,
    /// Extension pairs in the order they appear; a key repeated keeps both.
    pub extensions: Vec<(&'a [u8], Cow<'a, [u8]>)>,
}

/// Why a message is not CEF. The caller keeps the message as plain syslog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CefError {
    #[error("no `CEF:<version>|` in the message")]
    NotCef,
    #[error("the CEF header has {0} of its 7 `|`-separated fields")]
    ShortHeader(usize),
    #[error("the CEF version is not a number")]
    BadVersion,
}

/// Where `CEF:<digits>|` starts in `message` (after any syslog header), if anywhere.
pub fn find_cef(message: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = find(&message[from..], b"CEF:") {
        let at = from + i;
        let rest = &message[at + 4..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 && rest.get(digits) == Some(&b'|') {
            return Some(at);
        }
        from = at + 4;
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses a CEF event that starts at `CEF:`; use [`find_cef`] to skip a syslog header.
pub fn parse_cef(input: &[u8]) -> Result<Cef<'_>, CefError> {
    let body = input.strip_prefix(b"CEF:").ok_or(CefError::NotCef)?;
    // Split off the 7 header fields at unescaped pipes.
    let mut fields: Vec<&[u8]> = Vec::with_capacity(7);
    let mut start = 0;
    let mut i = 0;
    while i < body.len() && fields.len() < 7 {
        match body[i] {
            b'\\' => i += 2,
            b'|' => {
                fields.push(&body[start..i]);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    if fields.len() < 7 {
        return Err(CefError::ShortHeader(fields.len()));
    }
    let extension = body.get(start..).unwrap_or(b"");
    let version = std::str::from_utf8(fields[0])
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .ok_or(CefError::BadVersion)?;
    Ok(Cef {
        version,
        device_vendor: unescape_header(fields[1]),
        device_product: unescape_header(fields[2]),
        device_version: unescape_header(fields[3]),
        signature_id: unescape_header(fields[4]),
        name: unescape_header(fields[5]),
        severity: unescape_header(fields[6]),
        extensions: parse_extension(extension),
    })
}

/// `\|` → `|`, `\\` → `\`; any other backslash stays as written.
fn unescape_header(s: &[u8]) -> Cow<'_, [u8]> {
    if !s.contains(&b'\\') {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match (s[i], s.get(i + 1)) {
            (b'\\', Some(&c @ (b'|' | b'\\'))) => {
                out.push(c);
                i += 2;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// `\=` → `=`, `\\` → `\`, `\n` / `\r` → line breaks; any other backslash stays.
fn unescape_value(s: &[u8]) -> Cow<'_, [u8]> {
    if !s.contains(&b'\\') {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match (s[i], s.get(i + 1)) {
            (b'\\', Some(b'=')) => out.push(b'='),
            (b'\\', Some(b'\\')) => out.push(b'\\'),
            (b'\\', Some(b'n')) => out.push(b'\n'),
            (b'\\', Some(b'r')) => out.push(b'\r'),
            (c, _) => {
                out.push(c);
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    Cow::Owned(out)
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'[' | b']' | b'-')
}

/// The extension's pairs. Text before the first key (not CEF, but seen) is dropped
/// only if it is blank; otherwise it is kept under the empty key.
fn parse_extension(ext: &[u8]) -> Vec<(&[u8], Cow<'_, [u8]>)> {
    // Every unescaped `=` whose key starts at the beginning or after a space opens a pair.
    let mut starts: Vec<(usize, usize)> = Vec::new(); // (key start, `=` position)
    let mut i = 0;
    while i < ext.len() {
        match ext[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'=' => {
                let mut k = i;
                while k > 0 && is_key_byte(ext[k - 1]) {
                    k -= 1;
                }
                if k < i && (k == 0 || ext[k - 1] == b' ') {
                    starts.push((k, i));
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut pairs = Vec::with_capacity(starts.len() + 1);
    let lead_end = starts.first().map_or(ext.len(), |s| s.0);
    let lead = trim(&ext[..lead_end]);
    if !lead.is_empty() {
        pairs.push((&ext[..0], unescape_value(lead)));
    }
    for (n, &(k, eq)) in starts.iter().enumerate() {
        let end = starts.get(n + 1).map_or(ext.len(), |next| next.0);
        let value = &ext[eq + 1..end];
        // The separating space(s) before the next key, and trailing line ends, go.
        let value = trim_end(value);
        pairs.push((&ext[k..eq], unescape_value(value)));
    }
    pairs
}

fn trim(s: &[u8]) -> &[u8] {
    let s = trim_end(s);
    let n = s.iter().take_while(|b| **b == b' ').count();
    &s[n..]
}

fn trim_end(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .rev()
        .take_while(|b| matches!(**b, b' ' | b'\n' | b'\r' | b'\0'))
        .count();
    &s[..s.len() - n]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext<'a>(c: &'a Cef<'_>, key: &str) -> Option<&'a [u8]> {
        c.extensions
            .iter()
            .find(|(k, _)| *k == key.as_bytes())
            .map(|(_, v)| v.as_ref())
    }

    #[test]
    fn header_and_extension() {
        let c = parse_cef(b"CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232").unwrap();
        assert_eq!(c.version, 0);
        assert_eq!(&*c.device_vendor, b"Security");
        assert_eq!(&*c.device_product, b"threatmanager");
        assert_eq!(&*c.device_version, b"1.0");
        assert_eq!(&*c.signature_id, b"100");
        assert_eq!(&*c.name, b"worm successfully stopped");
        assert_eq!(&*c.severity, b"10");
        assert_eq!(ext(&c, "src"), Some(&b"10.0.0.1"[..]));
        assert_eq!(ext(&c, "dst"), Some(&b"2.1.2.2"[..]));
        assert_eq!(ext(&c, "spt"), Some(&b"1232"[..]));
    }

    #[test]
    fn escapes_in_header_and_values() {
        let c = parse_cef(br"CEF:0|security|threat\|manager|1.0|100|detected a \\ in packet|10|act=blocked a \= sign msg=line one\nline two fname=C:\\temp\\x.exe").unwrap();
        assert_eq!(&*c.device_product, b"threat|manager");
        assert_eq!(&*c.name, br"detected a \ in packet");
        assert_eq!(ext(&c, "act"), Some(&b"blocked a = sign"[..]));
        assert_eq!(ext(&c, "msg"), Some(&b"line one\nline two"[..]));
        assert_eq!(ext(&c, "fname"), Some(&br"C:\temp\x.exe"[..]));
    }

    #[test]
    fn values_keep_spaces_and_unescaped_equals_inside_words() {
        let c = parse_cef(b"CEF:0|V|P|1|sig|n|5|msg=user logged in  from a far host request=http://h/p?a=b&c=d cs1Label=Rule Name cs1=Allow all").unwrap();
        assert_eq!(
            ext(&c, "msg"),
            Some(&b"user logged in  from a far host"[..])
        );
        assert_eq!(ext(&c, "request"), Some(&b"http://h/p?a=b&c=d"[..]));
        assert_eq!(ext(&c, "cs1Label"), Some(&b"Rule Name"[..]));
        assert_eq!(ext(&c, "cs1"), Some(&b"Allow all"[..]));
    }

    #[test]
    fn pipes_in_the_extension_are_plain_text() {
        let c = parse_cef(b"CEF:1|V|P|1|sig|n|Low|msg=a|b|c").unwrap();
        assert_eq!(c.version, 1);
        assert_eq!(&*c.severity, b"Low");
        assert_eq!(ext(&c, "msg"), Some(&b"a|b|c"[..]));
    }

    #[test]
    fn empty_extension_and_empty_values() {
        let c = parse_cef(b"CEF:0|V|P|1|sig|n|3|").unwrap();
        assert!(c.extensions.is_empty());
        let c = parse_cef(b"CEF:0|V|P|1|sig|n|3|suser= duser=bob\n").unwrap();
        assert_eq!(ext(&c, "suser"), Some(&b""[..]));
        assert_eq!(ext(&c, "duser"), Some(&b"bob"[..]));
    }

    #[test]
    fn malformed_is_an_error_not_a_panic() {
        assert_eq!(parse_cef(b"CEF:0|V|P|1"), Err(CefError::ShortHeader(3)));
        assert_eq!(parse_cef(b"hello"), Err(CefError::NotCef));
        assert_eq!(parse_cef(b"CEF:x|a|b|c|d|e|f|"), Err(CefError::BadVersion));
        assert!(parse_cef(b"CEF:0|a|b|c|d|e|f\\").is_err());
        for cut in 0..60 {
            let s = b"CEF:0|V\\|x|P|1|sig|n|5|a=b\\=c d=\\\\ e=f\\";
            let _ = parse_cef(&s[..cut.min(s.len())]);
        }
    }

    #[test]
    fn finds_cef_after_a_syslog_header() {
        let m = b"<134>Nov 25 10:00:00 fw01 CEF:0|V|P|1|sig|n|5|src=1.2.3.4";
        let at = find_cef(m).unwrap();
        assert_eq!(&m[at..at + 6], b"CEF:0|");
        assert_eq!(find_cef(b"say CEF: hello"), None);
        assert_eq!(find_cef(b"CEF:|"), None);
    }
}
