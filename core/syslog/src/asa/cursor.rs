//! A forward-only reader over an ASA message's text, with the pieces its formats
//! are built from: literal words, `interface:address/port` endpoints, addresses and
//! ports. Every step scans forward a bounded distance, so a message is read in time
//! linear in its length whatever it holds.

use std::net::IpAddr;

/// The longest interface name read before the `:` of an endpoint (ASA allows 48).
const MAX_INTERFACE: usize = 64;
/// The longest address text (an IPv6 address with a zone is at most 45 + zone).
const MAX_ADDRESS: usize = 64;
/// The longest parenthesised group read after an endpoint (a user or a mapping).
const MAX_GROUP: usize = 256;

#[derive(Clone, Copy, Debug)]
pub(super) struct Cursor<'a> {
    pub(super) rest: &'a [u8],
}

/// `interface:address/port`, any part but the address may be absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Endpoint<'a> {
    pub(super) interface: Option<&'a [u8]>,
    pub(super) address: &'a [u8],
    pub(super) port: Option<&'a [u8]>,
}

/// Whether `s` is an IPv4 or IPv6 address.
pub(super) fn is_address(s: &[u8]) -> bool {
    s.len() <= MAX_ADDRESS
        && std::str::from_utf8(s)
            .ok()
            .and_then(|s| s.parse::<IpAddr>().ok())
            .is_some()
}

/// Whether `s` is a port: 1 to 5 digits, at most 65535.
pub(super) fn is_port(s: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= 5
        && s.iter().all(u8::is_ascii_digit)
        && s.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0')) <= 65_535
}

/// Whether `s` is a byte count that fits a 64-bit column.
pub(super) fn is_count(s: &[u8]) -> bool {
    !s.is_empty() && s.len() <= 18 && s.iter().all(u8::is_ascii_digit)
}

fn is_address_byte(c: u8) -> bool {
    c.is_ascii_hexdigit() || matches!(c, b'.' | b':' | b'%')
}

impl<'a> Cursor<'a> {
    pub(super) fn new(text: &'a [u8]) -> Cursor<'a> {
        Cursor { rest: text }
    }

    pub(super) fn skip_spaces(&mut self) {
        let n = self.rest.iter().take_while(|c| **c == b' ').count();
        self.rest = &self.rest[n..];
    }

    /// Consumes `word` (after any spaces) when the text continues with it.
    pub(super) fn lit(&mut self, word: &[u8]) -> bool {
        self.skip_spaces();
        match self.rest.strip_prefix(word) {
            Some(r) => {
                self.rest = r;
                true
            }
            None => false,
        }
    }

    /// The next space-delimited word (after any spaces), or `None` at the end.
    pub(super) fn word(&mut self) -> Option<&'a [u8]> {
        self.skip_spaces();
        if self.rest.is_empty() {
            return None;
        }
        let n = memchr::memchr(b' ', self.rest).unwrap_or(self.rest.len());
        let (w, r) = self.rest.split_at(n);
        self.rest = r;
        Some(w)
    }

