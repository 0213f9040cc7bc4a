//! The server side of a RELP session (the Reliable Event Logging Protocol of
//! rsyslog's `omrelp`), over borrowed bytes and with no I/O: [`RelpReader`] turns
//! what the sender wrote into [`RelpEvent`]s (open, a message, close, a frame to
//! refuse); the caller writes the answers (`TXNR rsp LEN DATA`).
//!
//! Memory stays bounded whatever the sender does: a `syslog` frame whose DATA is
//! longer than the maximum message size is read as it arrives, its first bytes
//! kept and the rest skipped, and it becomes a truncated message that is answered
//! like any other (the sender must not resend it forever).

use crate::framing::trim_trailer;
use crate::relp_frame::{parse_relp, RelpParse, MAX_COMMAND, MAX_DIGITS};

/// Frame trailers (`\n`, `\r`, `\0`) that DATA may carry beyond the maximum message
/// size before the frame counts as oversized: they are trimmed, not content.
const TRAILER_SLACK: usize = 64;

/// Why a session cannot continue: the bytes are not RELP. The sender resends
/// what it has not seen answered on its next connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RelpError {
    #[error("a frame must start with a transaction number (digits)")]
    ExpectedTxnr,
    #[error("transaction number longer than 9 digits")]
    TxnrTooLong,
    #[error("expected a space after the transaction number")]
    ExpectedSpaceAfterTxnr,
    #[error("expected a command (letters) and a space after the transaction number")]
    ExpectedCommand,
    #[error("command longer than 32 letters")]
    CommandTooLong,
    #[error("expected a data length (digits) after the command")]
    ExpectedDataLen,
    #[error("data length longer than 9 digits")]
    DataLenTooLong,
    #[error("expected a space between the data length and the data")]
    ExpectedSpaceBeforeData,
    #[error("expected LF after as many bytes of data as the data length said")]
    ExpectedLfAfterData,
}

/// Why a frame is answered `500` while the session goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RelpRefusal {
    /// A `syslog` frame before `open`.
    #[error("session not open")]
    NotOpen,
    /// A command other than `open`, `syslog` and `close`.
    #[error("unknown command")]
    UnknownCommand,
    /// A frame other than `syslog` longer than the maximum message size.
    #[error("frame larger than max_message_size")]
    TooLarge,
}

/// What one complete frame asks of the session.
#[derive(Debug, PartialEq, Eq)]
pub enum RelpEvent<'a> {
    /// `open`: answer `200 OK` and the offer (`relp_version`, `commands=syslog`).
    Open { txnr: u64 },
    /// A message of an open session, frame trailers trimmed and cut at the
    /// maximum message size (`truncated` then): answer it once it is kept.
    Message {
        txnr: u64,
        data: &'a [u8],
        truncated: bool,
    },
    /// `close`: answer it after the messages before it. The reader reads nothing
    /// after it.
    Close { txnr: u64 },
    /// A frame to answer `500` with the reason; the session goes on.
    Refused { txnr: u64, reason: RelpRefusal },
}

/// An oversized frame being read as it arrives.
#[derive(Clone, Debug)]
struct Oversized {
    txnr: u64,
    syslog: bool,
    /// The first bytes of DATA, up to the maximum message size.
    kept: Vec<u8>,
    /// DATA bytes not read yet; then the closing LF.
    left: usize,
}

impl Oversized {
    /// Takes what `input` holds of the frame; returns the bytes used and whether
    /// the frame is complete.
    fn feed(&mut self, input: &[u8], max: usize) -> Result<(usize, bool), RelpError> {
        let take = self.left.min(input.len());
        let room = max.saturating_sub(self.kept.len()).min(take);
        self.kept.extend_from_slice(&input[..room]);
        self.left -= take;
        if self.left > 0 || take == input.len() {
            return Ok((take, false));
        }
        match input[take] {
            b'\n' => Ok((take + 1, true)),
            _ => Err(RelpError::ExpectedLfAfterData),
        }
    }
}

