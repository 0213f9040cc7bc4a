//! Which parts of a batch are settled between attempts: pure bookkeeping over
//! ranges of the batch's lines, apart from the requests that settle them.
//!
//! A batch is known by its id and a digest of its bytes (`dead-letter replay` may
//! offer different payloads under one id). Its bytes start in parts of at most
//! one request each (ranges that begin and end at line boundaries); a part's
//! answer settles it (accepted, or refused for good and dead-lettered) or leaves
//! it pending. A 413 splits a part for good, so a retry resends only what was not
//! settled, in pieces the service already took.

use std::ops::Range;
use std::time::Duration;

/// What became of one range of a batch's lines in this attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    Accepted,
    Refused(String),
    Retry(Option<Duration>, String),
}

/// The settled and pending parts of the batch being offered.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Progress {
    batch_id: u64,
    digest: u64,
    len: usize,
    /// Ranges of the batch's bytes, in order, with whether each is settled.
    parts: Vec<(Range<usize>, bool)>,
    /// Records over the request limit were dead-lettered in an earlier attempt.
    pub oversized_settled: bool,
}

/// What one attempt's answers leave to do.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Answered {
    /// Ranges refused for good this time, with the reason: to dead-letter.
    pub refused: Vec<(Range<usize>, String)>,
    /// When some range is to be sent again: the longest delay asked for, and the
    /// first reason given.
    pub retry: Option<(Option<Duration>, String)>,
}

impl Progress {
    /// Takes up batch `batch_id` of `len` bytes with `digest`, whose requests are
    /// `parts`. The same batch offered again keeps what is settled; any other
    /// starts afresh.
    pub fn offer(&mut self, batch_id: u64, digest: u64, len: usize, parts: &[Range<usize>]) {
        if self.batch_id == batch_id && self.digest == digest && self.len == len {
            return;
        }
        *self = Progress {
            batch_id,
            digest,
            len,
            parts: parts.iter().map(|r| (r.clone(), false)).collect(),
            oversized_settled: false,
        };
    }

