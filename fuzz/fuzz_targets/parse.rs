//! The syslog parser on arbitrary bytes: never panics, slices stay inside the input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let m = syslane_syslog::parse(data);
    assert!(m.message.len() <= data.len());
    for field in [m.hostname, m.appname, m.procid, m.msgid, m.structured_data].into_iter().flatten() {
        assert!(field.len() <= data.len());
    }
});