/// The state of one RELP session: whether it is open, and the oversized frame
/// being skipped. Feed it the bytes received so far; keep the bytes it did not
/// consume and feed them again, followed by newer ones (as [`crate::Framer`]).
#[derive(Clone, Debug)]
pub struct RelpReader {
    max: usize,
    open: bool,
    closed: bool,
    oversized: Option<Oversized>,
}

impl RelpReader {
    /// A reader that cuts messages at `max_message_size` bytes (at least 1).
    pub fn new(max_message_size: usize) -> RelpReader {
        RelpReader {
            max: max_message_size.max(1),
            open: false,
            closed: false,
            oversized: None,
        }
    }

    /// The most bytes a caller ever needs to keep between reads: one frame of the
    /// largest size read whole.
    pub fn max_pending(&self) -> usize {
        // TXNR SP COMMAND SP DATALEN SP DATA LF
        MAX_DIGITS + 1 + MAX_COMMAND + 1 + MAX_DIGITS + 1 + self.max + TRAILER_SLACK + 1
    }

    /// Whether the sender has closed the session (`close` was read).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Emits an event for every complete frame in `buf` through `sink` and returns
    /// how many bytes were consumed; unconsumed bytes are the start of a frame.
    /// Stops after `close`. An error ends the session: the bytes are not RELP
    /// (events emitted before it stand).
    pub fn feed(
        &mut self,
        buf: &[u8],
        mut sink: impl FnMut(RelpEvent<'_>),
    ) -> Result<usize, RelpError> {
        let mut used = 0;
        while !self.closed {
            if let Some(mut big) = self.oversized.take() {
                let (n, done) = big.feed(&buf[used..], self.max)?;
                used += n;
                if !done {
                    self.oversized = Some(big);
                    return Ok(used);
                }
                sink(match (big.syslog, self.open) {
                    (true, true) => RelpEvent::Message {
                        txnr: big.txnr,
                        data: trim_trailer(&big.kept),
                        truncated: true,
                    },
                    (true, false) => refuse(big.txnr, RelpRefusal::NotOpen),
                    (false, _) => refuse(big.txnr, RelpRefusal::TooLarge),
                });
                continue;
            }
            match parse_relp(&buf[used..], self.max + TRAILER_SLACK)? {
                RelpParse::NeedMore => return Ok(used),
                RelpParse::Oversized {
                    txnr,
                    command,
                    header,
                    data_len,
                } => {
                    self.oversized = Some(Oversized {
                        txnr,
                        syslog: command == b"syslog",
                        kept: Vec::with_capacity(self.max.min(data_len)),
                        left: data_len,
                    });
                    used += header;
                }
                RelpParse::Frame(frame, n) => {
                    used += n;
                    let txnr = frame.txnr;
                    sink(match frame.command {
                        b"syslog" if self.open => {
                            let data = trim_trailer(frame.data);
                            RelpEvent::Message {
                                txnr,
                                // Cut, the start may end in line ends: trimmed
                                // as the oversized path trims what it kept.
                                data: trim_trailer(&data[..data.len().min(self.max)]),
                                truncated: data.len() > self.max,
                            }
                        }
                        b"syslog" => refuse(txnr, RelpRefusal::NotOpen),
                        b"open" => {
                            self.open = true;
                            RelpEvent::Open { txnr }
                        }
                        b"close" => {
                            self.closed = true;
                            RelpEvent::Close { txnr }
                        }
                        _ => refuse(txnr, RelpRefusal::UnknownCommand),
                    });
                }
            }
        }
        Ok(used)
    }
}

fn refuse(txnr: u64, reason: RelpRefusal) -> RelpEvent<'static> {
    RelpEvent::Refused { txnr, reason }
}

#[cfg(test)]
#[path = "relp_tests.rs"]
mod tests;
