//! The configuration reader on arbitrary text: errors, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = syslane::config::Config::parse(text, Path::new("fuzz.toml"), Path::new("/"));
    }
});