    /// The ranges still to send, in order.
    pub fn pending(&self) -> Vec<Range<usize>> {
        self.parts
            .iter()
            .filter(|(_, done)| !done)
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// Records the answers to the pending ranges: they replace the ranges they
    /// came from (a 413 turned one into several).
    pub fn answer(&mut self, fates: Vec<(Range<usize>, Fate)>) -> Answered {
        let mut parts: Vec<(Range<usize>, bool)> = self
            .parts
            .iter()
            .filter(|(_, done)| *done)
            .cloned()
            .collect();
        let mut answered = Answered::default();
        for (range, fate) in fates {
            match fate {
                Fate::Accepted => parts.push((range, true)),
                Fate::Refused(reason) => {
                    answered.refused.push((range.clone(), reason));
                    parts.push((range, true));
                }
                Fate::Retry(after, reason) => {
                    let longest = match (&answered.retry, after) {
                        (Some((Some(prev), _)), Some(a)) => Some(a.max(*prev)),
                        (Some((prev, _)), None) => *prev,
                        (_, a) => a,
                    };
                    let reason = answered.retry.take().map(|(_, r)| r).unwrap_or(reason);
                    answered.retry = Some((longest, reason));
                    parts.push((range, false));
                }
            }
        }
        parts.sort_by_key(|(r, _)| r.start);
        self.parts = parts;
        answered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Option<Duration> {
        Some(Duration::from_secs(s))
    }

    /// Offers a batch whose requests hold `sizes` bytes each, back to back.
    fn offer_sizes(p: &mut Progress, batch_id: u64, digest: u64, sizes: &[usize]) {
        let mut parts = Vec::new();
        let mut at = 0;
        for &n in sizes {
            parts.push(at..at + n);
            at += n;
        }
        p.offer(batch_id, digest, at, &parts);
    }

    #[test]
    fn a_new_batch_starts_with_every_request_pending() {
        let mut p = Progress::default();
        offer_sizes(&mut p, 1, 7, &[3, 2, 4]);
        assert_eq!(p.pending(), [0..3, 3..5, 5..9]);
        assert!(!p.pending().is_empty());
    }

    #[test]
    fn a_retry_resends_only_what_was_not_taken() {
        let mut p = Progress::default();
        offer_sizes(&mut p, 1, 7, &[3, 2, 4]);
        let a = p.answer(vec![
            (0..3, Fate::Accepted),
            (3..5, Fate::Retry(secs(5), "HTTP 503".into())),
            (5..9, Fate::Accepted),
        ]);
        assert_eq!(a.retry, Some((secs(5), "HTTP 503".into())));
        assert!(a.refused.is_empty());
        offer_sizes(&mut p, 1, 7, &[3, 2, 4]);
        assert_eq!(p.pending(), vec![Range { start: 3, end: 5 }]);
        let a = p.answer(vec![(3..5, Fate::Accepted)]);
        assert_eq!(a, Answered::default());
        assert!(p.pending().is_empty());
    }

    #[test]
    fn a_413_split_stays_split_across_retries() {
        let mut p = Progress::default();
        offer_sizes(&mut p, 4, 1, &[8]);
        // The request of 8 was too large: its halves answered separately, one of
        // them again split.
        p.answer(vec![
            (0..4, Fate::Accepted),
            (4..6, Fate::Retry(None, "timeout".into())),
            (6..8, Fate::Accepted),
        ]);
        offer_sizes(&mut p, 4, 1, &[8]);
        assert_eq!(p.pending(), vec![Range { start: 4, end: 6 }]);
        p.answer(vec![
            (4..5, Fate::Accepted),
            (5..6, Fate::Retry(None, "timeout".into())),
        ]);
        assert_eq!(p.pending(), vec![Range { start: 5, end: 6 }]);
        p.answer(vec![(5..6, Fate::Accepted)]);
        assert!(p.pending().is_empty());
    }

    #[test]
    fn mixed_answers_settle_refusals_and_keep_the_longest_delay() {
        let mut p = Progress::default();
        offer_sizes(&mut p, 2, 9, &[2, 2, 2, 2]);
        let a = p.answer(vec![
            (4..6, Fate::Retry(secs(3), "HTTP 429".into())),
            (0..2, Fate::Refused("HTTP 400: bad column".into())),
            (2..4, Fate::Retry(secs(30), "HTTP 503".into())),
            (6..8, Fate::Accepted),
        ]);
        assert_eq!(a.refused, [(0..2, "HTTP 400: bad column".to_string())]);
        // The longest delay asked for, with the first reason given.
        assert_eq!(a.retry, Some((secs(30), "HTTP 429".into())));
        // Refused ranges are settled: they go to the dead-letter file, not again.
        offer_sizes(&mut p, 2, 9, &[2, 2, 2, 2]);
        assert_eq!(p.pending(), [2..4, 4..6]);
    }

    #[test]
    fn a_delay_survives_an_answer_without_one() {
        let mut p = Progress::default();
        offer_sizes(&mut p, 1, 1, &[1, 1]);
        let a = p.answer(vec![
            (0..1, Fate::Retry(secs(10), "HTTP 429".into())),
            (1..2, Fate::Retry(None, "connection reset".into())),
        ]);
        assert_eq!(a.retry, Some((secs(10), "HTTP 429".into())));
    }

    #[test]
    fn a_replay_under_the_same_id_with_other_bytes_starts_afresh() {
        let mut p = Progress::default();
        offer_sizes(&mut p, 5, 100, &[2, 2]);
        p.answer(vec![
            (0..2, Fate::Accepted),
            (2..4, Fate::Retry(None, "timeout".into())),
        ]);
        p.oversized_settled = true;
        // dead-letter replay offers other records under the batch's old id.
        offer_sizes(&mut p, 5, 200, &[2, 2]);
        assert_eq!(p.pending(), [0..2, 2..4]);
        assert!(!p.oversized_settled);
        // So does the same id and digest with another number of lines.
        offer_sizes(&mut p, 5, 200, &[2, 3]);
        assert_eq!(p.pending(), [0..2, 2..5]);
        // And the next batch.
        p.answer(vec![(0..2, Fate::Accepted), (2..5, Fate::Accepted)]);
        offer_sizes(&mut p, 6, 200, &[2, 3]);
        assert_eq!(p.pending(), [0..2, 2..5]);
    }
}
