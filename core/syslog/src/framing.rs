//! TCP framing (RFC 6587), detected per message as rsyslog does: a frame that starts
//! with a non-zero digit followed by digits and a space is octet-counted
//! (`LEN SP MSG`); anything else runs to the next LF or NUL (non-transparent framing).
//! Either way the frame's trailer (line ends and NULs at its end) is trimmed.
//!
//! NUL-terminated senders (Python's `SysLogHandler` over TCP or a unix stream socket
//! ends every message with NUL, and a traceback holds LFs) are told apart per
//! connection: once a frame has ended with NUL, only NUL ends a delimited frame on
//! that stream and LF is content. The first such frame is recognised too when its
//! NUL has arrived: an LF that is followed, before the next NUL, by no LF and `<`
//! (the PRI of a next message) is content of a NUL-terminated frame.
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
    /// The stream has ended a frame with NUL: LF is content from now on.
    nul_terminated: bool,
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

/// Where the next NUL and the next LF-and-`<` (the start of an LF-framed message)
/// lie in one `feed` call's buffer, found once each, so that looking ahead from
/// every LF stays linear in the buffer's length.
struct Lookahead {
    /// `(from, found)`: the first NUL at or after `from`, absolute.
    nul: Option<(usize, Option<usize>)>,
    /// `(from, found)`: the first `\n<` at or after `from`, absolute.
    next_message: Option<(usize, Option<usize>)>,
}

/// The first match at or after `from`, reusing `cache` when it still answers.
fn cached(
    cache: &mut Option<(usize, Option<usize>)>,
    buf: &[u8],
    from: usize,
    find: impl Fn(&[u8]) -> Option<usize>,
) -> Option<usize> {
    if let Some((start, found)) = *cache {
        match found {
            Some(at) if start <= from && at >= from => return Some(at),
            None if start <= from => return None,
            _ => {}
        }
    }
    let found = find(&buf[from..]).map(|i| from + i);
    *cache = Some((from, found));
    found
}

impl Lookahead {
    fn new() -> Lookahead {
        Lookahead {
            nul: None,
            next_message: None,
        }
    }

    /// For an LF at `lf` on a stream not yet known to be NUL-terminated: the NUL
    /// that ends this frame when the LF is content of a NUL-terminated message.
    fn nul_ending(&mut self, buf: &[u8], lf: usize) -> Option<usize> {
        if buf.get(lf + 1) == Some(&b'<') {
            return None;
        }
        let nul = cached(&mut self.nul, buf, lf, |b| memchr::memchr(0, b))?;
        let next = cached(&mut self.next_message, buf, lf, |b| {
            memchr::memmem::find(b, b"\n<")
        });
        match next {
            Some(at) if at < nul => None,
            _ => Some(nul),
        }
    }
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
            nul_terminated: false,
        }
    }

    /// The delimiter that ends the delimited frame starting at `start`: the next NUL
    /// on a NUL-terminated stream, else the next LF or NUL (see the module's notes).
    fn frame_end(&mut self, buf: &[u8], start: usize, ahead: &mut Lookahead) -> Option<usize> {
        if self.nul_terminated {
            return memchr::memchr(0, &buf[start..]).map(|i| start + i);
        }
        let at = start + memchr::memchr2(b'\n', 0, &buf[start..])?;
        if buf[at] == 0 {
            self.nul_terminated = true;
            return Some(at);
        }
        match ahead.nul_ending(buf, at) {
            Some(nul) => {
                self.nul_terminated = true;
                Some(nul)
            }
            None => Some(at),
        }
    }

    /// Whether the stream has shown that it ends its frames with NUL.
    pub fn nul_terminated(&self) -> bool {
        self.nul_terminated
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
        let mut ahead = Lookahead::new();
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
                State::Discard => match self.discard_end(&buf[pos..]) {
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
                        Header::Delimited => match self.frame_end(buf, pos, &mut ahead) {
                            Some(end) => {
                                let frame = trim_trailer(&buf[pos..end]);
                                if frame.len() > self.max {
                                    sink(trim_trailer(&frame[..self.max]), truncated());
                                } else {
                                    sink(frame, FrameFlags::default());
                                }
                                pos = end + 1;
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

    /// The end of an over-long delimited message being discarded.
    fn discard_end(&self, b: &[u8]) -> Option<usize> {
        if self.nul_terminated {
            memchr::memchr(0, b)
        } else {
            memchr::memchr2(b'\n', 0, b)
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
