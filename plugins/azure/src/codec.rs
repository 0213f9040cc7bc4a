//! Request bodies as they go on the wire: gzip at the configured level, or plain
//! JSON at level 0. Level 1 is zlib-rs's quick strategy (the zlib-ng algorithm:
//! one hash probe per position and fixed Huffman codes), the fastest deflate there
//! is; levels 2 to 12 are libdeflate's, which compresses a whole buffer at once.
//! Each request thread borrows a [`Scratch`] (compressor and buffers) from a pool,
//! so the hot path allocates nothing once the pool is warm.

use flate2::{Compress, Compression, FlushCompress, Status};
use libdeflater::{CompressionLvl, Compressor};
use std::sync::Mutex;

/// The service bills on uncompressed bytes and the API's 1 MB limit counts them
/// too, so the level only trades the agent's CPU against bandwidth. On the
/// benchmark's realistic load (docs/src/performance.md) level 1 takes about 0.7
/// of the time libdeflate's fastest level takes, for about 1.4 times its bytes.
pub const DEFAULT_LEVEL: u32 = 1;
/// libdeflate's highest level.
pub const MAX_LEVEL: u32 = 12;

/// zlib's largest window (32 KiB), as gzip readers expect.
const WINDOW_BITS: u8 = 15;

enum Engine {
    Plain,
    /// Level 1: zlib-rs at zlib level 1, which is its quick strategy.
    Quick(Box<Compress>),
    /// Levels 2 to 12.
    Libdeflate(Compressor),
}

/// A compressor and the buffers of one request.
pub struct Scratch {
    engine: Engine,
    /// The JSON array of the request.
    pub body: Vec<u8>,
    /// The compressed body.
    out: Vec<u8>,
}

impl Scratch {
    pub fn new(level: u32) -> Scratch {
        let engine = match level {
            0 => Engine::Plain,
            1 => Engine::Quick(Box::new(Compress::new_gzip(
                Compression::new(1),
                WINDOW_BITS,
            ))),
            n => match CompressionLvl::new(n.min(MAX_LEVEL) as i32) {
                Ok(l) => Engine::Libdeflate(Compressor::new(l)),
                Err(_) => Engine::Plain,
            },
        };
        Scratch {
            engine,
            body: Vec::new(),
            out: Vec::new(),
        }
    }

    /// `body` as it is sent, and whether it is gzip.
    pub fn encode(&mut self) -> Result<(&[u8], bool), String> {
        match &mut self.engine {
            Engine::Plain => Ok((&self.body, false)),
            Engine::Quick(c) => {
                c.reset();
                self.out.clear();
                // Fixed codes can exceed the input by a little: reserve a bit more
                // than the body, and grow if the stream still has not ended.
                self.out.reserve(self.body.len() + self.body.len() / 8 + 64);
                loop {
                    let done = c.total_in() as usize;
                    let rest = self.body.get(done..).unwrap_or_default();
                    match c.compress_vec(rest, &mut self.out, FlushCompress::Finish) {
                        Ok(Status::StreamEnd) => return Ok((&self.out, true)),
                        Ok(Status::Ok | Status::BufError) => {
                            self.out.reserve(self.out.capacity().max(4096))
                        }
                        Err(e) => return Err(format!("gzip failed: {e}")),
                    }
                }
            }
            Engine::Libdeflate(c) => {
                let bound = c.gzip_compress_bound(self.body.len());
                if self.out.len() < bound {
                    self.out.resize(bound, 0);
                }
                let n = c
                    .gzip_compress(&self.body, &mut self.out[..bound])
                    .map_err(|e| format!("gzip failed: {e:?}"))?;
                Ok((&self.out[..n], true))
            }
        }
    }
}

/// Scratch space kept between batches, one per request thread at most.
pub struct Pool {
    level: u32,
    free: Mutex<Vec<Scratch>>,
}

impl Pool {
    pub fn new(level: u32) -> Pool {
        Pool {
            level,
            free: Mutex::new(Vec::new()),
        }
    }

    pub fn take(&self) -> Scratch {
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_else(|| Scratch::new(self.level))
    }

    pub fn give(&self, s: Scratch) {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn every_level_gives_the_body_back() {
        let body: Vec<u8> = (0..2000)
            .flat_map(|i| format!("{{\"n\":{i},\"text\":\"some words {}\"}},", i % 7).into_bytes())
            .collect();
        let mut sizes = Vec::new();
        for level in 0..=MAX_LEVEL {
            let mut s = Scratch::new(level);
            s.body = body.clone();
            let (wire, gzip) = s.encode().unwrap();
            assert_eq!(gzip, level > 0);
            let plain = if gzip {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(wire)
                    .read_to_end(&mut out)
                    .unwrap();
                out
            } else {
                wire.to_vec()
            };
            assert_eq!(plain, body, "level {level}");
            sizes.push(wire.len());
        }
        assert!(sizes[1] < body.len() / 4, "{sizes:?}");
        assert!(sizes[9] < sizes[1], "{sizes:?}");
    }

    /// Bytes that do not compress come out larger under fixed codes: the output
    /// grows until the stream ends, and gives the bytes back.
    #[test]
    fn incompressible_bodies_are_whole_at_every_level() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let body: Vec<u8> = (0..300_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        for level in [1, 2, 12] {
            let mut s = Scratch::new(level);
            s.body = body.clone();
            let (wire, gzip) = s.encode().unwrap();
            assert!(gzip);
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(wire)
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, body, "level {level}");
        }
    }

    #[test]
    fn a_scratch_is_reused_with_smaller_and_larger_bodies() {
        let pool = Pool::new(1);
        for n in [100_000usize, 10, 300_000, 0] {
            let mut s = pool.take();
            s.body = vec![b'x'; n];
            let (wire, _) = s.encode().unwrap();
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(wire)
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out.len(), n);
            pool.give(s);
        }
        assert_eq!(pool.free.lock().unwrap().len(), 1);
    }
}
