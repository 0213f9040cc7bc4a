//! Sending a batch's lines to one stream: what each answer makes of a byte range
//! of the batch (what of the batch is settled between attempts is
//! [`crate::progress`]).

use crate::body;
use crate::codec::Scratch;
use crate::ingest::{Answer, Ingestor};
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

/// Sends the lines of `data` in the byte range `part`; a 413 halves it and sends
/// both halves. Each range that got an answer is reported with its fate.
pub fn deliver(
    ingestor: &Ingestor,
    policy: &ForbiddenPolicy,
    stream: &str,
    data: &[u8],
    part: Range<usize>,
    scratch: &mut Scratch,
    fates: &mut Vec<(Range<usize>, Fate)>,
) {
    let records = body::json_array_into(&mut scratch.body, &data[part.clone()]);
    match ingestor.post_scratch(stream, scratch, records as u64) {
        Answer::Accepted => fates.push((part, Fate::Accepted)),
        Answer::TooLarge => match body::halve(data, &part) {
            Some((a, b)) => {
                deliver(ingestor, policy, stream, data, a, scratch, fates);
                deliver(ingestor, policy, stream, data, b, scratch, fates);
            }
            None => fates.push((
                part,
                Fate::Refused(format!(
                    "the Logs Ingestion API answered HTTP 413 to a single record of {} bytes",
                    scratch.body.len()
                )),
            )),
        },
        Answer::Forbidden(text) => {
            let fate = policy.fate(ingestor, stream, &text);
            fates.push((part, fate));
        }
        Answer::Refused(reason) => fates.push((part, Fate::Refused(reason))),
        Answer::Retry { after, reason } => fates.push((part, Fate::Retry(after, reason))),
    }
}
