//! Request bodies cut straight from a batch: the batch is JSON lines, a request is
//! a JSON array of some of them. A part of the batch is a byte range that starts
//! at a line and ends after a newline (or at the end of the batch), so a body is
//! the range with `[` before it, its newlines turned into commas and the last one
//! into `]`: one copy, no per-line bookkeeping. Empty lines are skipped.

use std::ops::Range;

/// How a batch is cut into requests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Byte ranges, in order, each within the request limit as a JSON array.
    pub parts: Vec<Range<usize>>,
    /// Lines that could never fit a request (without their newline).
    pub oversized: Vec<Range<usize>>,
}

/// The size of the JSON array holding the lines of `part` (at most; empty lines
/// make it smaller): each line's newline becomes a comma or the closing bracket,
/// and the opening bracket is one more byte. A part without a final newline
/// needs one byte more for the bracket.
fn array_bound(data: &[u8], part: &Range<usize>) -> usize {
    let ends_with_newline = part.end > part.start && data[part.end - 1] == b'\n';
    part.len() + 1 + usize::from(!ends_with_newline)
}

/// Cuts `data` into parts whose arrays stay within `limit` bytes.
pub fn plan(data: &[u8], limit: usize) -> Plan {
    let mut plan = Plan::default();
    let mut at = 0;
    while at < data.len() {
        if data[at] == b'\n' {
            at += 1;
            continue;
        }
        // The longest part from `at`: its last byte may be at `at + limit - 2`
        // (`limit - 1` bytes and the opening bracket).
        let window_end = at.saturating_add(limit.saturating_sub(1)).min(data.len());
        if window_end == data.len() && array_bound(data, &(at..data.len())) <= limit {
            plan.parts.push(at..data.len());
            break;
        }
        match memchr::memrchr(b'\n', &data[at..window_end]) {
            Some(i) => {
                plan.parts.push(at..at + i + 1);
                at += i + 1;
            }
            None => {
                // The line at `at` alone is over the limit.
                let end = memchr::memchr(b'\n', &data[at..]).map_or(data.len(), |i| at + i);
                plan.oversized.push(at..end);
                at = end + 1;
            }
        }
    }
    plan
}

/// Halves a part that was too large at the line boundary nearest its middle;
/// `None` when it holds a single line.
pub fn halve(data: &[u8], part: &Range<usize>) -> Option<(Range<usize>, Range<usize>)> {
    let bytes = &data[part.clone()];
    // Ignore the part's own final newline: a cut there leaves nothing after it.
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let mid = body.len() / 2;
    let before = memchr::memrchr(b'\n', &body[..mid]);
    let after = memchr::memchr(b'\n', &body[mid..]).map(|i| mid + i);
    let cut = match (before, after) {
        (Some(b), Some(a)) => {
            if mid - b <= a - mid {
                b
            } else {
                a
            }
        }
        (b, a) => b.or(a)?,
    };
    let split = part.start + cut + 1;
    Some((part.start..split, split..part.end))
}

/// Writes the lines of `lines` into `out` as a JSON array; returns how many
/// records it holds.
pub fn json_array_into(out: &mut Vec<u8>, lines: &[u8]) -> usize {
    out.clear();
    out.reserve(lines.len() + 2);
    out.push(b'[');
    let mut records = 0;
    let mut start = 0;
    let mut push = |out: &mut Vec<u8>, line: &[u8]| {
        if !line.is_empty() {
            if records > 0 {
                out.push(b',');
            }
            out.extend_from_slice(line);
            records += 1;
        }
    };
    for i in memchr::memchr_iter(b'\n', lines) {
        push(out, &lines[start..i]);
        start = i + 1;
    }
    push(out, &lines[start..]);
    out.push(b']');
    records
}

