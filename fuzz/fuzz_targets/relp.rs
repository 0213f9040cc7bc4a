//! A whole RELP session on arbitrary bytes cut at arbitrary points: never panics;
//! every message fits the maximum and has no trailer left; nothing comes after
//! `close`; the bytes kept between reads stay within the reader's bound; and
//! however the stream is cut, the same events come out.
#![no_main]
use libfuzzer_sys::fuzz_target;
use syslane_syslog::{RelpEvent, RelpReader};

/// The events of `stream` read in pieces of `chunk` bytes, as owned text, and
/// whether the session ended in an error.
fn session(stream: &[u8], max: usize, chunk: usize) -> (Vec<String>, bool) {
    let mut reader = RelpReader::new(max);
    let mut events = Vec::new();
    let mut pending = Vec::new();
    for piece in stream.chunks(chunk) {
        pending.extend_from_slice(piece);
        let fed = reader.feed(&pending, |event| {
            if let RelpEvent::Message { data, .. } = &event {
                assert!(data.len() <= max);
                assert!(!data.ends_with(b"\n") && !data.ends_with(b"\r") && !data.ends_with(b"\0"));
            }
            assert!(!events.iter().any(|e: &String| e.starts_with("Close")));
            events.push(format!("{event:?}"));
        });
        match fed {
            Ok(used) => {
                assert!(used <= pending.len());
                pending.drain(..used);
                // After `close` the caller stops reading, as the listener does:
                // what follows is never kept.
                if reader.is_closed() {
                    break;
                }
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                return (events, true);
            }
        }
        assert!(pending.len() <= reader.max_pending() + chunk);
    }
    (events, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&limit, data)) = data.split_first() else { return };
    let max = usize::from(limit).max(1) * 8;
    let chunk = 1 + usize::from(limit % 17);
    let whole = session(data, max, data.len().max(1));
    let pieces = session(data, max, chunk);
    assert_eq!(whole, pieces);
});
