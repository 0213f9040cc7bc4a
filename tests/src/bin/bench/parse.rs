//! Parse-only benchmark: the syslog parser (and the decoders that build records from
//! it) on one core, over an in-memory mix of what a collector receives, with no I/O.
//!
//! The mix, in this proportion:
//! - 50% RFC 5424 as rsyslog's forwarding template writes it
//!   (`RSYSLOG_SyslogProtocol23Format`: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG\n`);
//! - 35% RFC 3164 from devices: Linux daemons, routers with sequence numbers and
//!   unsynchronised clocks, tags without colons, switches without hostnames;
//! - 15% CEF behind a BSD header, as firewalls send it.

use std::hint::black_box;
use std::time::Instant;
use syslane_plugin_cef::CefDecoder;
use syslane_plugin_sdk::{FrameData, FrameDecoder, Record};
use syslane_syslog_decoder::SyslogDecoder;

/// `n` messages of the mix; `true` marks CEF.
pub fn mix(n: usize) -> Vec<(Vec<u8>, bool)> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    (0..n)
        .map(|i| {
            let (h, m, s) = ((i / 3600) % 24, (i / 60) % 60, i % 60);
            let mon = MONTHS[i % 12];
            let day = 1 + i % 28;
            let text = match i % 20 {
                0..=9 => format!(
                    "<{}>1 2026-11-25T{h:02}:{m:02}:{s:02}.{:06}+01:00 web-{:02}.example.com {} {} - - Accepted publickey for deploy from 192.0.2.{} port {} ssh2\n",
                    [38, 86, 30, 13][i % 4],
                    i % 1_000_000,
                    i % 40,
                    ["sshd", "sudo", "systemd", "nginx"][i % 4],
                    1000 + i % 30000,
                    i % 250,
                    40000 + i % 20000
                ),
                10..=12 => format!(
                    "<86>{mon} {day:>2} {h:02}:{m:02}:{s:02} host-{} sshd[{}]: pam_unix(sshd:session): session opened for user root by (uid=0)",
                    i % 50,
                    100 + i % 30000
                ),
                13 | 14 => format!(
                    "<189>{}: *{mon} {day:>2} {h:02}:{m:02}:{s:02}.{:03}: %LINEPROTO-5-UPDOWN: Line protocol on Interface GigabitEthernet0/{}, changed state to up",
                    i % 100_000,
                    i % 1000,
                    i % 48
                ),
                15 => format!(
                    "<13>{mon} {day:>2} {h:02}:{m:02}:{s:02} ap-{} kernel ath0: station 00:11:22:33:44:{:02x} associated",
                    i % 20,
                    i % 256
                ),
                16 => format!(
                    "<134>{mon} {day:>2} {h:02}:{m:02}:{s:02} {} 2026-11-25T{h:02}:{m:02}:{s:02} fw[{}]: dropped TCP 10.0.0.{}:{} -> 10.1.0.1:443",
                    i % 99,
                    i % 5000,
                    i % 250,
                    1024 + i % 60000
                ),
                _ => format!(
                    "<134>{mon} {day:>2} {h:02}:{m:02}:{s:02} fw-{:02} CEF:0|Palo Alto Networks|PAN-OS|10.1|TRAFFIC|end|3|src=10.0.{}.{} dst=203.0.113.{} spt={} dpt=443 proto=TCP act=allow cs1Label=Rule cs1=allow-web deviceExternalId=0123456789 msg=session ended",
                    i % 8,
                    i % 200,
                    i % 250,
                    i % 250,
                    1024 + i % 60000
                ),
            };
            (text.into_bytes(), i % 20 >= 17)
        })
        .collect()
}

/// Messages, each with whether it is CEF.
pub type Lines = Vec<(Vec<u8>, bool)>;

/// `n` CEF lines as in the mix (behind a BSD header), and `n` Cisco ASA/FTD lines
/// behind the same header, in the proportions a firewall sends them: connections
/// built and torn down (TCP and UDP), access-list denies and hits, translations.
pub fn security_lines(n: usize) -> (Lines, Lines) {
    let cef = mix(n * 20)
        .into_iter()
        .filter(|(_, is_cef)| *is_cef)
        .take(n)
        .collect();
    let asa = (0..n)
        .map(|i| {
            let (h, m, s) = ((i / 3600) % 24, (i / 60) % 60, i % 60);
            let (a, b, port) = (i % 250, (i / 250) % 250, 1024 + i % 60000);
            let text = match i % 10 {
                0..=2 => format!("%ASA-6-302013: Built outbound TCP connection {i} for outside:203.0.113.{a}/443 (203.0.113.{a}/443) to inside:10.0.{b}.{a}/{port} (198.51.100.{a}/{port})"),
                3..=5 => format!("%ASA-6-302014: Teardown TCP connection {i} for outside:203.0.113.{a}/443 to inside:10.0.{b}.{a}/{port} duration 0:01:{s:02} bytes {} TCP FINs", i * 37),
                6 => format!("%ASA-6-302015: Built inbound UDP connection {i} for outside:203.0.113.{a}/53 (203.0.113.{a}/53) to inside:10.0.{b}.{a}/{port} (10.0.{b}.{a}/{port})"),
                7 => format!("%ASA-4-106023: Deny tcp src outside:203.0.113.{a}/{port} dst inside:10.0.{b}.{a}/22 by access-group \"outside_in\" [0x0, 0x0]"),
                8 => format!("%FTD-6-106100: access-list inside_in permitted udp inside/10.0.{b}.{a}({port}) -> outside/203.0.113.{a}(53) hit-cnt 1 first hit [0x0, 0x0]"),
                _ => format!("%ASA-6-305011: Built dynamic TCP translation from inside:10.0.{b}.{a}/{port} to outside:198.51.100.{a}/{port}"),
            };
            let line = format!("<166>Nov 25 {h:02}:{m:02}:{s:02} fw-{:02} {text}", i % 8);
            (line.into_bytes(), false)
        })
        .collect();
    (cef, asa)
}

