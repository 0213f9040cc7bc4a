//! One RELP frame: `TXNR SP COMMAND SP DATALEN [SP DATA] LF`. The session that
//! reads them in order is [`crate::RelpReader`].

use crate::relp::RelpError;

/// One RELP frame, borrowed from the buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RelpFrame<'a> {
    /// Transaction number: the sender matches our response to it.
    pub(crate) txnr: u64,
    pub(crate) command: &'a [u8],
    pub(crate) data: &'a [u8],
}

/// What [`parse_relp`] found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RelpParse<'a> {
    /// A frame and the bytes it used.
    Frame(RelpFrame<'a>, usize),
    /// The buffer holds the start of a frame: read more.
    NeedMore,
    /// A frame whose DATALEN exceeds the limit: its header took `header` bytes
    /// (through the space before DATA); `data_len` bytes of DATA and the closing
    /// LF follow. The reader keeps what it can and skips the rest as it arrives,
    /// so the session stays in step without buffering the whole frame.
    Oversized {
        txnr: u64,
        command: &'a [u8],
        header: usize,
        data_len: usize,
    },
}

/// The longest TXNR and DATALEN, in digits (librelp allows 9).
pub(crate) const MAX_DIGITS: usize = 9;
/// The longest command.
pub(crate) const MAX_COMMAND: usize = 32;

/// A number of at most `MAX_DIGITS` digits: `Ok(None)` when the buffer ends
/// within it, `Err(true)` when it is too long, `Err(false)` when there is none.
fn number(b: &[u8]) -> Result<Option<(u64, usize)>, bool> {
    let n = b
        .iter()
        .take(MAX_DIGITS + 1)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if n > MAX_DIGITS {
        return Err(true);
    }
    if n == b.len() {
        return Ok(None);
    }
    if n == 0 {
        return Err(false);
    }
    let v = b[..n]
        .iter()
        .fold(0u64, |a, d| a * 10 + u64::from(d - b'0'));
    Ok(Some((v, n)))
}

/// Parses the frame at the start of `buf`; `max_data` bounds DATALEN.
pub(crate) fn parse_relp(buf: &[u8], max_data: usize) -> Result<RelpParse<'_>, RelpError> {
    let (txnr, mut at) = match number(buf) {
        Ok(Some(v)) => v,
        Ok(None) => return Ok(RelpParse::NeedMore),
        Err(true) => return Err(RelpError::TxnrTooLong),
        Err(false) => return Err(RelpError::ExpectedTxnr),
    };
    if buf[at] != b' ' {
        return Err(RelpError::ExpectedSpaceAfterTxnr);
    }
    at += 1;
    let cmd_len = buf[at..]
        .iter()
        .take(MAX_COMMAND + 1)
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    if cmd_len > MAX_COMMAND {
        return Err(RelpError::CommandTooLong);
    }
    if at + cmd_len == buf.len() {
        return Ok(RelpParse::NeedMore);
    }
    if cmd_len == 0 || buf[at + cmd_len] != b' ' {
        return Err(RelpError::ExpectedCommand);
    }
    let command = &buf[at..at + cmd_len];
    at += cmd_len + 1;
    let (len, n) = match number(&buf[at..]) {
        Ok(Some(v)) => v,
        Ok(None) => return Ok(RelpParse::NeedMore),
        Err(true) => return Err(RelpError::DataLenTooLong),
        Err(false) => return Err(RelpError::ExpectedDataLen),
    };
    at += n;
    let len = len as usize;
    if len > max_data {
        return match buf.get(at) {
            None => Ok(RelpParse::NeedMore),
            Some(b' ') => Ok(RelpParse::Oversized {
                txnr,
                command,
                header: at + 1,
                data_len: len,
            }),
            Some(_) => Err(RelpError::ExpectedSpaceBeforeData),
        };
    }
    let data = if len == 0 {
        &buf[at..at]
    } else {
        if buf.len() < at + 1 + len {
            return Ok(RelpParse::NeedMore);
        }
        if buf[at] != b' ' {
            return Err(RelpError::ExpectedSpaceBeforeData);
        }
        at += 1;
        &buf[at..at + len]
    };
    at += len;
    match buf.get(at) {
        None => Ok(RelpParse::NeedMore),
        Some(b'\n') => Ok(RelpParse::Frame(
            RelpFrame {
                txnr,
                command,
                data,
            },
            at + 1,
        )),
        Some(_) => Err(RelpError::ExpectedLfAfterData),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_with_and_without_data() {
        let data = b"relp_version=0\ncommands=syslog";
        let framed = [format!("1 open {} ", data.len()).as_bytes(), data, b"\n"].concat();
        match parse_relp(&framed, 100) {
            Ok(RelpParse::Frame(f, used)) => {
                assert_eq!(
                    (f.txnr, f.command, f.data, used),
                    (1, &b"open"[..], &data[..], framed.len())
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_relp(b"7 close 0\n", 100),
            Ok(RelpParse::Frame(
                RelpFrame {
                    txnr: 7,
                    command: b"close",
                    data: b""
                },
                10
            ))
        );
    }

    #[test]
    fn partial_frames_need_more() {
        let full = b"12 syslog 5 hello\n";
        for cut in 0..full.len() {
            assert_eq!(
                parse_relp(&full[..cut], 100),
                Ok(RelpParse::NeedMore),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn garbage_says_what_was_wrong() {
        let cases: [(&[u8], RelpError); 9] = [
            (b"x syslog 1 a\n", RelpError::ExpectedTxnr),
            (b"1234567890 syslog 1 a\n", RelpError::TxnrTooLong),
            (b"1-syslog 1 a\n", RelpError::ExpectedSpaceAfterTxnr),
            (b"1  syslog 1 a\n", RelpError::ExpectedCommand),
            (
                b"1 abcdefghijklmnopqrstuvwxyzabcdefg 1 a\n",
                RelpError::CommandTooLong,
            ),
            (b"1 syslog x\n", RelpError::ExpectedDataLen),
            (b"1 syslog 1234567890 a\n", RelpError::DataLenTooLong),
            (b"1 syslog 500x", RelpError::ExpectedSpaceBeforeData),
            (b"1 syslog 1 ab\n", RelpError::ExpectedLfAfterData),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_relp(input, 100),
                Err(want),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn oversize_is_reported_once_the_header_is_complete() {
        assert_eq!(parse_relp(b"1 syslog 500", 100), Ok(RelpParse::NeedMore));
        assert_eq!(
            parse_relp(b"31 syslog 500 abc", 100),
            Ok(RelpParse::Oversized {
                txnr: 31,
                command: b"syslog",
                header: 14,
                data_len: 500
            })
        );
    }
}
