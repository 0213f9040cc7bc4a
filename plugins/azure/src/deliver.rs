//! Sending a batch's lines to one stream: what each answer makes of a range of
//! lines (what of the batch is settled between attempts is [`crate::progress`]).

use crate::ingest::{self, Answer, Ingestor};
use crate::progress::Fate;
use std::ops::Range;
use std::time::Duration;

/// How 403 answers are treated: retried every `retry` until they have lasted
/// `window`, then refused for good.
pub struct ForbiddenPolicy {
    pub retry: Duration,
    pub window: Duration,
    pub rule: String,
}

impl ForbiddenPolicy {
    fn fate(&self, ingestor: &Ingestor, stream: &str, text: &str) -> Fate {
        let lasted = ingestor.forbidden.note();
        if lasted < self.window {
            Fate::Retry(
                Some(self.retry),
                format!(
                    "HTTP 403 for {} s: {text}; the identity lacks the Monitoring Metrics Publisher role on data collection rule {}, or a new role assignment has not applied yet (that takes up to 30 minutes); retrying every {} s, records are kept and go to the dead-letter file only if the 403s last {} s",
                    lasted.as_secs(),
                    self.rule,
                    self.retry.as_secs(),
                    self.window.as_secs()
                ),
            )
        } else {
            Fate::Refused(format!(
                "the Logs Ingestion API answered HTTP 403 to stream {stream} for {} s: {text}; assign the Monitoring Metrics Publisher role on data collection rule {} to the agent's identity, then `syslane dead-letter replay`",
                lasted.as_secs(),
                self.rule
            ))
        }
    }
}

/// Sends the lines in `range`; a 413 halves it and sends both halves. Each
/// range that got an answer is reported with its fate.
pub fn deliver(
    ingestor: &Ingestor,
    policy: &ForbiddenPolicy,
    stream: &str,
    lines: &[&[u8]],
    range: Range<usize>,
    fates: &mut Vec<(Range<usize>, Fate)>,
) {
    let group = &lines[range.clone()];
    let body = ingest::json_array(group);
    match ingestor.post(stream, &body, group.len() as u64) {
        Answer::Accepted => fates.push((range, Fate::Accepted)),
        Answer::TooLarge if group.len() > 1 => {
            let mid = range.start + group.len() / 2;
            deliver(ingestor, policy, stream, lines, range.start..mid, fates);
            deliver(ingestor, policy, stream, lines, mid..range.end, fates);
        }
        Answer::TooLarge => fates.push((
            range,
            Fate::Refused(format!(
                "the Logs Ingestion API answered HTTP 413 to a single record of {} bytes",
                body.len()
            )),
        )),
        Answer::Forbidden(text) => {
            let fate = policy.fate(ingestor, stream, &text);
            fates.push((range, fate));
        }
        Answer::Refused(reason) => fates.push((range, Fate::Refused(reason))),
        Answer::Retry { after, reason } => fates.push((range, Fate::Retry(after, reason))),
    }
}