/// Prints, for CEF and for ASA/FTD lines apart, nanoseconds per record: the
/// parser alone, and the `cef` decoder making the CommonSecurityLog record.
pub fn security(rounds: usize) {
    let (cef_lines, asa_lines) = security_lines(20_000);
    let decoder = CefDecoder::from_config(r#"{"timezone":"UTC"}"#).unwrap();
    let avg = |l: &[(Vec<u8>, bool)]| l.iter().map(|(m, _)| m.len()).sum::<usize>() / l.len();
    println!(
        "security lines on the cef listener: {} CEF ({} bytes on average), {} ASA/FTD ({} bytes on average)",
        cef_lines.len(),
        avg(&cef_lines),
        asa_lines.len(),
        avg(&asa_lines)
    );
    let decode = |m: &[u8], _| {
        let frame = FrameData {
            data: m,
            peer: None,
            receive_time_ns: 1_795_000_000_000_000_000,
            truncated: false,
        };
        decoder.decode_frame(frame, |r: &Record<'_>| {
            black_box(r.fields.len());
        });
    };
    let asa_parse = |m: &[u8], _| {
        let _ = black_box(syslane_syslog::parse_asa(m).map(|a| a.network.source_ip));
    };
    for round in 1..=rounds {
        let ns = |rate: f64| 1e9 / rate;
        let cef_parse = ns(rate(&cef_lines, 2.0, |m, _| parse_only(m, true)));
        let asa_parse = ns(rate(&asa_lines, 2.0, asa_parse));
        let cef_decode = ns(rate(&cef_lines, 2.0, decode));
        let asa_decode = ns(rate(&asa_lines, 2.0, decode));
        println!(
            "round={round} cef_parse_ns_per_record={cef_parse:.0} asa_parse_ns_per_record={asa_parse:.0} cef_decode_ns_per_record={cef_decode:.0} asa_decode_ns_per_record={asa_decode:.0}"
        );
    }
}

/// Runs `f` over the mix until at least `secs` have passed; messages per second.
fn rate(mix: &[(Vec<u8>, bool)], secs: f64, mut f: impl FnMut(&[u8], bool)) -> f64 {
    let start = Instant::now();
    let mut done = 0usize;
    loop {
        for (m, cef) in mix {
            f(m, *cef);
        }
        done += mix.len();
        let elapsed = start.elapsed().as_secs_f64();
        if elapsed >= secs {
            return done as f64 / elapsed;
        }
    }
}

/// The parser alone: what the `syslog` plugin parses, and for CEF what the `cef`
/// plugin parses (the CEF body and the syslog header before it).
fn parse_only(m: &[u8], cef: bool) {
    if cef {
        if let Some(at) = syslane_syslog::find_cef(m) {
            let _ = black_box(syslane_syslog::parse_cef(&m[at..]).is_ok());
            black_box(syslane_syslog::parse(&m[..at]).hostname);
            return;
        }
    }
    black_box(syslane_syslog::parse(m).message);
}

/// Prints messages per second on one core: the parser, then the decoders.
pub fn run(messages: usize, rounds: usize, compare: bool) {
    let mix = mix(messages.min(200_000));
    let bytes: usize = mix.iter().map(|(m, _)| m.len()).sum();
    println!(
        "syslane parse benchmark: one core, {} distinct messages ({:.0} bytes on average): 50% RFC 5424 (rsyslog forwarding template), 35% RFC 3164 from devices, 15% CEF",
        mix.len(),
        bytes as f64 / mix.len() as f64
    );
    let syslog = SyslogDecoder::from_config(r#"{"timezone":"UTC"}"#).unwrap();
    let cef = CefDecoder::from_config(r#"{"timezone":"UTC"}"#).unwrap();
    let received = 1_795_000_000_000_000_000i64;
    if compare {
        super::compare::run(&mix);
    }
    for round in 1..=rounds {
        let p = rate(&mix, 2.0, parse_only);
        let d = rate(&mix, 2.0, |m, is_cef| {
            let frame = FrameData {
                data: m,
                peer: None,
                receive_time_ns: received,
                truncated: false,
            };
            let keep = |r: &Record<'_>| {
                black_box(r.message);
            };
            if is_cef {
                cef.decode_frame(frame, keep);
            } else {
                syslog.decode_frame(frame, keep);
            }
        });
        println!(
            "round={round} parse_msgs_per_sec_per_core={p:.0} decode_msgs_per_sec_per_core={d:.0}"
        );
    }
    security(rounds);
}