    /// The next word if it is one of `choices`.
    pub(super) fn one_of(&mut self, choices: &[&[u8]]) -> Option<&'a [u8]> {
        let save = *self;
        let w = self.word()?;
        if choices.iter().any(|c| c.eq_ignore_ascii_case(w)) {
            return Some(w);
        }
        *self = save;
        None
    }

    /// Everything up to `stop` (not consumed), or `None` when `stop` does not come.
    pub(super) fn until(&mut self, stop: &[u8]) -> Option<&'a [u8]> {
        let at = memchr::memmem::find(self.rest, stop)?;
        let (w, r) = self.rest.split_at(at);
        self.rest = r;
        Some(w)
    }

    /// Moves past the next `needle`; `false` (nothing consumed) when there is none.
    pub(super) fn past(&mut self, needle: &[u8]) -> bool {
        match memchr::memmem::find(self.rest, needle) {
            Some(at) => {
                self.rest = &self.rest[at + needle.len()..];
                true
            }
            None => false,
        }
    }

    /// An address (after any spaces), ended by anything that cannot be in one.
    pub(super) fn address(&mut self) -> Option<&'a [u8]> {
        self.skip_spaces();
        let n = self
            .rest
            .iter()
            .take(MAX_ADDRESS + 1)
            .take_while(|c| is_address_byte(**c))
            .count();
        let a = &self.rest[..n];
        if !is_address(a) {
            return None;
        }
        self.rest = &self.rest[n..];
        Some(a)
    }

    /// A run of digits (after any spaces).
    pub(super) fn number(&mut self) -> Option<&'a [u8]> {
        self.skip_spaces();
        let n = self.rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let (d, r) = self.rest.split_at(n);
        self.rest = r;
        Some(d)
    }

    /// `address[/port]` with no interface in front.
    pub(super) fn address_port(&mut self) -> Option<Endpoint<'a>> {
        let save = *self;
        let Some(address) = self.address() else {
            *self = save;
            return None;
        };
        let mut e = Endpoint {
            interface: None,
            address,
            port: None,
        };
        if let Some(r) = self.rest.strip_prefix(b"/") {
            let n = r.iter().take_while(|c| c.is_ascii_digit()).count();
            if is_port(&r[..n]) {
                e.port = Some(&r[..n]);
                self.rest = &r[n..];
            }
        }
        Some(e)
    }

    /// `interface:address[/port]` (the interface may hold spaces, as `NP Identity
    /// Ifc` does), or, when what follows is an address, `address[/port]`.
    pub(super) fn endpoint(&mut self) -> Option<Endpoint<'a>> {
        self.skip_spaces();
        if let Some(e) = self.address_port() {
            // `inside:10.0.0.1` is not an address, but `fe80::1` is: a bare address
            // wins only when no interface-shaped text could be read instead.
            if !e.address.contains(&b':') || self.rest.first() != Some(&b':') {
                return Some(e);
            }
        }
        self.interface_endpoint(b':')
    }

    /// `interface<sep>address[/port]`.
    pub(super) fn interface_endpoint(&mut self, sep: u8) -> Option<Endpoint<'a>> {
        self.skip_spaces();
        let save = *self;
        let window = &self.rest[..self.rest.len().min(MAX_INTERFACE + 1)];
        let at = memchr::memchr(sep, window)?;
        let interface = &self.rest[..at];
        if interface.is_empty() || interface.iter().any(|c| matches!(c, b'/' | b'(' | b')')) {
            return None;
        }
        self.rest = &self.rest[at + 1..];
        match self.address_port() {
            Some(mut e) => {
                e.interface = Some(interface);
                Some(e)
            }
            None => {
                *self = save;
                None
            }
        }
    }

    /// A `( … )` group right after optional spaces, without its parentheses.
    pub(super) fn group(&mut self) -> Option<&'a [u8]> {
        let save = *self;
        self.skip_spaces();
        let Some(r) = self.rest.strip_prefix(b"(") else {
            *self = save;
            return None;
        };
        let window = &r[..r.len().min(MAX_GROUP)];
        let Some(end) = memchr::memchr(b')', window) else {
            *self = save;
            return None;
        };
        self.rest = &r[end + 1..];
        Some(&r[..end])
    }
}

/// A user named in a `(user)` group: not a mapping (`address/port`) and not a
/// placeholder; an `(idfw_user, sg_info)` pair gives its first part.
pub(super) fn group_user(g: &[u8]) -> Option<&[u8]> {
    let user = match memchr::memchr(b',', g) {
        Some(i) => &g[..i],
        None => g,
    };
    let user = trim(user);
    let mapping = Cursor::new(user).address_port().is_some();
    // `(type 8, code 0)` after an ICMP endpoint is not a user.
    let icmp = user.starts_with(b"type ");
    if user.is_empty() || mapping || icmp || user.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(user)
}

/// `s` without spaces around it.
pub(super) fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().take_while(|c| **c == b' ').count();
    let end = s.iter().rev().take_while(|c| **c == b' ').count();
    s.get(start..s.len().saturating_sub(end)).unwrap_or(b"")
}

/// `<value>` → `value` (ASA writes VPN groups, users and addresses in angle brackets).
pub(super) fn unbracket(s: &[u8]) -> &[u8] {
    s.strip_prefix(b"<")
        .and_then(|s| s.strip_suffix(b">"))
        .unwrap_or(s)
}
