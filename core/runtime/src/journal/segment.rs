//! The on-disk entry format and the scan that recovers a segment after a crash.
//!
//! A segment file is a sequence of entries:
//!
//! ```text
//! magic "SLJ1" | payload length u32 | crc32c u32 | table u32 | records u32 | payload
//! ```
//!
//! (integers little-endian; the checksum covers table, records and payload). A torn
//! or corrupt entry is found by its magic, length or checksum; readers skip to the
//! next valid magic, so one bad entry never hides the good ones after it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

pub(super) const MAGIC: [u8; 4] = *b"SLJ1";
pub(super) const HEADER: usize = 20;
/// No entry is larger (a batch is at most a few MiB); a bigger length means corruption.
pub(super) const MAX_PAYLOAD: u32 = 256 * 1024 * 1024;

/// Encodes one entry's header; the payload follows it.
pub(super) fn header(table: u32, records: u32, payload: &[u8]) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[0..4].copy_from_slice(&MAGIC);
    h[4..8].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    h[12..16].copy_from_slice(&table.to_le_bytes());
    h[16..20].copy_from_slice(&records.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&h[12..20]), payload);
    h[8..12].copy_from_slice(&crc.to_le_bytes());
    h
}

/// One decoded entry.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Entry {
    pub table: u32,
    pub records: u32,
    pub payload: Vec<u8>,
}

/// What was found at an offset.
#[derive(Debug)]
pub(super) enum Found {
    /// A valid entry ending at `end`.
    Entry { entry: Entry, end: u64 },
    /// Bytes that are not a valid entry; the next valid magic (or the limit) is at `resume`.
    Corrupt { resume: u64 },
    /// Not enough bytes before the limit for a whole entry (a torn tail, or still being written).
    Short,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads the entry at `offset`, looking no further than `limit`.
pub(super) fn read_at(file: &mut File, offset: u64, limit: u64) -> std::io::Result<Found> {
    read_entry(file, offset, limit, false)
}

/// Reads the entry at `offset` from `r`; `positioned` says `r` is already there
/// (so a buffered reader keeps its buffer).
pub(super) fn read_entry<R: Read + Seek>(
    r: &mut R,
    offset: u64,
    limit: u64,
    positioned: bool,
) -> std::io::Result<Found> {
    if offset + HEADER as u64 > limit {
        return Ok(Found::Short);
    }
    let mut h = [0u8; HEADER];
    if !positioned {
        r.seek(SeekFrom::Start(offset))?;
    }
    let file = r;
    file.read_exact(&mut h)?;
    let len = u32_at(&h, 4);
    if h[0..4] != MAGIC || len > MAX_PAYLOAD {
        return Ok(Found::Corrupt {
            resume: find_magic(file, offset + 1, limit)?,
        });
    }
    let end = offset + HEADER as u64 + u64::from(len);
    if end > limit {
        return Ok(Found::Short);
    }
    let mut payload = vec![0u8; len as usize];
    file.read_exact(&mut payload)?;
    let crc = crc32c::crc32c_append(crc32c::crc32c(&h[12..20]), &payload);
    if crc != u32_at(&h, 8) {
        return Ok(Found::Corrupt {
            resume: find_magic(file, offset + 1, limit)?,
        });
    }
    Ok(Found::Entry {
        entry: Entry {
            table: u32_at(&h, 12),
            records: u32_at(&h, 16),
            payload,
        },
        end,
    })
}

/// The offset of the next `MAGIC` at or after `from`, or `limit`.
fn find_magic<R: Read + Seek>(file: &mut R, from: u64, limit: u64) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = from;
    while at < limit {
        file.seek(SeekFrom::Start(at))?;
        let want = (limit - at).min(buf.len() as u64) as usize;
        let n = file.read(&mut buf[..want])?;
        if n < MAGIC.len() {
            break;
        }
        if let Some(i) = buf[..n].windows(MAGIC.len()).position(|w| w == MAGIC) {
            return Ok(at + i as u64);
        }
        at += (n - (MAGIC.len() - 1)) as u64;
    }
    Ok(limit)
}

/// What a start-up scan of a segment found.
#[derive(Debug, Default)]
pub(super) struct Scan {
    /// Where the last valid entry ends: the file is cut here when the rest is torn.
    pub valid_end: u64,
    pub entries: u64,
    pub records: u64,
    /// (offset, bytes) of corrupt regions skipped.
    pub corrupt: Vec<(u64, u64)>,
    /// Bytes after `valid_end` that do not form an entry.
    pub torn_tail: u64,
}

/// Scans a whole segment from `start`.
pub(super) fn scan(file: &mut File, start: u64) -> std::io::Result<Scan> {
    let len = file.metadata()?.len();
    let mut s = Scan {
        valid_end: start,
        ..Scan::default()
    };
    let mut at = start;
    while at < len {
        match read_at(file, at, len)? {
            Found::Entry { entry, end } => {
                s.entries += 1;
                s.records += u64::from(entry.records);
                s.valid_end = end;
                at = end;
            }
            Found::Corrupt { resume } => {
                if resume >= len {
                    break;
                }
                s.corrupt.push((at, resume - at));
                at = resume;
            }
            Found::Short => break,
        }
    }
    s.torn_tail = len - s.valid_end;
    if let Some(last) = s.corrupt.last() {
        // A corrupt region that runs into the tail is part of the torn tail.
        if last.0 + last.1 >= s.valid_end && last.0 >= s.valid_end {
            s.corrupt.pop();
        }
    }
    Ok(s)
}
