//! RELP frames (the Reliable Event Logging Protocol of rsyslog's `omrelp`):
//! `TXNR SP COMMAND SP DATALEN [SP DATA] LF`.

/// One RELP frame, borrowed from the buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct RelpFrame<'a> {
    /// Transaction number: the sender matches our response to it.
    pub txnr: u64,
    pub command: &'a [u8],
    pub data: &'a [u8],
}

/// What [`parse_relp`] found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum RelpParse<'a> {
    /// A frame and the bytes it used.
    Frame(RelpFrame<'a>, usize),
    /// The buffer holds the start of a frame: read more.
    NeedMore,
    /// A frame whose DATALEN exceeds the limit: its header took `header` bytes
    /// (through the space before DATA); `data_len` bytes of DATA and the closing
    /// LF follow. The caller keeps what it can and skips the rest as it arrives,
    /// so the session stays in step without buffering the whole frame.
    Oversized {
        txnr: u64,
        command: &'a [u8],
        header: usize,
        data_len: usize,
    },
    /// Not RELP: the session cannot continue.
    Invalid(&'static str),
}

fn number(b: &[u8], max_digits: usize) -> Result<Option<(u64, usize)>, &'static str> {
    let n = b
        .iter()
        .take(max_digits + 1)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if n > max_digits {
        return Err("number too long");
    }
    if n == b.len() {
        return Ok(None);
    }
    if n == 0 {
        return Err("expected a number");
    }
    let v = b[..n]
        .iter()
        .fold(0u64, |a, d| a * 10 + u64::from(d - b'0'));
    Ok(Some((v, n)))
}

/// Parses the frame at the start of `buf`; `max_data` bounds DATALEN.
pub fn parse_relp(buf: &[u8], max_data: usize) -> RelpParse<'_> {
    let (txnr, mut at) = match number(buf, 9) {
        Ok(Some(v)) => v,
        Ok(None) => return RelpParse::NeedMore,
        Err(e) => return RelpParse::Invalid(e),
    };
    if buf[at] != b' ' {
        return RelpParse::Invalid("expected a space after TXNR");
    }
    at += 1;
    let cmd_len = buf[at..]
        .iter()
        .take(33)
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    if at + cmd_len == buf.len() {
        return if cmd_len > 32 {
            RelpParse::Invalid("command too long")
        } else {
            RelpParse::NeedMore
        };
    }
    if cmd_len == 0 || cmd_len > 32 || buf[at + cmd_len] != b' ' {
        return RelpParse::Invalid("expected a command and a space");
    }
    let command = &buf[at..at + cmd_len];
    at += cmd_len + 1;
    let (len, n) = match number(&buf[at..], 9) {
        Ok(Some(v)) => v,
        Ok(None) => return RelpParse::NeedMore,
        Err(e) => return RelpParse::Invalid(e),
    };
    at += n;
    let len = len as usize;
    if len > max_data {
        return match buf.get(at) {
            None => RelpParse::NeedMore,
            Some(b' ') => RelpParse::Oversized {
                txnr,
                command,
                header: at + 1,
                data_len: len,
            },
            Some(_) => RelpParse::Invalid("expected a space before DATA"),
        };
    }
    let data = if len == 0 {
        &buf[at..at]
    } else {
        if buf.len() < at + 1 + len {
            return RelpParse::NeedMore;
        }
        if buf[at] != b' ' {
            return RelpParse::Invalid("expected a space before DATA");
        }
        at += 1;
        &buf[at..at + len]
    };
    at += len;
    match buf.get(at) {
        None => RelpParse::NeedMore,
        Some(b'\n') => RelpParse::Frame(
            RelpFrame {
                txnr,
                command,
                data,
            },
            at + 1,
        ),
        Some(_) => RelpParse::Invalid("expected LF after DATA"),
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
            RelpParse::Frame(f, used) => {
                assert_eq!(
                    (f.txnr, f.command, f.data, used),
                    (1, &b"open"[..], &data[..], framed.len())
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_relp(b"7 close 0\n", 100),
            RelpParse::Frame(
                RelpFrame {
                    txnr: 7,
                    command: b"close",
                    data: b""
                },
                10
            )
        );
    }

    #[test]
    fn partial_frames_need_more() {
        let full = b"12 syslog 5 hello\n";
        for cut in 0..full.len() {
            assert_eq!(
                parse_relp(&full[..cut], 100),
                RelpParse::NeedMore,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn garbage_is_invalid() {
        assert!(matches!(
            parse_relp(b"x syslog 1 a\n", 100),
            RelpParse::Invalid(_)
        ));
        assert!(matches!(
            parse_relp(b"1 syslog 1 ab\n", 100),
            RelpParse::Invalid(_)
        ));
        assert!(matches!(
            parse_relp(b"1 syslog 500x", 100),
            RelpParse::Invalid(_)
        ));
    }

    #[test]
    fn oversize_is_reported_once_the_header_is_complete() {
        assert_eq!(parse_relp(b"1 syslog 500", 100), RelpParse::NeedMore);
        assert_eq!(
            parse_relp(b"31 syslog 500 abc", 100),
            RelpParse::Oversized {
                txnr: 31,
                command: b"syslog",
                header: 14,
                data_len: 500
            }
        );
    }
}
