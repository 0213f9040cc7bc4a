//! `--compression`: what each `compression_level` of the azure output gives and
//! costs on the benchmark's loads. The messages become the JSON records the output
//! receives (the real `syslog` plugin and the agent's serializer, through
//! `syslane::testing`), are cut into JSON arrays of at most 1 MB as the output cuts
//! requests, and every array is gzipped as the output gzips it at each level, on
//! one core: level 1 with zlib-rs's quick strategy, levels 2 to 12 with
//! libdeflate. libdeflate's level 1 (the default before 0.2) is printed beside
//! them for comparison.

use crate::load::Load;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use syslane_tests::syslog_records;

/// The levels measured: 0 is no compression (the output sends plain JSON).
const LEVELS: [i32; 8] = [1, 2, 3, 4, 6, 9, 12, 0];
/// The Logs Ingestion API's limit per request, as the output's default.
const REQUEST_BYTES: usize = 1_000_000;

/// The records of `messages` as the azure output receives them, in 1 MB arrays.
fn arrays(messages: &[String]) -> Vec<Vec<u8>> {
    let peer: IpAddr = "192.0.2.1".parse().unwrap();
    let received = jiff::Timestamp::now().as_nanosecond() as i64;
    let records = syslog_records(
        messages.iter().map(|m| m.as_bytes()),
        peer,
        received,
        "collector-01",
    );
    let mut out = vec![b"[".to_vec()];
    for r in records {
        let last = out.last_mut().unwrap();
        if last.len() + r.len() + 2 > REQUEST_BYTES && last.len() > 1 {
            last.push(b']');
            out.push(b"[".to_vec());
        }
        let last = out.last_mut().unwrap();
        if last.len() > 1 {
            last.push(b',');
        }
        last.extend_from_slice(&r);
    }
    if let Some(last) = out.last_mut() {
        last.push(b']');
    }
    out
}

/// The output's level 1: zlib-rs at zlib level 1 (its quick strategy), one gzip
/// member per request.
fn zlib_rs_quick(arrays: &[Vec<u8>]) -> (usize, f64) {
    let mut c = flate2::Compress::new_gzip(flate2::Compression::new(1), 15);
    let mut out = Vec::with_capacity(2 * REQUEST_BYTES);
    measure(arrays, |a| {
        c.reset();
        out.clear();
        let status = c
            .compress_vec(a, &mut out, flate2::FlushCompress::Finish)
            .unwrap();
        assert_eq!(status, flate2::Status::StreamEnd);
        out.len()
    })
}

/// The output's levels 2 to 12: libdeflate.
fn libdeflate(arrays: &[Vec<u8>], level: i32) -> (usize, f64) {
    let lvl = libdeflater::CompressionLvl::new(level).unwrap();
    let mut c = libdeflater::Compressor::new(lvl);
    let mut out = vec![0u8; c.gzip_compress_bound(REQUEST_BYTES + 16)];
    measure(arrays, |a| c.gzip_compress(a, &mut out).unwrap())
}

/// Compresses every array with `gzip` until at least a second has passed; the
/// compressed bytes of one pass and the time per MB of input.
fn measure(arrays: &[Vec<u8>], mut gzip: impl FnMut(&[u8]) -> usize) -> (usize, f64) {
    let input: usize = arrays.iter().map(Vec::len).sum();
    let start = Instant::now();
    let mut passes = 0u32;
    let mut bytes = 0;
    while passes == 0 || start.elapsed() < Duration::from_secs(1) {
        bytes = arrays.iter().map(|a| gzip(a)).sum();
        passes += 1;
    }
    let ms_per_mb = start.elapsed().as_secs_f64() * 1e3 / f64::from(passes) / (input as f64 / 1e6);
    (bytes, ms_per_mb)
}

pub fn run(loads: &[Load], messages: impl Fn(Load) -> Vec<String>) {
    for &load in loads {
        let msgs = messages(load);
        let arrays = arrays(&msgs);
        let records = msgs.len() as f64;
        let json: usize = arrays.iter().map(Vec::len).sum();
        println!(
            "load={load:?} records={} requests={} json_bytes_per_record={:.1}",
            msgs.len(),
            arrays.len(),
            json as f64 / records
        );
        for level in LEVELS {
            let (bytes, ms) = match level {
                0 => (json, 0.0),
                1 => zlib_rs_quick(&arrays),
                _ => libdeflate(&arrays, level),
            };
            let engine = match level {
                0 => "none",
                1 => "zlib-rs",
                _ => "libdeflate",
            };
            println!(
                "load={load:?} compression_level={level} compressor={engine} bytes_per_record={:.1} ms_per_MB={ms:.2}",
                bytes as f64 / records
            );
        }
        // For comparison: libdeflate's fastest level, the default before 0.2.
        let (bytes, ms) = libdeflate(&arrays, 1);
        println!(
            "load={load:?} compression_level=- compressor=libdeflate-level-1 bytes_per_record={:.1} ms_per_MB={ms:.2}",
            bytes as f64 / records
        );
    }
}
