//! TCP framing (RFC 6587), detected per message as rsyslog does: a frame that starts
//! with a non-zero digit followed by digits and a space is octet-counted
//! (`LEN SP MSG`); anything else runs to the next LF or NUL (non-transparent framing).
//! Either way the frame's trailer (line ends and NULs at its end) is trimmed.
//!
//! Memory stays bounded whatever the sender does: a message longer than the maximum
//! is cut to the maximum, reported as truncated, and the rest of it is skipped, so the
//! stream stays in step with the sender's framing.

/// How a frame was cut out of the stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameFlags {
    /// The message was longer than the maximum; only the first bytes are in the frame.
    pub truncated: bool,
    /// The stream ended before the frame did; the frame holds what arrived.
    pub incomplete: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At a frame boundary.
    Boundary,
    /// Skipping the rest of an octet-counted message that was too long.
    Skip(usize),
    /// Discarding the rest of a delimited message that was too long.
    Discard,
}

/// Splits a byte stream into frames. Feed it the bytes received so far; keep the
/// bytes it did not consume and feed them again, followed by newer ones.
#[derive(Clone, Debug)]
pub struct Framer {
    max: usize,
    state: State,
}

/// The longest octet count accepted (9 digits); longer digit runs start a delimited frame.
const MAX_COUNT_DIGITS: usize = 9;

enum Header {
    /// `LEN SP` was read: message length, header length.
    Counted(usize, usize),
    /// Not an octet-count header: a delimited frame.
    Delimited,
    /// Only digits so far: more bytes are needed to decide.
    NeedMore,
}

fn octet_header(b: &[u8]) -> Header {
    if !matches!(b.first(), Some(b'1'..=b'9')) {
        return Header::Delimited;
    }
    let n = b
        .iter()
        .take(MAX_COUNT_DIGITS + 1)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if n > MAX_COUNT_DIGITS {
        return Header::Delimited;
    }
    match b.get(n) {
        None => Header::NeedMore,
        Some(b' ') => {
            let len = b[..n]
                .iter()
                .fold(0usize, |a, d| a * 10 + usize::from(d - b'0'));
            Header::Counted(len, n + 1)
        }
        Some(_) => Header::Delimited,
    }
}

fn is_delimiter(b: u8) -> bool {
    b == b'\n' || b == 0
}

fn find_delimiter(b: &[u8]) -> Option<usize> {
    memchr::memchr2(b'\n', 0, b)
}

/// A frame without the line ends and NULs at its end: framing left in the message
/// (rsyslog's RFC 5424 template ends with LF even inside octet-counted frames, and
/// datagram senders often end theirs with one). Every listener hands on frames
/// trimmed so, once: decoders see the message only.
pub fn trim_trailer(frame: &[u8]) -> &[u8] {
    let mut end = frame.len();
    while end > 0 && matches!(frame[end - 1], b'\n' | b'\r' | 0) {
        end -= 1;
    }
    &frame[..end]
}

impl Framer {
    /// A framer that cuts messages at `max_message_size` bytes (at least 1).
    pub fn new(max_message_size: usize) -> Framer {
        Framer {
            max: max_message_size.max(1),
            state: State::Boundary,
        }
    }

    /// The most bytes a caller ever needs to keep between reads: one maximal message
    /// and its header.
    pub fn max_pending(&self) -> usize {
        self.max + MAX_COUNT_DIGITS + 1
    }

    /// Emits every complete frame in `buf` through `sink` and returns how many bytes
    /// were consumed. Unconsumed bytes are the start of a frame: feed them again.
    pub fn feed(&mut self, buf: &[u8], mut sink: impl FnMut(&[u8], FrameFlags)) -> usize {
        let mut pos = 0;
        loop {
            match self.state {
                State::Skip(remaining) => {
                    let n = remaining.min(buf.len() - pos);
                    pos += n;
                    if n < remaining {
                        self.state = State::Skip(remaining - n);
                        return pos;
                    }
                    self.state = State::Boundary;
                }
                State::Discard => match find_delimiter(&buf[pos..]) {
                    Some(i) => {
                        pos += i + 1;
                        self.state = State::Boundary;
                    }
                    None => return buf.len(),
                },
                State::Boundary => {
                    // Empty frames and stray delimiters between frames carry nothing.
                    while pos < buf.len() && (is_delimiter(buf[pos]) || buf[pos] == b'\r') {
                        pos += 1;
                    }
                    if pos == buf.len() {
                        return pos;
                    }
                    match octet_header(&buf[pos..]) {
                        Header::NeedMore => return pos,
                        Header::Counted(len, header) => {
                            let start = pos + header;
                            let available = buf.len() - start;
                            if len > self.max {
                                if available < self.max {
                                    return pos;
                                }
                                sink(trim_trailer(&buf[start..start + self.max]), truncated());
                                pos = start + self.max;
                                self.state = State::Skip(len - self.max);
                            } else {
                                if available < len {
                                    return pos;
                                }
                                if len > 0 {
                                    sink(
                                        trim_trailer(&buf[start..start + len]),
                                        FrameFlags::default(),
                                    );
                                }
                                pos = start + len;
                            }
                        }
                        Header::Delimited => match find_delimiter(&buf[pos..]) {
                            Some(i) => {
                                let frame = trim_trailer(&buf[pos..pos + i]);
                                if frame.len() > self.max {
                                    sink(trim_trailer(&frame[..self.max]), truncated());
                                } else {
                                    sink(frame, FrameFlags::default());
                                }
                                pos += i + 1;
                            }
                            None if buf.len() - pos > self.max => {
                                sink(trim_trailer(&buf[pos..pos + self.max]), truncated());
                                pos += self.max;
                                self.state = State::Discard;
                            }
                            None => return pos,
                        },
                    }
                }
            }
        }
    }

    /// Ends the stream: `rest` are the bytes `feed` did not consume. What is left of a
    /// frame is emitted as incomplete rather than lost.
    pub fn finish(&mut self, rest: &[u8], mut sink: impl FnMut(&[u8], FrameFlags)) {
        let state = std::mem::replace(&mut self.state, State::Boundary);
        if state != State::Boundary {
            return;
        }
        let start = rest
            .iter()
            .position(|b| !is_delimiter(*b) && *b != b'\r')
            .unwrap_or(rest.len());
        let rest = &rest[start..];
        if rest.is_empty() {
            return;
        }
        let body = match octet_header(rest) {
            Header::Counted(_, header) => &rest[header..],
            _ => rest,
        };
        let body = trim_trailer(body);
        if body.is_empty() {
            return;
        }
        let flags = FrameFlags {
            truncated: body.len() > self.max,
            incomplete: true,
        };
        sink(trim_trailer(&body[..body.len().min(self.max)]), flags);
    }
}

fn truncated() -> FrameFlags {
    FrameFlags {
        truncated: true,
        incomplete: false,
    }
}
