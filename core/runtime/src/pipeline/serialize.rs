//! Records to JSON lines, with the column names of their table: Syslog, or
//! CommonSecurityLog for records a CEF decoder marked `Table::Security`.
//!
//! Written by hand over bytes (no intermediate values) because it runs once per
//! record: strings are escaped in runs, invalid UTF-8 is replaced, and timestamps
//! that repeat (records of one read share their receive time) are formatted once.

use super::batch::{Rec, RecordBatch};
use syslane_abi::*;
use syslane_syslog::{FACILITY_NAMES, SEVERITY_NAMES};

/// Per byte: 0 = copy, otherwise the character after the backslash (`u` = \u00XX).
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[0x08] = b'b';
    t[0x0c] = b'f';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Whether any byte of `w` needs a look of its own: a control character, `"`,
/// `\\`, or a byte of a multi-byte UTF-8 sequence (which must be validated). Eight
/// bytes at a time, so plain ASCII runs are skipped without a per-byte lookup.
#[inline]
fn needs_look(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = w.wrapping_sub(ONES * 0x20);
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    // A byte's high bit ends up set for a byte below 0x20 or equal to '"' or '\\'
    // (bytes above 0x7f are caught by `w` itself).
    let hit = (control & !w)
        | (quote.wrapping_sub(ONES) & !quote)
        | (backslash.wrapping_sub(ONES) & !backslash);
    (hit | w) & HIGH != 0
}

/// Escapes `s` into `out`; `false` (with part of it written) when `s` is not
/// valid UTF-8. The bytes before the first non-ASCII one are ASCII, so that is
/// where validation starts, once.
fn escape_checked(out: &mut Vec<u8>, s: &[u8]) -> bool {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut validated = false;
    let mut start = 0;
    let mut i = 0;
    while i < s.len() {
        // Eight bytes, or the last few padded with spaces (which need no look),
        // so short strings and tails skip the byte loop too.
        let take = (s.len() - i).min(8);
        let mut word = [b' '; 8];
        word[..take].copy_from_slice(&s[i..i + take]);
        if !needs_look(u64::from_le_bytes(word)) {
            i += take;
            continue;
        }
        let end = (i + 8).min(s.len());
        if !validated && !s[i..end].is_ascii() {
            if std::str::from_utf8(&s[i..]).is_err() {
                return false;
            }
            validated = true;
        }
        for (k, &c) in s[i..end].iter().enumerate() {
            let e = ESCAPE[c as usize];
            if e == 0 {
                continue;
            }
            out.extend_from_slice(&s[start..i + k]);
            if e == b'u' {
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(c >> 4) as usize],
                    HEX[(c & 15) as usize],
                ]);
            } else {
                out.extend_from_slice(&[b'\\', e]);
            }
            start = i + k + 1;
        }
        i = end;
    }
    out.extend_from_slice(&s[start..]);
    true
}

/// How far before its receive time a record's own time may be and still be its
/// TimeGenerated. Log Analytics documents that "the TimeGenerated value cannot be
/// older than 2 days before received time or more than a day in the future" and is
/// otherwise replaced with the time the service received the record ("Standard
/// columns in Azure Monitor Logs", TimeGenerated:
/// <https://learn.microsoft.com/en-us/azure/azure-monitor/logs/log-standard-columns#timegenerated>).
/// The agent applies the same window itself, against its own receive time.
pub(crate) const TIME_GENERATED_PAST_NS: i64 = 2 * 86_400 * 1_000_000_000;
/// How far after its receive time a record's own time may be (see above).
pub(crate) const TIME_GENERATED_FUTURE_NS: i64 = 86_400 * 1_000_000_000;

/// A record's TimeGenerated and whether its own time was outside the window the
/// service accepts: the message's time when it has one within 2 days before and 1 day
/// after the receive time, else the receive time.
pub(crate) fn time_generated(r: &Rec) -> (i64, bool) {
    if r.event_time_ns == SL_TIME_NONE {
        return (r.receive_time_ns, false);
    }
    let earliest = r.receive_time_ns.saturating_sub(TIME_GENERATED_PAST_NS);
    let latest = r.receive_time_ns.saturating_add(TIME_GENERATED_FUTURE_NS);
    if (earliest..=latest).contains(&r.event_time_ns) {
        (r.event_time_ns, false)
    } else {
        (r.receive_time_ns, true)
    }
}

