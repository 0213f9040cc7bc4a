//! Turning wire timestamps into instants: time zones and the year of RFC 3164 dates.

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp as Instant;
use syslane_syslog::Timestamp;

/// How far ahead of the receive time a year-less date may be and still be this
/// year's (or, around new year, next year's): 31 days, for senders whose clocks run
/// ahead. Anything further ahead is last year's.
pub const YEAR_AHEAD_WINDOW_NS: i64 = 31 * 86_400 * 1_000_000_000;

/// The time zone for zone-less timestamps.
#[derive(Clone)]
pub struct Clock {
    zone: TimeZone,
}

fn parse_offset(spec: &str) -> Option<Offset> {
    let (sign, rest) = match spec.as_bytes().first()? {
        b'+' => (1, &spec[1..]),
        b'-' => (-1, &spec[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    if h > 23 || m > 59 {
        return None;
    }
    Offset::from_seconds(sign * (h * 3600 + m * 60)).ok()
}

impl Clock {
    /// `local`, `UTC`, an IANA zone name, or a fixed offset such as `+05:00`.
    pub fn new(spec: &str) -> Result<Clock, String> {
        let zone = match spec {
            "local" => TimeZone::try_system().unwrap_or(TimeZone::UTC),
            "UTC" | "utc" | "Z" => TimeZone::UTC,
            s => match parse_offset(s) {
                Some(offset) => TimeZone::fixed(offset),
                None => TimeZone::get(s).map_err(|e| {
                    format!("timezone `{s}` is not known ({e}); use `local`, `UTC`, an IANA name such as `Europe/Paris`, or an offset such as `+05:00`")
                })?,
            },
        };
        Ok(Clock { zone })
    }

    fn civil(ts: &Timestamp, year: i16) -> Option<DateTime> {
        DateTime::new(
            year,
            ts.month as i8,
            ts.day as i8,
            ts.hour as i8,
            ts.minute as i8,
            ts.second.min(59) as i8,
            ts.nanosecond as i32,
        )
        .ok()
    }

    fn resolve(&self, ts: &Timestamp, year: i16) -> Option<Instant> {
        let dt = Clock::civil(ts, year)?;
        match ts.offset_secs {
            Some(secs) => Offset::from_seconds(secs).ok()?.to_timestamp(dt).ok(),
            None => self.zone.to_ambiguous_timestamp(dt).compatible().ok(),
        }
    }

    /// The instant of `ts` in ns since the epoch. A missing year leans to the past, as
    /// rsyslog and syslog-ng infer it: the latest year that puts the date no more than
    /// [`YEAR_AHEAD_WINDOW_NS`] after `receive_time_ns` (a December date received in
    /// January is last year's; a January date received on December 31 is next year's;
    /// a January date received in late November is this year's, not next year's).
    /// `None` for dates that do not exist.
    pub fn instant_ns(&self, ts: &Timestamp, receive_time_ns: i64) -> Option<i64> {
        let instant = match ts.year {
            Some(year) => self.resolve(ts, year)?,
            None => {
                let received = Instant::from_nanosecond(i128::from(receive_time_ns)).ok()?;
                let year = self.zone.to_datetime(received).year();
                let latest = received.as_nanosecond() + i128::from(YEAR_AHEAD_WINDOW_NS);
                // Feb 29 exists one year in four: look back far enough to find one.
                [year + 1, year, year - 1, year - 2, year - 3, year - 4]
                    .into_iter()
                    .filter_map(|y| self.resolve(ts, y))
                    .find(|t| t.as_nanosecond() <= latest)?
            }
        };
        i64::try_from(instant.as_nanosecond()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &[u8]) -> Timestamp {
        Timestamp::parse_bsd(text)
            .or_else(|| Timestamp::parse_rfc3339(text))
            .unwrap()
            .0
    }

    fn ns(rfc3339: &str) -> i64 {
        rfc3339.parse::<Instant>().unwrap().as_nanosecond() as i64
    }

    #[test]
    fn year_less_dates_lean_to_the_past() {
        let utc = Clock::new("UTC").unwrap();
        let year = |stamp: &[u8], received: &str| {
            let got = utc.instant_ns(&ts(stamp), ns(received)).unwrap();
            TimeZone::UTC
                .to_datetime(Instant::from_nanosecond(i128::from(got)).unwrap())
                .year()
        };
        // Received just after new year: a December date belongs to last year.
        assert_eq!(year(b"Dec 31 23:59:50", "2025-01-01T00:00:05Z"), 2024);
        // Received on Dec 31: a Jan 1 date (sender clock ahead) is next year.
        assert_eq!(year(b"Jan  1 00:00:01", "2024-12-31T23:59:59Z"), 2025);
        // A device whose clock says Jan 1 in late November: this year, not next.
        assert_eq!(year(b"Jan  1 00:00:00", "2026-11-25T10:00:00Z"), 2026);
        // Up to a month ahead is this year; more is last year.
        assert_eq!(year(b"Apr 20 10:00:00", "2026-03-25T10:00:00Z"), 2026);
        assert_eq!(year(b"May  2 10:00:00", "2026-03-25T10:00:00Z"), 2025);
        // Today and the past of this year stay this year.
        assert_eq!(year(b"Mar 25 09:00:00", "2026-03-25T10:00:00Z"), 2026);
        assert_eq!(year(b"Jan 10 09:00:00", "2026-03-25T10:00:00Z"), 2026);
        // Feb 29 goes back to the last leap year.
        assert_eq!(year(b"Feb 29 12:00:00", "2027-03-01T00:00:00Z"), 2024);
    }

    #[test]
    fn zone_less_dates_use_the_configured_zone() {
        let paris = Clock::new("+01:00").unwrap();
        let got = paris.instant_ns(&ts(b"Jan  5 15:33:03"), ns("2020-01-05T15:00:00Z"));
        assert_eq!(got, Some(ns("2020-01-05T14:33:03Z")));
    }

    #[test]
    fn explicit_offsets_win() {
        let clock = Clock::new("+05:00").unwrap();
        let got = clock.instant_ns(&ts(b"2003-08-24T05:14:15.000003-07:00"), 0);
        assert_eq!(got, Some(ns("2003-08-24T12:14:15.000003Z")));
    }

    #[test]
    fn impossible_dates_have_no_instant() {
        let utc = Clock::new("UTC").unwrap();
        assert_eq!(
            utc.instant_ns(&ts(b"Feb 31 10:00:00"), ns("2024-03-01T00:00:00Z")),
            None
        );
    }

    #[test]
    fn unknown_zone_is_a_clear_error() {
        let err = Clock::new("Mars/Olympus").err().unwrap();
        assert!(
            err.contains("Mars/Olympus") && err.contains("Europe/Paris"),
            "{err}"
        );
    }
}
