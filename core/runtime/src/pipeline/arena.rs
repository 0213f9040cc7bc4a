//! Bytes kept in one growing buffer and named by [`Span`]s: the one way the
//! pipeline stores borrowed bytes (a batch's strings, senders' addresses, edits
//! queued during a filter call). Adding copies the bytes once and allocates
//! nothing once the buffer has grown; the buffer is reused from batch to batch.
//! A span that does not fit the arena reads as empty.

use std::io::Write as _;

/// Where bytes are in an [`Arena`]: offset and length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

/// A growing byte buffer; see the module's documentation.
#[derive(Debug, Default)]
pub(crate) struct Arena(Vec<u8>);

impl Arena {
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// How many bytes it holds.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Copies `bytes` to the end; returns their span.
    #[inline]
    pub(crate) fn put(&mut self, bytes: &[u8]) -> Span {
        let start = self.0.len() as u32;
        self.0.extend_from_slice(bytes);
        Span {
            start,
            len: bytes.len() as u32,
        }
    }

    /// Copies `bytes` when there are some; `None` stays absent.
    #[inline]
    pub(crate) fn put_opt(&mut self, bytes: Option<&[u8]>) -> Option<Span> {
        bytes.map(|b| self.put(b))
    }

    /// Writes `value` as text to the end; returns its span.
    pub(crate) fn put_display(&mut self, value: impl std::fmt::Display) -> Span {
        let start = self.0.len();
        let _ = write!(self.0, "{value}");
        Span {
            start: start as u32,
            len: (self.0.len() - start) as u32,
        }
    }

    /// The bytes of `span`.
    #[inline]
    pub(crate) fn get(&self, span: Span) -> &[u8] {
        let start = span.start as usize;
        self.0.get(start..start + span.len as usize).unwrap_or(&[])
    }

    /// The bytes of `span`, or `None` when absent.
    #[inline]
    pub(crate) fn get_opt(&self, span: Option<Span>) -> Option<&[u8]> {
        span.map(|s| self.get(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_name_what_was_put() {
        let mut arena = Arena::default();
        let a = arena.put(b"192.0.2.1");
        let b = arena.put(b"");
        let c = arena.put_display(std::net::Ipv4Addr::new(10, 0, 0, 5));
        let d = arena.put_opt(Some(b"host"));
        assert_eq!(arena.get(a), b"192.0.2.1");
        assert_eq!(arena.get(b), b"");
        assert_eq!(arena.get(c), b"10.0.0.5");
        assert_eq!(arena.get_opt(d), Some(&b"host"[..]));
        assert_eq!(arena.put_opt(None), None);
        assert_eq!(arena.get_opt(None), None);
        let outside = Span {
            start: 10,
            len: 100,
        };
        assert_eq!(arena.get(outside), b"", "out of range reads as empty");
        arena.clear();
        assert_eq!((arena.len(), arena.get(a)), (0, &b""[..]));
    }
}