/// Writes `s` as a JSON string; invalid UTF-8 becomes U+FFFD. One pass over
/// ASCII (the common case); a string with other bytes is validated once.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    let mark = out.len();
    if !escape_checked(out, s) {
        out.truncate(mark);
        escape_checked(out, String::from_utf8_lossy(s).as_bytes());
    }
    out.push(b'"');
}

fn is_json_number(v: &[u8]) -> bool {
    !v.is_empty() && serde_json::from_slice::<serde_json::Number>(v).is_ok()
}

/// A pid-like value: 1 to 18 ASCII digits.
fn as_integer(v: &[u8]) -> Option<&[u8]> {
    (!v.is_empty() && v.len() <= 18 && v.iter().all(u8::is_ascii_digit)).then_some(v)
}

/// Formats records; one per worker, it keeps its own time cache.
pub(crate) struct Serializer {
    /// This host's name, already a JSON string.
    host_name_json: Vec<u8>,
    /// Two days (since the epoch) and their dates, `"YYYY-MM-DDT`: a record's
    /// TimeGenerated and EventTime can fall on different days (a message older
    /// than the window, or either side of midnight), and one slot would then
    /// format both dates for every record. `next_slot` is the one replaced next.
    dates: [(i64, Vec<u8>); 2],
    next_slot: usize,
}

impl Serializer {
    pub(crate) fn new(host_name: &str) -> Serializer {
        let mut host_name_json = Vec::new();
        write_str(&mut host_name_json, host_name.as_bytes());
        Serializer {
            host_name_json,
            dates: [(i64::MIN, Vec::new()), (i64::MIN, Vec::new())],
            next_slot: 0,
        }
    }