/// The number of records (non-empty lines) in `lines`.
pub fn records(lines: &[u8]) -> usize {
    let mut n = 0;
    let mut start = 0;
    for i in memchr::memchr_iter(b'\n', lines) {
        n += usize::from(i > start);
        start = i + 1;
    }
    n + usize::from(start < lines.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(lines: &[String]) -> Vec<u8> {
        let mut data = Vec::new();
        for l in lines {
            data.extend_from_slice(l.as_bytes());
            data.push(b'\n');
        }
        data
    }

    fn array(data: &[u8], part: &Range<usize>) -> Vec<u8> {
        let mut out = Vec::new();
        json_array_into(&mut out, &data[part.clone()]);
        out
    }

    #[test]
    fn parts_stay_within_the_limit_and_keep_every_line_in_order() {
        let mut lines: Vec<String> = (0..500)
            .map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 97)))
            .collect();
        let big = format!("{{\"big\":\"{}\"}}", "y".repeat(5000));
        lines.insert(250, big.clone());
        let data = batch(&lines);
        let plan = plan(&data, 4096);
        assert_eq!(plan.oversized.len(), 1);
        assert_eq!(&data[plan.oversized[0].clone()], big.as_bytes());
        let mut seen = Vec::new();
        for part in &plan.parts {
            let a = array(&data, part);
            assert!(a.len() <= 4096, "{}", a.len());
            let parsed: serde_json::Value = serde_json::from_slice(&a).unwrap();
            let items = parsed.as_array().unwrap();
            assert_eq!(items.len(), records(&data[part.clone()]));
            seen.extend(items.iter().map(|v| v.to_string()));
        }
        lines.remove(250);
        let want: Vec<String> = lines
            .iter()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(seen, want);
        assert!(plan.parts.len() > 5);
    }

    #[test]
    fn a_part_fills_the_limit_exactly() {
        // Two lines of 4 bytes: "[aaaa,bbbb]" is 11 bytes.
        let data = b"aaaa\nbbbb\ncccc\n";
        let p = plan(data, 11);
        assert_eq!(p.parts, [0..10, 10..15]);
        assert_eq!(array(data, &p.parts[0]), b"[aaaa,bbbb]");
        let p = plan(data, 10);
        assert_eq!(p.parts, [0..5, 5..10, 10..15]);
        // A line of 4 needs 6 bytes as an array.
        let p = plan(data, 5);
        assert_eq!(p.parts, Vec::<Range<usize>>::new());
        assert_eq!(p.oversized, [0..4, 5..9, 10..14]);
        let p = plan(data, 6);
        assert_eq!(p.parts, [0..5, 5..10, 10..15]);
        assert!(p.oversized.is_empty());
    }

    #[test]
    fn empty_lines_and_a_missing_final_newline_are_taken() {
        let data = b"\n\n{\"a\":1}\n\n{\"b\":2}";
        let p = plan(data, 1000);
        assert_eq!(
            p.parts,
            vec![Range {
                start: 2,
                end: data.len()
            }]
        );
        assert_eq!(array(data, &p.parts[0]), b"[{\"a\":1},{\"b\":2}]");
        assert_eq!(records(data), 2);
        // The last line without its newline still fits exactly: `[x]`.
        let p = plan(b"abc\nx", 3);
        assert_eq!(p.oversized, vec![Range { start: 0, end: 3 }]);
        assert_eq!(p.parts, vec![Range { start: 4, end: 5 }]);
        assert!(plan(b"", 10).parts.is_empty());
        assert_eq!(array(b"", &(0..0)), b"[]");
    }

    #[test]
    fn halves_cut_at_a_line_near_the_middle() {
        let data = b"aa\nbb\ncc\ndd\n";
        let (a, b) = halve(data, &(0..12)).unwrap();
        assert_eq!((a.clone(), b.clone()), (0..6, 6..12));
        assert_eq!(halve(data, &a), Some((0..3, 3..6)));
        assert_eq!(halve(data, &(0..3)), None);
        assert_eq!(halve(b"only one line", &(0..13)), None);
        // A long first line: the cut comes after it.
        let data = b"aaaaaaaaaaaaaaaaaaaa\nb\n";
        assert_eq!(halve(data, &(0..23)), Some((0..21, 21..23)));
    }
}
