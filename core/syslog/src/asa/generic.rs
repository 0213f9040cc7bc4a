//! The generic reading, for ids the tables do not cover and for covered ids whose
//! text has changed: the endpoints of the two shapes most ASA messages share,
//! `src IF:ADDR[/PORT] dst IF:ADDR[/PORT]` and `from [IF:]ADDR[/PORT] to [IF:]ADDR[/PORT]`,
//! and the protocol word in front of `src` (`Deny tcp src …`).

use super::cursor::Cursor;
use super::AsaNetwork;

/// Fills what the text's `src … dst …` or `from … to …` shape gives.
pub(super) fn read<'a>(text: &'a [u8], net: &mut AsaNetwork<'a>) {
    if src_dst(text, net) {
        return;
    }
    from_to(text, net);
}

/// Offsets where `word` starts a word in `text` (at the start or after a space).
fn words<'a>(text: &'a [u8], word: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    memchr::memmem::find_iter(text, word).filter(move |&i| i == 0 || text[i - 1] == b' ')
}

fn src_dst<'a>(text: &'a [u8], net: &mut AsaNetwork<'a>) -> bool {
    for at in words(text, b"src ") {
        let mut c = Cursor::new(&text[at + 4..]);
        let Some(src) = c.endpoint() else { continue };
        while c.group().is_some() {}
        if !c.lit(b"dst ") {
            continue;
        }
        let Some(dst) = c.endpoint() else { continue };
        fill(net, src, dst);
        // `… PROTO src …`: the word before `src`.
        let before = super::cursor::trim(&text[..at]);
        let word = before.rsplit(|c| *c == b' ').next().unwrap_or(b"");
        let protocols: [&[u8]; 8] = [
            b"tcp", b"udp", b"icmp", b"icmp6", b"icmpv6", b"gre", b"esp", b"sctp",
        ];
        if protocols.iter().any(|p| p.eq_ignore_ascii_case(word)) {
            net.protocol = Some(word);
        }
        return true;
    }
    false
}

fn from_to<'a>(text: &'a [u8], net: &mut AsaNetwork<'a>) -> bool {
    for at in words(text, b"from ") {
        let mut c = Cursor::new(&text[at + 5..]);
        let Some(src) = c.endpoint() else { continue };
        while c.group().is_some() {}
        if !c.lit(b"to ") {
            continue;
        }
        let Some(dst) = c.endpoint() else { continue };
        fill(net, src, dst);
        return true;
    }
    false
}

fn fill<'a>(
    net: &mut AsaNetwork<'a>,
    src: super::cursor::Endpoint<'a>,
    dst: super::cursor::Endpoint<'a>,
) {
    net.source_ip = Some(src.address);
    net.source_port = src.port;
    net.inbound_interface = src.interface;
    net.destination_ip = Some(dst.address);
    net.destination_port = dst.port;
    net.outbound_interface = dst.interface;
}
