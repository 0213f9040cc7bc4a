//! The on-disk entry format and the scan that recovers a segment after a crash.
//!
//! A segment file is a sequence of entries:
//!
//! ```text
//! magic "SLJ1" | payload length u32 | crc32c u32 | table u32 | records u32 | payload
//! ```
//!
//! (integers little-endian). The checksum covers the segment's number, table,
//! records and payload: it is the crc32c of the number (u64, little-endian)
//! continued over the rest. A torn or corrupt entry is found by its magic, length
//! or checksum; readers skip to the next valid magic, so one bad entry never hides
//! the good ones after it.
//!
//! Segment files are recycled: a segment wholly acknowledged becomes the file the
//! next segment is written into, overwriting it in place (the file's pages stay in
//! the page cache and its blocks stay allocated, so a write is a copy, not an
//! allocation). What a recycled file holds past the newest entry are an older
//! segment's entries, and since the checksum includes the segment's number they
//! fail it in this one: the start-up scan cuts them off with the tail instead of
//! taking them for records.
//!
//! Journals of 0.1.0 checksummed entries without the segment's number; such
//! entries are still taken (those files are never recycled).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;

pub(super) const MAGIC: [u8; 4] = *b"SLJ1";
pub(super) const HEADER: usize = 20;
/// No entry is larger (a batch is at most a few MiB); a bigger length means corruption.
pub(super) const MAX_PAYLOAD: u32 = 256 * 1024 * 1024;

/// The checksum of an entry of `segment` (`fields` are its table and records).
fn checksum(segment: u64, fields: &[u8], payload: &[u8]) -> u32 {
    let seeded = crc32c::crc32c_append(crc32c::crc32c(&segment.to_le_bytes()), fields);
    crc32c::crc32c_append(seeded, payload)
}

/// The checksum 0.1.0 wrote: without the segment's number.
fn checksum_v1(fields: &[u8], payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(fields), payload)
}

/// Encodes the header of an entry of `segment`; the payload follows it.
pub(super) fn header(segment: u64, table: u32, records: u32, payload: &[u8]) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[0..4].copy_from_slice(&MAGIC);
    h[4..8].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    h[12..16].copy_from_slice(&table.to_le_bytes());
    h[16..20].copy_from_slice(&records.to_le_bytes());
    let crc = checksum(segment, &h[12..20], payload);
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
    /// Bytes that are not a valid entry; the next valid magic (or the limit) is at
    /// `resume`. `whole`: a complete entry whose checksum failed (damage, or an
    /// older segment's entry in a recycled file), not a broken header.
    Corrupt { resume: u64, whole: bool },
    /// Not enough bytes before the limit for a whole entry (a torn tail, or still being written).
    Short,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads the entry of `segment` at `offset`, looking no further than `limit`.
pub(super) fn read_at(
    file: &mut File,
    segment: u64,
    offset: u64,
    limit: u64,
) -> std::io::Result<Found> {
    read_entry(file, segment, offset, limit, false)
}

/// Reads the entry of `segment` at `offset` from `r`; `positioned` says `r` is
/// already there (so a buffered reader keeps its buffer).
pub(super) fn read_entry<R: Read + Seek>(
    r: &mut R,
    segment: u64,
    offset: u64,
    limit: u64,
    positioned: bool,
) -> std::io::Result<Found> {
    let mut payload = Vec::new();
    let found = read_entry_into(r, segment, offset, limit, positioned, &mut payload)?;
    Ok(match found {
        Found::Entry { mut entry, end } => {
            entry.payload = payload;
            Found::Entry { entry, end }
        }
        other => other,
    })
}

