use super::*;
use base64::Engine as _;
use proptest::prelude::*;
use serde_json::Value;

fn s(b: Option<&[u8]>) -> Option<&str> {
    b.map(|b| std::str::from_utf8(b).unwrap())
}

#[test]
fn rfc5424_full_header() {
    let m = parse(b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 42 ID47 [exampleSDID@32473 iut=\"3\"] \xEF\xBB\xBFAn event");
    assert_eq!(m.format, Format::Rfc5424);
    assert_eq!((m.facility, m.severity), (Some(20), Some(5)));
    assert_eq!(s(m.hostname), Some("mymachine.example.com"));
    assert_eq!(s(m.appname), Some("evntslog"));
    assert_eq!(s(m.procid), Some("42"));
    assert_eq!(s(m.msgid), Some("ID47"));
    assert_eq!(s(m.structured_data), Some("[exampleSDID@32473 iut=\"3\"]"));
    assert_eq!(m.message, b"An event");
    let ts = m.timestamp.unwrap();
    assert_eq!(
        (ts.year, ts.month, ts.day, ts.nanosecond, ts.offset_secs),
        (Some(2003), 10, 11, 3_000_000, Some(0))
    );
}

#[test]
fn rfc5424_sd_with_escaped_bracket_is_one_element() {
    let m = parse(br#"<29>2 2016-01-15T01:00:44Z h a p - [meta escape="\]"] some "mex""#);
    assert_eq!(s(m.structured_data), Some(r#"[meta escape="\]"]"#));
    assert_eq!(m.message, br#"some "mex""#);
}

#[test]
fn rfc5424_bad_timestamp_keeps_text() {
    let m = parse(b"<2>12 A B C D E -");
    assert_eq!(m.issue, Some(ParseIssue::Bad5424Timestamp));
    assert_eq!(m.severity, Some(2));
    assert!(m.message.ends_with(b"A B C D E -"));
}

#[test]
fn rfc3164_with_tag_and_pid() {
    let m = parse(b"<85>Jan 24 15:50:41 ip-172-31-30-110 sudo[6040]: ec2-user : TTY=pts/0");
    assert_eq!(m.format, Format::Rfc3164);
    assert_eq!(s(m.hostname), Some("ip-172-31-30-110"));
    assert_eq!(s(m.appname), Some("sudo"));
    assert_eq!(s(m.procid), Some("6040"));
    assert_eq!(m.message, b"ec2-user : TTY=pts/0");
    let ts = m.timestamp.unwrap();
    assert_eq!((ts.year, ts.month, ts.day, ts.hour), (None, 1, 24, 15));
}

#[test]
fn rfc3164_without_hostname() {
    let m = parse(b"<133>Jan 13 16:33:35 haproxy[73411]: Proxy started.");
    assert_eq!(m.hostname, None);
    assert_eq!(s(m.appname), Some("haproxy"));
    assert_eq!(m.message, b"Proxy started.");
}

#[test]
fn rfc3164_with_rfc3339_stamp_as_rsyslog_forwards() {
    let m = parse(b"<30>2024-03-01T10:00:00.123456+01:00 web1 nginx[7]: up");
    assert_eq!(s(m.hostname), Some("web1"));
    assert_eq!(m.timestamp.unwrap().offset_secs, Some(3600));
    assert_eq!(m.message, b"up");
}

#[test]
fn rfc3164_cisco_year_and_colon() {
    let m = parse(b"<189>Mar  1 2024 10:00:00: %SYS-5-CONFIG_I: Configured");
    assert_eq!(m.timestamp.unwrap().year, Some(2024));
    assert_eq!(s(m.appname), Some("%SYS-5-CONFIG_I"));
}

#[test]
fn no_pri_is_unstructured_and_whole() {
    let m = parse(b"complete and utter gobbledegook");
    assert_eq!(m.format, Format::Unstructured);
    assert_eq!(m.facility, None);
    assert_eq!(m.message, b"complete and utter gobbledegook");
}

#[test]
fn pri_out_of_range_is_not_a_pri() {
    let m = parse(b"<192>1 - - - - - - x");
    assert_eq!(m.facility, None);
    assert_eq!(m.message, b"<192>1 - - - - - - x");
}

#[test]
fn names_round_trip() {
    for (i, n) in FACILITY_NAMES.iter().enumerate() {
        assert_eq!(facility_code(n), Some(i as u8));
    }
    for (i, n) in SEVERITY_NAMES.iter().enumerate() {
        assert_eq!(severity_code(n), Some(i as u8));
    }
    assert_eq!(severity_code("Warn"), Some(4));
    assert_eq!(facility_code("nope"), None);
}

fn frames(input: &[u8], max: usize, chunk: usize) -> Vec<(Vec<u8>, FrameFlags)> {
    let mut out = Vec::new();
    let mut framer = Framer::new(max);
    let mut pending: Vec<u8> = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        pending.extend_from_slice(piece);
        let used = framer.feed(&pending, |f, fl| out.push((f.to_vec(), fl)));
        pending.drain(..used);
        assert!(
            pending.len() <= framer.max_pending() + chunk,
            "buffer grew past the bound"
        );
    }
    framer.finish(&pending, |f, fl| out.push((f.to_vec(), fl)));
    out
}

#[test]
fn framing_mixed_on_one_stream() {
    let got = frames(b"5 <1>ab<2>x\n3 abc<3>y\0", 100, 1);
    let texts: Vec<_> = got.iter().map(|(f, _)| f.clone()).collect();
    assert_eq!(
        texts,
        vec![
            b"<1>ab".to_vec(),
            b"<2>x".to_vec(),
            b"abc".to_vec(),
            b"<3>y".to_vec()
        ]
    );
}

#[test]
fn framing_oversized_messages_stay_in_step() {
    let mut input = b"20 <1>aaaaaaaaaaaaaaaaa".to_vec();
    input.extend_from_slice(b"<2>bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n<3>ok\n");
    for chunk in [1, 3, 7, 1000] {
        let got = frames(&input, 8, chunk);
        assert_eq!(got.len(), 3, "chunk {chunk}: {got:?}");
        assert_eq!(
            got[0],
            (
                b"<1>aaaaa".to_vec(),
                FrameFlags {
                    truncated: true,
                    incomplete: false
                }
            )
        );
        assert!(got[1].1.truncated);
        assert_eq!(got[2].0, b"<3>ok");
    }
}

#[test]
fn framing_keeps_an_unterminated_tail() {
    let got = frames(b"<1>x\n<2>tail", 100, 4);
    assert_eq!(
        got[1],
        (
            b"<2>tail".to_vec(),
            FrameFlags {
                truncated: false,
                incomplete: true
            }
        )
    );
}

#[test]
fn framing_nul_terminated_stream_keeps_line_feeds() {
    // Python's SysLogHandler over TCP: every message ends with NUL, a traceback holds LFs.
    let stream = b"<11>app: Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError\0<14>app: next\0<14>app: two\nlines\0";
    for chunk in [1, 7, stream.len()] {
        let texts: Vec<Vec<u8>> = frames(stream, 1000, chunk)
            .into_iter()
            .map(|f| f.0)
            .collect();
        if chunk == stream.len() {
            // Whole in one read: the first frame is recognised as NUL-terminated too.
            assert_eq!(texts.len(), 3, "{texts:?}");
            assert_eq!(
                texts[0],
                b"<11>app: Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError"
            );
        }
        // Once the stream has ended a frame with NUL, LF is content.
        assert_eq!(
            texts.last().unwrap(),
            b"<14>app: two\nlines",
            "chunk {chunk}"
        );
        assert_eq!(texts[texts.len() - 2], b"<14>app: next", "chunk {chunk}");
    }
}

#[test]
fn framing_lf_streams_are_not_taken_for_nul_terminated() {
    // An LF stream whose next message starts with `<` ends frames at LF even when a
    // NUL comes later; a lone NUL-ended frame after that switches the stream.
    let got: Vec<Vec<u8>> = frames(b"<1>a\n<2>b\n<3>c\0<4>d\ne\0", 100, 100)
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(
        got,
        vec![
            b"<1>a".to_vec(),
            b"<2>b".to_vec(),
            b"<3>c".to_vec(),
            b"<4>d\ne".to_vec()
        ]
    );
    // Without a NUL an LF ends the frame whatever follows it.
    let got: Vec<Vec<u8>> = frames(b"<1>a\n  indented\n", 100, 100)
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(got, vec![b"<1>a".to_vec(), b"  indented".to_vec()]);
}

#[test]
fn framing_nul_terminated_oversized_message_stays_in_step() {
    let mut stream = b"<1>x\0<2>".to_vec();
    stream.extend_from_slice(&[b'y'; 50]);
    stream.extend_from_slice(b"\nmore\0<3>ok\0");
    for chunk in [1, 4, stream.len()] {
        let got = frames(&stream, 16, chunk);
        let texts: Vec<&[u8]> = got.iter().map(|f| f.0.as_slice()).collect();
        assert_eq!(texts.len(), 3, "chunk {chunk}: {texts:?}");
        assert!(got[1].1.truncated);
        assert_eq!(texts[2], b"<3>ok");
    }
}

#[test]
fn rfc3164_bracketed_word_after_the_tag_is_text() {
    let m = parse(b"<14>Dec  6 09:15:08 web01 webapp[99]: [INFO] m07 started");
    assert_eq!(s(m.appname), Some("webapp"));
    assert_eq!(s(m.procid), Some("99"));
    assert_eq!(m.structured_data, None);
    assert_eq!(m.message, b"[INFO] m07 started");
    let m = parse(b"<6>Dec  6 09:15:08 web01 kernel: [12345.678901] eth0: link up");
    assert_eq!(s(m.appname), Some("kernel"));
    assert_eq!(m.message, b"[12345.678901] eth0: link up");
    // rsyslog's own structured data has parameters and stays structured data.
    let m = parse(b"<46>Dec  6 09:15:08 web01 rsyslogd: [origin software=\"rsyslogd\" swVersion=\"8.2302.0\"] start");
    assert_eq!(
        s(m.structured_data),
        Some("[origin software=\"rsyslogd\" swVersion=\"8.2302.0\"]")
    );
    assert_eq!(m.message, b"start");
    let m = parse(b"<14>Dec  6 09:15:08 web01 app: [a x=\"1\"][INFO] text");
    assert_eq!(m.structured_data, None);
    assert_eq!(m.message, b"[a x=\"1\"][INFO] text");
}

#[test]
fn rfc3164_drops_one_separator_space_and_keeps_indentation() {
    let m = parse(b"<14>Dec  6 09:15:08 web01 app[7]:     File \"x.py\", line 3");
    assert_eq!(s(m.appname), Some("app"));
    assert_eq!(m.message, b"    File \"x.py\", line 3");
    let m = parse(b"<14>Dec  6 09:15:08 web01 app:text");
    assert_eq!(m.message, b"text");
    // Doubled spaces between header fields are still skipped.
    let m = parse(b"<14>Dec  6 09:15:08  web01  app[7]:  two");
    assert_eq!(
        (s(m.hostname), s(m.appname), m.message),
        (Some("web01"), Some("app"), &b" two"[..])
    );
    // With no header after the PRI the text starts right after `>`.
    let m = parse(b"<14>  indented");
    assert_eq!(m.message, b"  indented");
    let m = parse(b"<14>app[1]:   x");
    assert_eq!((s(m.appname), m.message), (Some("app"), &b"  x"[..]));
}

#[test]
fn rfc5424_keeps_spaces_after_the_one_separator() {
    let m = parse(b"<14>1 2026-12-06T09:15:08Z web01 app 7 - -   indented");
    assert_eq!(m.message, b"  indented");
}

/// Every row of the shared framing corpus: the messages the source's best-effort mode
/// returns come out in the same order with the same fields; where the source reports
/// an error we must not lose bytes: either the message is there or the bytes are kept
/// as a frame of their own. Nothing panics.
#[test]
fn framing_corpus() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/framing-cases.jsonl"
    ))
    .expect("the shared corpus is beside the project (../shared/corpus)");
    let mut checked = 0;
    for line in text.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        let id = case["id"].as_str().unwrap();
        let input = base64::engine::general_purpose::STANDARD
            .decode(case["input_b64"].as_str().unwrap())
            .unwrap();
        let max = case["max_message_length"]
            .as_u64()
            .map_or(65536, |m| m as usize);
        for chunk in [1, 5, input.len().max(1)] {
            let got = frames(&input, max, chunk);
            let expected: Vec<&Value> = case["best_effort_results"]
                .as_array()
                .unwrap()
                .iter()
                .collect();
            let mut g = got.iter();
            for exp in &expected {
                let Some(want) = exp.get("message") else {
                    continue;
                };
                let (frame, _) = loop {
                    let next = g.next().unwrap_or_else(|| {
                        panic!("{id}: expected message {want} not framed; got {got:?}")
                    });
                    if parse(&next.0).severity.is_some() {
                        break next;
                    }
                };
                let m = parse(frame);
                assert_eq!(
                    m.facility.map(u64::from),
                    want["facility"].as_u64(),
                    "{id} facility"
                );
                assert_eq!(
                    m.severity.map(u64::from),
                    want["severity"].as_u64(),
                    "{id} severity"
                );
                if exp.get("error").is_some() {
                    // The source's best effort drops the text of a message it could not
                    // parse; a collector keeps it, so only PRI is comparable.
                    continue;
                }
                for (key, field) in [
                    ("hostname", m.hostname),
                    ("appname", m.appname),
                    ("procid", m.procid),
                    ("msgid", m.msgid),
                ] {
                    match &want[key] {
                        Value::Null => assert_eq!(field, None, "{id} {key}"),
                        Value::String(v) => assert_eq!(s(field), Some(v.as_str()), "{id} {key}"),
                        Value::Object(o) => {
                            let f = s(field).unwrap();
                            assert_eq!(
                                f.len() as u64,
                                o["len"].as_u64().unwrap(),
                                "{id} {key} length"
                            );
                            assert!(
                                f.starts_with(o["prefix"].as_str().unwrap()),
                                "{id} {key} prefix"
                            );
                        }
                        other => panic!("{id}: unexpected {other}"),
                    }
                }
                match &want["message"] {
                    Value::String(v) => assert_eq!(m.message, v.as_bytes(), "{id} message"),
                    Value::Object(o) => assert_eq!(
                        m.message.len() as u64,
                        o["len"].as_u64().unwrap(),
                        "{id} message length"
                    ),
                    _ => assert!(m.message.is_empty(), "{id} message should be empty"),
                }
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 26, "every framing case ran");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let m = parse(&bytes);
        prop_assert!(m.message.len() <= bytes.len());
    }

    #[test]
    fn parser_never_panics_on_syslog_shaped_input(s in "<[0-9]{1,3}>[0-9 ]{0,3}[-0-9TZ:.+ ]{0,30}[ -~\\[\\]\"=\\\\]{0,80}") {
        let _ = parse(s.as_bytes());
    }

    #[test]
    fn framer_never_panics_and_stays_bounded(bytes in proptest::collection::vec(any::<u8>(), 0..600), chunk in 1usize..64, max in 1usize..64) {
        let out = frames(&bytes, max, chunk);
        for (f, _) in out {
            prop_assert!(f.len() <= max);
        }
    }

    #[test]
    fn framer_splits_counted_frames_exactly(msgs in proptest::collection::vec("[ -~]{1,40}", 1..20), chunk in 1usize..50) {
        let mut stream = Vec::new();
        for m in &msgs {
            stream.extend_from_slice(format!("{} {}", m.len(), m).as_bytes());
        }
        let got: Vec<String> = frames(&stream, 1000, chunk).into_iter().map(|(f, _)| String::from_utf8(f).unwrap()).collect();
        prop_assert_eq!(got, msgs);
    }

    #[test]
    fn framer_splits_delimited_frames_exactly(msgs in proptest::collection::vec("<[1-9]>[ -~]{0,40}", 1..20), chunk in 1usize..50, nul in any::<bool>()) {
        let mut stream = Vec::new();
        for m in &msgs {
            stream.extend_from_slice(m.as_bytes());
            stream.push(if nul { 0 } else { b'\n' });
        }
        let got: Vec<String> = frames(&stream, 1000, chunk).into_iter().map(|(f, _)| String::from_utf8(f).unwrap()).collect();
        prop_assert_eq!(got, msgs);
    }
}