    /// Writes `ns` as a quoted RFC 3339 UTC time, as jiff prints it (the fraction
    /// without trailing zeros). jiff formats the date once per day; the time of day
    /// is arithmetic, so records with times all over the day cost no calendar work.
    fn write_time(&mut self, out: &mut Vec<u8>, ns: i64) {
        const NS_PER_DAY: i64 = 86_400 * 1_000_000_000;
        let day = ns.div_euclid(NS_PER_DAY);
        let slot = match self.dates.iter().position(|(d, _)| *d == day) {
            Some(i) => i,
            None => {
                let i = self.next_slot;
                self.next_slot = 1 - i;
                let (cached_day, date) = &mut self.dates[i];
                date.clear();
                date.push(b'"');
                match jiff::Timestamp::from_nanosecond(i128::from(day) * i128::from(NS_PER_DAY)) {
                    Ok(t) => {
                        let text = t.to_string();
                        let ymd = text.split('T').next().unwrap_or("1970-01-01");
                        date.extend_from_slice(ymd.as_bytes());
                    }
                    Err(_) => date.extend_from_slice(b"1970-01-01"),
                }
                date.push(b'T');
                *cached_day = day;
                i
            }
        };
        out.extend_from_slice(&self.dates[slot].1);
        let in_day = ns.rem_euclid(NS_PER_DAY);
        let secs = in_day / 1_000_000_000;
        let two = |out: &mut Vec<u8>, v: i64| {
            out.extend_from_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8])
        };
        two(out, secs / 3600);
        out.push(b':');
        two(out, secs / 60 % 60);
        out.push(b':');
        two(out, secs % 60);
        let mut frac = in_day % 1_000_000_000;
        if frac != 0 {
            let mut digits = 9;
            while frac % 10 == 0 {
                frac /= 10;
                digits -= 1;
            }
            out.push(b'.');
            let at = out.len();
            out.resize(at + digits, b'0');
            for d in out[at..].iter_mut().rev() {
                *d = b'0' + (frac % 10) as u8;
                frac /= 10;
            }
        }
        out.extend_from_slice(b"Z\"");
    }

    fn key(out: &mut Vec<u8>, key: &str) {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
    }

    fn opt(out: &mut Vec<u8>, key: &str, value: Option<&[u8]>) {
        Serializer::key(out, key);
        match value {
            Some(v) => write_str(out, v),
            None => out.extend_from_slice(b"null"),
        }
    }

    /// Computer: the record's HostName (which `decode` always sets), else (a
    /// filter removed it) this host.
    fn computer(&self, out: &mut Vec<u8>, host_name: Option<&[u8]>) {
        Serializer::key(out, "Computer");
        match host_name {
            Some(h) => write_str(out, h),
            None => out.extend_from_slice(&self.host_name_json),
        }
    }

    /// Extra fields as columns; typed values are written raw only when valid.
    fn write_fields(b: &RecordBatch, r: &Rec, out: &mut Vec<u8>) {
        for f in b.fields_of(r) {
            out.push(b',');
            write_str(out, b.arena.get(f.name));
            out.push(b':');
            let v = b.arena.get(f.value);
            let raw = match f.kind {
                SL_VALUE_INT | SL_VALUE_FLOAT => is_json_number(v),
                SL_VALUE_BOOL => v == b"true" || v == b"false",
                SL_VALUE_JSON => serde_json::from_slice::<serde::de::IgnoredAny>(v).is_ok(),
                _ => false,
            };
            if raw {
                out.extend_from_slice(v);
            } else {
                write_str(out, v);
            }
        }
    }

    /// A CommonSecurityLog record: the decoder put the CEF columns in the fields.
    fn write_security(&mut self, b: &RecordBatch, r: &Rec, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"TimeGenerated\":");
        self.write_time(out, time_generated(r).0);
        self.computer(out, b.arena.get_opt(r.host_name));
        Serializer::key(out, "CollectorHostName");
        out.extend_from_slice(&self.host_name_json);
        Serializer::write_fields(b, r, out);
        out.extend_from_slice(b"}\n");
    }

    /// Appends one record as a JSON object and a newline.
    pub(crate) fn write_record(&mut self, b: &RecordBatch, r: &Rec, out: &mut Vec<u8>) {
        if r.table == Table::Security {
            return self.write_security(b, r, out);
        }
        let event = (r.event_time_ns != SL_TIME_NONE).then_some(r.event_time_ns);
        out.extend_from_slice(b"{\"TimeGenerated\":");
        self.write_time(out, time_generated(r).0);
        Serializer::key(out, "EventTime");
        match event {
            Some(ns) => self.write_time(out, ns),
            None => out.extend_from_slice(b"null"),
        }
        let host_ip = b.arena.get_opt(r.host_ip);
        let host_name = b.arena.get_opt(r.host_name);
        self.computer(out, host_name);
        Serializer::opt(out, "HostName", host_name);
        Serializer::opt(out, "HostIP", host_ip);
        Serializer::key(out, "Facility");
        write_str(
            out,
            FACILITY_NAMES
                .get(usize::from(r.facility))
                .unwrap_or(&"user")
                .as_bytes(),
        );
        Serializer::key(out, "SeverityLevel");
        write_str(
            out,
            SEVERITY_NAMES
                .get(usize::from(r.severity))
                .unwrap_or(&"notice")
                .as_bytes(),
        );
        Serializer::opt(out, "ProcessName", b.arena.get_opt(r.process_name));
        Serializer::key(out, "ProcessID");
        let proc_id = b.arena.get_opt(r.proc_id);
        match proc_id.and_then(as_integer) {
            Some(pid) => out.extend_from_slice(pid),
            None => out.extend_from_slice(b"null"),
        }
        Serializer::key(out, "SyslogMessage");
        write_str(out, b.arena.get_opt(r.message).unwrap_or(b""));
        out.extend_from_slice(b",\"SourceSystem\":\"Linux\",\"CollectorHostName\":");
        out.extend_from_slice(&self.host_name_json);
        if let Some(id) = b.arena.get_opt(r.msg_id) {
            Serializer::opt(out, "MsgId", Some(id));
        }
        if let (Some(p), None) = (proc_id, proc_id.and_then(as_integer)) {
            Serializer::opt(out, "ProcId", Some(p));
        }
        if let Some(sd) = b.arena.get_opt(r.structured_data) {
            Serializer::opt(out, "StructuredData", Some(sd));
        }
        if r.flags & SL_RECORD_PARSE_FAILED != 0 {
            out.extend_from_slice(b",\"ParseFailed\":true");
        }
        if r.flags & SL_RECORD_TRUNCATED != 0 {
            out.extend_from_slice(b",\"Truncated\":true");
        }
        Serializer::write_fields(b, r, out);
        out.extend_from_slice(b"}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn times_are_written_as_jiff_prints_them() {
        let mut s = Serializer::new("h");
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut cases = vec![
            0i64,
            1,
            -1,
            999_999_999,
            1_000_000_000,
            -86_400 * 1_000_000_000,
            i64::MAX,
            i64::MIN,
            1_700_000_000_123_000_000,
            1_700_000_000_000_000_010,
        ];
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // Mostly around now, some anywhere; fractions of every length.
            let ns = if seed % 4 == 0 {
                seed as i64
            } else {
                1_764_000_000_000_000_000 + (seed % 400_000_000_000_000_000) as i64
            };
            cases.push(ns - ns % 10i64.pow((seed % 10) as u32));
        }
        for ns in cases {
            let mut out = Vec::new();
            s.write_time(&mut out, ns);
            let want = format!(
                "\"{}\"",
                jiff::Timestamp::from_nanosecond(i128::from(ns)).unwrap()
            );
            assert_eq!(String::from_utf8(out).unwrap(), want, "{ns}");
        }
    }

    #[test]
    fn strings_are_escaped_in_every_position_and_invalid_utf8_replaced() {
        let specials: [&[u8]; 9] = [
            b"\"",
            b"\\",
            b"\n",
            b"\x01",
            b"\x1f",
            "é".as_bytes(),
            "€".as_bytes(),
            b"\xff",
            b"\x7f",
        ];
        for len in 0..20 {
            for at in 0..=len {
                for sp in specials {
                    let mut input = vec![b'a'; len];
                    input.splice(at..at, sp.iter().copied());
                    let mut out = Vec::new();
                    write_str(&mut out, &input);
                    let want = serde_json::to_string(&String::from_utf8_lossy(&input)).unwrap();
                    assert_eq!(String::from_utf8(out).unwrap(), want, "{input:?}");
                }
            }
        }
    }

    fn one(build: impl FnOnce(&mut RecordBatch) -> Rec) -> Value {
        let mut b = RecordBatch::default();
        let r = build(&mut b);
        let mut out = Vec::new();
        Serializer::new("collector").write_record(&b, &r, &mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn syslog_columns() {
        let v = one(|b| Rec {
            facility: 4,
            severity: 3,
            event_time_ns: 1_700_000_000_123_000_000,
            receive_time_ns: 1_700_000_001_000_000_000,
            host_name: b.arena.put_opt(Some(b"web1")),
            host_ip: b.arena.put_opt(Some(b"192.0.2.7")),
            process_name: b.arena.put_opt(Some(b"sshd")),
            proc_id: b.arena.put_opt(Some(b"42")),
            message: b.arena.put_opt(Some(b"line \"quoted\"\n\x01\xff")),
            ..Rec::default()
        });
        assert_eq!(v["TimeGenerated"], "2023-11-14T22:13:20.123Z");
        assert_eq!(v["EventTime"], "2023-11-14T22:13:20.123Z");
        assert_eq!(v["Computer"], "web1");
        assert_eq!(v["HostIP"], "192.0.2.7");
        assert_eq!(v["Facility"], "auth");
        assert_eq!(v["SeverityLevel"], "err");
        assert_eq!(v["ProcessID"], 42);
        assert_eq!(v["SyslogMessage"], "line \"quoted\"\n\u{1}\u{fffd}");
        assert_eq!(v["SourceSystem"], "Linux");
        assert_eq!(v["CollectorHostName"], "collector");
    }

    #[test]
    fn time_generated_stays_within_what_the_service_accepts() {
        const DAY: i64 = 86_400 * 1_000_000_000;
        let received = 1_800_000_000_000_000_000; // 2027-01-15T08:00:00Z
        let at = |event: i64, table: Table| {
            let r = Rec {
                table,
                event_time_ns: event,
                receive_time_ns: received,
                ..Rec::default()
            };
            let v = one(|_| r);
            (
                v["TimeGenerated"].clone(),
                v["EventTime"].clone(),
                time_generated(&r).1,
            )
        };
        let t = |ns: i64| {
            Value::from(
                jiff::Timestamp::from_nanosecond(i128::from(ns))
                    .unwrap()
                    .to_string(),
            )
        };
        // Inside the window, at both edges: the message's own time.
        for event in [received - 2 * DAY, received - DAY, received, received + DAY] {
            assert_eq!(at(event, Table::Syslog), (t(event), t(event), false));
        }
        // Outside: the receive time, with EventTime keeping the message's time.
        for event in [
            received - 2 * DAY - 1_000_000,
            received + DAY + 1_000_000,
            0,
        ] {
            assert_eq!(at(event, Table::Syslog), (t(received), t(event), true));
        }
        // CommonSecurityLog records follow the same policy.
        let (generated, _, out) = at(received - 30 * DAY, Table::Security);
        assert_eq!((generated, out), (t(received), true));
        // No time of its own: the receive time, and not counted.
        assert_eq!(
            at(SL_TIME_NONE, Table::Syslog),
            (t(received), Value::Null, false)
        );
    }

    #[test]
    fn missing_times_and_ids_and_a_host_name_a_filter_removed() {
        let v = one(|b| Rec {
            event_time_ns: SL_TIME_NONE,
            receive_time_ns: 0,
            host_ip: b.arena.put_opt(Some(b"10.1.1.1")),
            proc_id: b.arena.put_opt(Some(b"abc")),
            ..Rec::default()
        });
        // `decode` always sets HostName; without one, Computer is this host.
        assert_eq!(v["HostName"], Value::Null);
        assert_eq!(v["Computer"], "collector");
        assert_eq!(v["HostIP"], "10.1.1.1");
        assert_eq!(v["EventTime"], Value::Null);
        assert_eq!(v["TimeGenerated"], "1970-01-01T00:00:00Z");
        assert_eq!(v["ProcessID"], Value::Null);
        assert_eq!(v["ProcId"], "abc");
    }

    #[test]
    fn security_records_get_common_security_log_columns_only() {
        let v = one(|b| {
            let start = b.fields.len() as u32;
            b.push_field(b"DeviceVendor", b"Acme", SL_VALUE_STRING);
            b.push_field(b"SourcePort", b"443", SL_VALUE_INT);
            Rec {
                table: Table::Security,
                event_time_ns: SL_TIME_NONE,
                receive_time_ns: 1_700_000_000_000_000_000,
                host_name: b.arena.put_opt(Some(b"fw01")),
                message: b.arena.put_opt(Some(b"CEF:0|Acme|...")),
                fields: (start, 2),
                ..Rec::default()
            }
        });
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "CollectorHostName",
                "Computer",
                "DeviceVendor",
                "SourcePort",
                "TimeGenerated"
            ]
        );
        assert_eq!(v["Computer"], "fw01");
        assert_eq!(v["SourcePort"], 443);
    }

    #[test]
    fn typed_extras_are_checked() {
        let v = one(|b| {
            let start = b.fields.len() as u32;
            b.push_field(b"n", b"12", SL_VALUE_INT);
            b.push_field(b"bad", b"12x", SL_VALUE_INT);
            b.push_field(b"j", b"{\"a\":[1]}", SL_VALUE_JSON);
            b.push_field(b"flag", b"true", SL_VALUE_BOOL);
            Rec {
                fields: (start, 4),
                ..Rec::default()
            }
        });
        assert_eq!(v["n"], 12);
        assert_eq!(v["bad"], "12x");
        assert_eq!(v["j"]["a"][0], 1);
        assert_eq!(v["flag"], true);
    }
}
