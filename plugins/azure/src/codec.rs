//! Request bodies as they go on the wire: gzip at the configured level (libdeflate,
//! which compresses a whole buffer at once), or plain JSON at level 0. Each request
//! thread borrows a [`Scratch`] (compressor and buffers) from a pool, so the hot
//! path allocates nothing once the pool is warm.

use libdeflater::{CompressionLvl, Compressor};
use std::sync::Mutex;

/// The service bills on uncompressed bytes, so the level only trades the agent's
/// CPU against bandwidth. Bytes per record on the benchmark's realistic load
/// (docs/src/performance.md): level 1 is the fastest that still compresses.
pub const DEFAULT_LEVEL: u32 = 1;
/// libdeflate's highest level.
pub const MAX_LEVEL: u32 = 12;

/// A compressor and the buffers of one request.
pub struct Scratch {
    compressor: Option<Compressor>,
    /// The JSON array of the request.
    pub body: Vec<u8>,
    /// The compressed body.
    out: Vec<u8>,
}

impl Scratch {
    pub fn new(level: u32) -> Scratch {
        let compressor = match level {
            0 => None,
            n => CompressionLvl::new(n.min(MAX_LEVEL) as i32)
                .ok()
                .map(Compressor::new),
        };
        Scratch {
            compressor,
            body: Vec::new(),
            out: Vec::new(),
        }
    }

    /// `body` as it is sent, and whether it is gzip.
    pub fn encode(&mut self) -> Result<(&[u8], bool), String> {
        let Some(c) = self.compressor.as_mut() else {
            return Ok((&self.body, false));
        };
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
