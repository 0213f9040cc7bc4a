//! Timestamps as they appear on the wire: RFC 3339 (RFC 5424) and the BSD
//! `Mmm dd hh:mm:ss` of RFC 3164. Only fields are read here; turning them into
//! an instant needs a time zone and a year policy, which are the caller's.

/// A timestamp's fields. `year` is `None` for BSD stamps, `offset_secs` is `None`
/// when the stamp carried no zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp {
    pub year: Option<i16>,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub nanosecond: u32,
    pub offset_secs: Option<i32>,
}

fn digits<const N: usize>(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + N)?;
    s.iter().try_fold(0u32, |acc, d| {
        d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
    })
}

/// Reads `.fffffffff`; returns (nanoseconds, bytes consumed). Digits past the ninth are ignored.
fn fraction(b: &[u8], at: usize) -> (u32, usize) {
    if b.get(at) != Some(&b'.') {
        return (0, 0);
    }
    let n = b[at + 1..]
        .iter()
        .take_while(|d| d.is_ascii_digit())
        .count();
    if n == 0 {
        return (0, 0);
    }
    let mut nanos = 0u32;
    for i in 0..9 {
        let d = if i < n {
            u32::from(b[at + 1 + i] - b'0')
        } else {
            0
        };
        nanos = nanos * 10 + d;
    }
    (nanos, n + 1)
}

/// One or two spaces at `at` (senders pad with an extra one); their count.
fn spaces_between(b: &[u8], at: usize) -> Option<usize> {
    let n = b
        .get(at..)?
        .iter()
        .take(3)
        .take_while(|c| **c == b' ')
        .count();
    (1..=2).contains(&n).then_some(n)
}

/// A timestamp from its fields, when they are in range (`[month, day, hour, minute, second]`).
fn build(
    year: Option<i16>,
    [month, day, hour, minute, second]: [u32; 5],
    nanosecond: u32,
    offset_secs: Option<i32>,
) -> Option<Timestamp> {
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour < 24
        && minute < 60
        && second <= 60;
    valid.then_some(Timestamp {
        year,
        month: month as u8,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        nanosecond,
        offset_secs,
    })
}

impl Timestamp {
    /// Reads an RFC 3339 timestamp at the start of `b`: `YYYY-MM-DDThh:mm:ss[.f](Z|±hh:mm)`.
    /// Returns the timestamp and the bytes consumed.
    pub fn parse_rfc3339(b: &[u8]) -> Option<(Timestamp, usize)> {
        let year = digits::<4>(b, 0)?;
        let month = digits::<2>(b, 5)?;
        let day = digits::<2>(b, 8)?;
        let hour = digits::<2>(b, 11)?;
        let minute = digits::<2>(b, 14)?;
        let second = digits::<2>(b, 17)?;
        if b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let (nanosecond, flen) = fraction(b, 19);
        let at = 19 + flen;
        let (offset, olen) = match b.get(at)? {
            b'Z' | b'z' => (0i32, 1),
            sign @ (b'+' | b'-') => {
                let oh = digits::<2>(b, at + 1)?;
                let om = digits::<2>(b, at + 4)?;
                if b.get(at + 3) != Some(&b':') || oh > 23 || om > 59 {
                    return None;
                }
                let secs = (oh * 3600 + om * 60) as i32;
                (if *sign == b'-' { -secs } else { secs }, 6)
            }
            _ => return None,
        };
        let ts = build(
            Some(year as i16),
            [month, day, hour, minute, second],
            nanosecond,
            Some(offset),
        )?;
        Some((ts, at + olen))
    }

    /// Reads an ISO 8601 date and time as devices write it in BSD headers: a `T` or a
    /// space between date and time, an optional fraction, and an optional zone (`Z`,
    /// `+hh:mm`, `+hhmm` or `+hh`); without a zone `offset_secs` is `None`.
    pub fn parse_iso8601(b: &[u8]) -> Option<(Timestamp, usize)> {
        let year = digits::<4>(b, 0)?;
        let month = digits::<2>(b, 5)?;
        let day = digits::<2>(b, 8)?;
        let hour = digits::<2>(b, 11)?;
        let minute = digits::<2>(b, 14)?;
        let second = digits::<2>(b, 17)?;
        if b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't' | b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let (nanosecond, flen) = fraction(b, 19);
        let at = 19 + flen;
        let (offset, olen) = match b.get(at) {
            Some(b'Z' | b'z') => (Some(0i32), 1),
            Some(sign @ (b'+' | b'-')) => {
                let oh = digits::<2>(b, at + 1)?;
                let (om, len) = match (
                    b.get(at + 3),
                    digits::<2>(b, at + 4),
                    digits::<2>(b, at + 3),
                ) {
                    (Some(b':'), Some(m), _) => (m, 6),
                    (_, _, Some(m)) => (m, 5),
                    _ => (0, 3),
                };
                if oh > 23 || om > 59 {
                    return None;
                }
                let secs = (oh * 3600 + om * 60) as i32;
                (Some(if *sign == b'-' { -secs } else { secs }), len)
            }
            _ => (None, 0),
        };
        let ts = build(
            Some(year as i16),
            [month, day, hour, minute, second],
            nanosecond,
            offset,
        )?;
        Some((ts, at + olen))
    }

    /// Reads a BSD timestamp at the start of `b`: `Mmm dd hh:mm:ss`, where the day may be
    /// space-padded or a single digit, optionally with a year before the time
    /// (`Mmm dd yyyy hh:mm:ss`, as Cisco sends) and a fraction after the seconds.
    pub fn parse_bsd(b: &[u8]) -> Option<(Timestamp, usize)> {
        const MONTHS: [&[u8; 3]; 12] = [
            b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
            b"Dec",
        ];
        let name = b.get(..3)?;
        let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(name))? as u32 + 1;
        let mut at = 3;
        let spaces = b[at..].iter().take_while(|c| **c == b' ').count();
        if spaces == 0 || spaces > 2 {
            return None;
        }
        at += spaces;
        let day_len = b[at..]
            .iter()
            .take(3)
            .take_while(|c| c.is_ascii_digit())
            .count();
        if day_len == 0 || day_len > 2 {
            return None;
        }
        let day = b[at..at + day_len]
            .iter()
            .fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
        at += day_len;
        at += spaces_between(b, at)?;
        let mut year = None;
        if let (Some(y), Some(b' ')) = (digits::<4>(b, at), b.get(at + 4)) {
            year = Some(y as i16);
            at += 4;
            at += spaces_between(b, at)?;
        }
        let hour = digits::<2>(b, at)?;
        let minute = digits::<2>(b, at + 3)?;
        let second = digits::<2>(b, at + 6)?;
        if b[at + 2] != b':' || b[at + 5] != b':' {
            return None;
        }
        at += 8;
        let (nanosecond, flen) = fraction(b, at);
        at += flen;
        let ts = build(year, [month, day, hour, minute, second], nanosecond, None)?;
        Some((ts, at))
    }
}
