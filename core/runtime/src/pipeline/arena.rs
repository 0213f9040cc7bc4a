//! Bytes kept in one growing buffer and named by `(start, len)` spans: the one
//! way the pipeline's scratch buffers (senders' addresses, edits queued during a
//! filter call) store borrowed bytes. A span that does not fit reads as empty.

/// Copies `bytes` to the end of `arena`; returns their span.
pub(crate) fn put(arena: &mut Vec<u8>, bytes: &[u8]) -> (u32, u32) {
    let start = arena.len() as u32;
    arena.extend_from_slice(bytes);
    (start, bytes.len() as u32)
}

/// The bytes of `span` in `arena`.
pub(crate) fn view(arena: &[u8], (start, len): (u32, u32)) -> &[u8] {
    let start = start as usize;
    arena.get(start..start + len as usize).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_name_what_was_put() {
        let mut arena = Vec::new();
        let a = put(&mut arena, b"192.0.2.1");
        let b = put(&mut arena, b"");
        let c = put(&mut arena, b"host");
        assert_eq!(view(&arena, a), b"192.0.2.1");
        assert_eq!(view(&arena, b), b"");
        assert_eq!(view(&arena, c), b"host");
        assert_eq!(view(&arena, (10, 100)), b"", "out of range reads as empty");
    }
}