/// [`read_entry`], with a valid entry's payload appended to `out` (its
/// `payload` stays empty): the shipper reads straight into the batch it is
/// gathering. Anything else leaves `out` as it was.
pub(super) fn read_entry_into<R: Read + Seek>(
    r: &mut R,
    segment: u64,
    offset: u64,
    limit: u64,
    positioned: bool,
    out: &mut Vec<u8>,
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
            whole: false,
        });
    }
    let end = offset + HEADER as u64 + u64::from(len);
    if end > limit {
        return Ok(Found::Short);
    }
    let start = out.len();
    out.resize(start + len as usize, 0);
    if let Err(e) = file.read_exact(&mut out[start..]) {
        out.truncate(start);
        return Err(e);
    }
    let stored = u32_at(&h, 8);
    let payload = &out[start..];
    if checksum(segment, &h[12..20], payload) != stored
        && checksum_v1(&h[12..20], payload) != stored
    {
        out.truncate(start);
        return Ok(Found::Corrupt {
            resume: find_magic(file, offset + 1, limit)?,
            whole: true,
        });
    }
    Ok(Found::Entry {
        entry: Entry {
            table: u32_at(&h, 12),
            records: u32_at(&h, 16),
            payload: Vec::new(),
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

/// The offset of the first valid entry of `segment` at a magic at or after
/// `from`, if any.
pub(super) fn next_entry<R: Read + Seek>(
    file: &mut R,
    segment: u64,
    from: u64,
    len: u64,
) -> std::io::Result<Option<u64>> {
    let mut at = from;
    loop {
        let m = find_magic(file, at, len)?;
        if m >= len {
            return Ok(None);
        }
        if let Found::Entry { .. } = read_entry(file, segment, m, len, false)? {
            return Ok(Some(m));
        }
        at = m + 1;
    }
}

/// A segment file read up to a limit that moves on as entries are committed:
/// reads never return bytes past it, so a read-ahead buffer never holds bytes of
/// a recycled file that the writer is about to overwrite.
#[derive(Debug)]
pub(super) struct Bounded {
    file: File,
    pos: u64,
    pub limit: u64,
}

impl Bounded {
    pub(super) fn new(file: File) -> Bounded {
        Bounded {
            file,
            pos: 0,
            limit: 0,
        }
    }
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let room = self.limit.saturating_sub(self.pos).min(buf.len() as u64) as usize;
        if room == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..room], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Bounded {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.limit.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        Ok(self.pos)
    }
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
    /// The tail holds whole entries that fail this segment's checksum: the file
    /// was recycled, and the tail is an older segment's entries, not damage.
    pub recycled: bool,
}

/// Scans a whole segment file of segment `segment` from `start`.
pub(super) fn scan(file: &mut File, segment: u64, start: u64) -> std::io::Result<Scan> {
    let len = file.metadata()?.len();
    let mut s = Scan {
        valid_end: start,
        ..Scan::default()
    };
    // (offset, bytes, whole) of every region that was not an entry.
    let mut bad: Vec<(u64, u64, bool)> = Vec::new();
    let mut at = start;
    while at < len {
        match read_at(file, segment, at, len)? {
            Found::Entry { entry, end } => {
                s.entries += 1;
                s.records += u64::from(entry.records);
                s.valid_end = end;
                at = end;
            }
            Found::Corrupt { resume, whole } => {
                bad.push((at, resume - at, whole));
                at = resume;
            }
            // Too short for a whole entry: a torn tail, unless a valid entry
            // follows (a damaged length field then claimed bytes past the end).
            Found::Short => match next_entry(file, segment, at + 1, len)? {
                Some(next) => {
                    bad.push((at, next - at, false));
                    at = next;
                }
                None => break,
            },
        }
    }
    s.torn_tail = len - s.valid_end;
    // What lies after the last valid entry is the tail, however it looks.
    let tail_entries = bad.iter().filter(|b| b.0 >= s.valid_end && b.2).count();
    // A crash tears at most the entry being written; two whole entries that fail
    // the checksum after the last good one are what the file held before.
    s.recycled = tail_entries >= 2;
    s.corrupt = bad
        .into_iter()
        .filter(|b| b.0 < s.valid_end)
        .map(|b| (b.0, b.1))
        .collect();
    Ok(s)
}
