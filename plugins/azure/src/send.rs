//! Sending a batch's lines to one stream: one HTTP request per byte range (two
//! when a 413 halves it), and what each answer makes of the range (what of the
//! batch is settled between attempts is [`crate::progress`]). A range is
//! delivered when the workspace accepts it.

use crate::body;
use crate::codec::Scratch;
use crate::forbidden::{ForbiddenPolicy, OnForbidden};
use crate::ingest::{Answer, Ingestor};
use crate::progress::Fate;
use std::ops::Range;

/// Sends the lines of `data` in the byte range `part`; a 413 halves it and sends
/// both halves. Each range that got an answer is reported with its fate.
pub fn send_range(
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
                send_range(ingestor, policy, stream, data, a, scratch, fates);
                send_range(ingestor, policy, stream, data, b, scratch, fates);
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
            let lasted = ingestor.forbidden.note();
            let fate = match policy.decide(lasted, stream, &text) {
                OnForbidden::Wait { after, reason } => Fate::Retry(Some(after), reason),
                OnForbidden::DeadLetter { reason } => Fate::Refused(reason),
            };
            fates.push((part, fate));
        }
        Answer::Refused(reason) => fates.push((part, Fate::Refused(reason))),
        Answer::Retry { after, reason } => fates.push((part, Fate::Retry(after, reason))),
    }
}
