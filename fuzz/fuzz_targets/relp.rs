//! The RELP frame parser on arbitrary bytes: never panics; a frame never uses more
//! than the buffer nor carries DATA over the limit; an oversized frame's header
//! lies within the buffer and its DATALEN is over the limit.
#![no_main]
use libfuzzer_sys::fuzz_target;
use syslane_syslog::{parse_relp, RelpParse};

fuzz_target!(|data: &[u8]| {
    let Some((&limit, data)) = data.split_first() else { return };
    let max = usize::from(limit) * 8;
    match parse_relp(data, max) {
        RelpParse::Frame(frame, used) => {
            assert!(used <= data.len() && frame.data.len() <= max);
        }
        RelpParse::Oversized { header, data_len, .. } => {
            assert!(header <= data.len() && data_len > max);
        }
        RelpParse::NeedMore | RelpParse::Invalid(_) => {}
    }
});
