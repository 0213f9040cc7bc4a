//! The TCP framer on arbitrary streams cut at arbitrary points: never panics, never
//! emits a frame over the maximum, never needs more than its bound of pending bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use syslane_syslog::Framer;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, data)) = data.split_first() else { return };
    let max = 1 + usize::from(cut) * 4;
    let chunk = 1 + usize::from(cut % 17);
    let mut framer = Framer::new(max);
    let mut pending = Vec::new();
    for piece in data.chunks(chunk) {
        pending.extend_from_slice(piece);
        let used = framer.feed(&pending, |f, _| assert!(f.len() <= max));
        pending.drain(..used);
        assert!(pending.len() <= framer.max_pending() + chunk);
    }
    framer.finish(&pending, |f, _| assert!(f.len() <= max));
});
