use super::*;

/// An event with its data owned, to collect across calls.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Open(u64),
    Message(u64, Vec<u8>, bool),
    Close(u64),
    Refused(u64, RelpRefusal),
}

fn own(e: RelpEvent<'_>) -> Seen {
    match e {
        RelpEvent::Open { txnr } => Seen::Open(txnr),
        RelpEvent::Message {
            txnr,
            data,
            truncated,
        } => Seen::Message(txnr, data.to_vec(), truncated),
        RelpEvent::Close { txnr } => Seen::Close(txnr),
        RelpEvent::Refused { txnr, reason } => Seen::Refused(txnr, reason),
    }
}

/// Feeds `stream` in pieces of `chunk` bytes, as reads would deliver it.
fn read(max: usize, stream: &[u8], chunk: usize) -> (Vec<Seen>, Result<(), RelpError>) {
    let mut reader = RelpReader::new(max);
    let mut seen = Vec::new();
    let mut pending = Vec::new();
    for piece in stream.chunks(chunk) {
        pending.extend_from_slice(piece);
        match reader.feed(&pending, |e| seen.push(own(e))) {
            Ok(used) => {
                pending.drain(..used);
            }
            Err(e) => return (seen, Err(e)),
        }
        assert!(pending.len() <= reader.max_pending() + chunk);
    }
    (seen, Ok(()))
}

fn frame(txnr: u64, command: &str, data: &[u8]) -> Vec<u8> {
    if data.is_empty() {
        return format!("{txnr} {command} 0\n").into_bytes();
    }
    [
        format!("{txnr} {command} {} ", data.len()).as_bytes(),
        data,
        b"\n",
    ]
    .concat()
}

#[test]
fn a_session_opens_carries_messages_and_closes() {
    let stream = [
        frame(1, "open", b"relp_version=0\ncommands=syslog"),
        frame(2, "syslog", b"<13>hello\n"),
        frame(3, "syslog", b"<13>world\r\n\0"),
        frame(4, "close", b""),
        frame(5, "syslog", b"after close"),
    ]
    .concat();
    for chunk in [1, 3, 7, stream.len()] {
        let (seen, end) = read(100, &stream, chunk);
        assert_eq!(end, Ok(()));
        assert_eq!(
            seen,
            [
                Seen::Open(1),
                Seen::Message(2, b"<13>hello".to_vec(), false),
                Seen::Message(3, b"<13>world".to_vec(), false),
                Seen::Close(4),
            ],
            "chunk {chunk}"
        );
    }
}

#[test]
fn frames_the_session_cannot_take_are_refused_and_it_goes_on() {
    let stream = [
        frame(1, "syslog", b"too early"),
        frame(2, "open", b""),
        frame(3, "starttls", b""),
        frame(4, "syslog", b"kept"),
    ]
    .concat();
    let (seen, end) = read(100, &stream, 5);
    assert_eq!(end, Ok(()));
    assert_eq!(
        seen,
        [
            Seen::Refused(1, RelpRefusal::NotOpen),
            Seen::Open(2),
            Seen::Refused(3, RelpRefusal::UnknownCommand),
            Seen::Message(4, b"kept".to_vec(), false),
        ]
    );
    assert_eq!(
        RelpRefusal::NotOpen.to_string(),
        "session not open",
        "the text of the 500 answer"
    );
}

/// A message cut at the maximum keeps no line end at its cut, whether it was
/// read whole (a little over the maximum) or streamed (far over it). Found by
/// the relp fuzz target.
#[test]
fn a_cut_message_ends_without_line_ends_however_it_was_read() {
    let start = b"abcdefgh\n\n\n\n";
    let near = [&start[..], b"rest"].concat();
    let far = [&start[..], &vec![b'x'; 10_000]].concat();
    for data in [near, far] {
        let stream = [frame(1, "open", b""), frame(2, "syslog", &data)].concat();
        for chunk in [1, 7, stream.len()] {
            let (seen, end) = read(10, &stream, chunk);
            assert_eq!(end, Ok(()));
            assert_eq!(
                seen,
                [Seen::Open(1), Seen::Message(2, b"abcdefgh".to_vec(), true)],
                "{} bytes, chunk {chunk}",
                data.len()
            );
        }
    }
}

#[test]
fn an_oversized_message_is_kept_truncated_and_the_session_stays_in_step() {
    let big = vec![b'x'; 10_000];
    let stream = [
        frame(1, "open", b""),
        frame(2, "syslog", &big),
        frame(3, "syslog", b"next"),
        frame(4, "open", &big),
    ]
    .concat();
    for chunk in [1, 100, 4096, stream.len()] {
        let (seen, end) = read(50, &stream, chunk);
        assert_eq!(end, Ok(()));
        assert_eq!(
            seen,
            [
                Seen::Open(1),
                Seen::Message(2, vec![b'x'; 50], true),
                Seen::Message(3, b"next".to_vec(), false),
                Seen::Refused(4, RelpRefusal::TooLarge),
            ],
            "chunk {chunk}"
        );
    }
}

#[test]
fn trailers_do_not_count_against_the_maximum() {
    let exact = [vec![b'a'; 20], b"\r\n".to_vec()].concat();
    let over = vec![b'b'; 21];
    let stream = [
        frame(1, "open", b""),
        frame(2, "syslog", &exact),
        frame(3, "syslog", &over),
    ]
    .concat();
    let (seen, _) = read(20, &stream, stream.len());
    assert_eq!(
        seen[1..],
        [
            Seen::Message(2, vec![b'a'; 20], false),
            Seen::Message(3, vec![b'b'; 20], true),
        ]
    );
}

#[test]
fn an_oversized_frame_without_its_lf_ends_the_session() {
    let stream = [
        frame(1, "open", b""),
        b"2 syslog 200 ".to_vec(),
        vec![b'x'; 200],
        b"X".to_vec(),
    ]
    .concat();
    let (seen, end) = read(50, &stream, 16);
    assert_eq!(seen, [Seen::Open(1)]);
    assert_eq!(end, Err(RelpError::ExpectedLfAfterData));
}

#[test]
fn events_before_an_error_stand_and_the_error_says_what_was_wrong() {
    let stream = [
        frame(1, "open", b""),
        frame(2, "syslog", b"good"),
        b"3 syslog 4 bad!!\n".to_vec(),
    ]
    .concat();
    let (seen, end) = read(100, &stream, stream.len());
    assert_eq!(
        seen,
        [Seen::Open(1), Seen::Message(2, b"good".to_vec(), false)]
    );
    let err = end.expect_err("not RELP");
    assert_eq!(err, RelpError::ExpectedLfAfterData);
    assert_eq!(
        err.to_string(),
        "expected LF after as many bytes of data as the data length said"
    );
}
