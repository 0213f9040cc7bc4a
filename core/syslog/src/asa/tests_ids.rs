#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Every covered id, with a line written from its format in Cisco's guide (and,
//! where devices write it differently, as devices write it), read behind every
//! header shape, for ASA and FTD.

use super::tests::shapes;
use super::*;

/// Parses `text` under `id` behind every header shape and product, and checks the
/// columns filled are exactly `want`.
fn check(level: u8, id: &str, text: &str, want: &[(&str, &str)]) {
    for product in ["ASA", "FTD"] {
        for (shape, line, _) in shapes(product, level, id, text) {
            let a = parse_asa(line.as_bytes()).unwrap_or_else(|e| panic!("{shape}: {e}"));
            assert_eq!(a.matched, AsaMatch::Id, "{id} {shape}: {line}");
            let got: Vec<(&str, &str)> = a
                .network
                .columns()
                .into_iter()
                .filter_map(|(k, v)| Some((k, std::str::from_utf8(v?).unwrap())))
                .collect();
            let mut want = want.to_vec();
            want.sort_unstable();
            let mut got_sorted = got.clone();
            got_sorted.sort_unstable();
            assert_eq!(got_sorted, want, "{id} {shape}: {line}");
            let name = asa_covered_ids()
                .find(|(i, _)| i.to_string() == id)
                .unwrap()
                .1;
            assert_eq!(a.activity, name.as_bytes());
        }
    }
}

#[test]
fn built_tcp_inbound_302013() {
    check(6, "302013", "Built inbound TCP connection 11 for outside:198.51.100.7/21647 (198.51.100.7/21647) to inside:10.1.1.2/22 (203.0.113.5/22)", &[
        ("SourceIP", "198.51.100.7"), ("SourcePort", "21647"), ("DeviceInboundInterface", "outside"),
        ("DestinationIP", "10.1.1.2"), ("DestinationPort", "22"), ("DeviceOutboundInterface", "inside"),
        ("SourceTranslatedAddress", "198.51.100.7"), ("SourceTranslatedPort", "21647"),
        ("DestinationTranslatedAddress", "203.0.113.5"), ("DestinationTranslatedPort", "22"),
        ("Protocol", "TCP"), ("DeviceAction", "built"),
    ]);
}

#[test]
fn built_tcp_outbound_302013_with_users() {
    check(6, "302013", "Built outbound TCP connection 2921 for outside:198.51.100.100/80 (198.51.100.100/80) to inside:172.16.11.5/58799 (203.0.113.2/58799) (LOCAL\\alice)", &[
        ("SourceIP", "172.16.11.5"), ("SourcePort", "58799"), ("DeviceInboundInterface", "inside"),
        ("SourceTranslatedAddress", "203.0.113.2"), ("SourceTranslatedPort", "58799"),
        ("DestinationIP", "198.51.100.100"), ("DestinationPort", "80"), ("DeviceOutboundInterface", "outside"),
        ("DestinationTranslatedAddress", "198.51.100.100"), ("DestinationTranslatedPort", "80"),
        ("Protocol", "TCP"), ("DeviceAction", "built"), ("SourceUserName", "LOCAL\\alice"),
    ]);
}

#[test]
fn teardown_tcp_302014() {
    check(6, "302014", "Teardown TCP connection 8 for inside:10.1.1.2/12523 to NP Identity Ifc:10.1.1.1/22 duration 0:00:53 bytes 2436 TCP FINs (bob)", &[
        ("SourceIP", "10.1.1.2"), ("SourcePort", "12523"), ("DeviceInboundInterface", "inside"),
        ("DestinationIP", "10.1.1.1"), ("DestinationPort", "22"), ("DeviceOutboundInterface", "NP Identity Ifc"),
        ("Protocol", "TCP"), ("DeviceAction", "teardown"), ("SentBytes", "2436"),
        ("Reason", "TCP FINs"), ("SourceUserName", "bob"),
    ]);
    check(6, "302014", "Teardown TCP connection 9 for outside:10.1.2.1/22 to inside:10.1.1.2/53496 duration 0:00:30 bytes 0 SYN Timeout", &[
        ("SourceIP", "10.1.2.1"), ("SourcePort", "22"), ("DeviceInboundInterface", "outside"),
        ("DestinationIP", "10.1.1.2"), ("DestinationPort", "53496"), ("DeviceOutboundInterface", "inside"),
        ("Protocol", "TCP"), ("DeviceAction", "teardown"), ("SentBytes", "0"), ("Reason", "SYN Timeout"),
    ]);
}

#[test]
fn built_udp_302015() {
    check(6, "302015", "Built outbound UDP connection 414128851 for outside:168.15.3.6/53 (168.15.3.6/53) to inside:192.168.10.5/53 (192.168.10.5/171)", &[
        ("SourceIP", "192.168.10.5"), ("SourcePort", "53"), ("DeviceInboundInterface", "inside"),
        ("SourceTranslatedAddress", "192.168.10.5"), ("SourceTranslatedPort", "171"),
        ("DestinationIP", "168.15.3.6"), ("DestinationPort", "53"), ("DeviceOutboundInterface", "outside"),
        ("DestinationTranslatedAddress", "168.15.3.6"), ("DestinationTranslatedPort", "53"),
        ("Protocol", "UDP"), ("DeviceAction", "built"),
    ]);
}

#[test]
fn teardown_udp_302016() {
    check(6, "302016", "Teardown UDP connection 414128851 for outside:168.15.3.6/53 to inside:192.168.10.5/53 duration 0:02:01 bytes 1024", &[
        ("SourceIP", "168.15.3.6"), ("SourcePort", "53"), ("DeviceInboundInterface", "outside"),
        ("DestinationIP", "192.168.10.5"), ("DestinationPort", "53"), ("DeviceOutboundInterface", "inside"),
        ("Protocol", "UDP"), ("DeviceAction", "teardown"), ("SentBytes", "1024"),
    ]);
}

#[test]
fn icmp_302020_302021() {
    check(6, "302020", "Built inbound ICMP connection for faddr 198.51.100.9/1 gaddr 203.0.113.2/0 laddr 10.2.2.2/0 type 8 code 0", &[
        ("SourceIP", "198.51.100.9"), ("DestinationIP", "10.2.2.2"),
        ("DestinationTranslatedAddress", "203.0.113.2"), ("Protocol", "ICMP"), ("DeviceAction", "built"),
    ]);
    check(6, "302020", "Built outbound ICMP connection for faddr 198.51.100.9/0 gaddr 203.0.113.2/7 laddr 10.2.2.2/7 (carol) type 8 code 0", &[
        ("SourceIP", "10.2.2.2"), ("SourceTranslatedAddress", "203.0.113.2"), ("DestinationIP", "198.51.100.9"),
        ("Protocol", "ICMP"), ("DeviceAction", "built"), ("SourceUserName", "carol"),
    ]);
    check(6, "302021", "Teardown ICMP connection for faddr 198.51.100.9/1 gaddr 203.0.113.2/0 laddr 10.2.2.2/0 type 8 code 0", &[
        ("SourceIP", "198.51.100.9"), ("DestinationIP", "10.2.2.2"),
        ("DestinationTranslatedAddress", "203.0.113.2"), ("Protocol", "ICMP"), ("DeviceAction", "teardown"),
    ]);
}

#[test]
fn inbound_tcp_denied_106001() {
    check(2, "106001", "Inbound TCP connection denied from 198.51.100.4/4455 to 10.0.0.8/23 flags SYN on interface outside", &[
        ("SourceIP", "198.51.100.4"), ("SourcePort", "4455"), ("DestinationIP", "10.0.0.8"), ("DestinationPort", "23"),
        ("DeviceInboundInterface", "outside"), ("Protocol", "TCP"), ("DeviceAction", "denied"),
    ]);
}

#[test]
fn deny_inbound_udp_106006_106007() {
    check(
        2,
        "106006",
        "Deny inbound UDP from 198.51.100.4/137 to 10.0.0.8/137 on interface outside.",
        &[
            ("SourceIP", "198.51.100.4"),
            ("SourcePort", "137"),
            ("DestinationIP", "10.0.0.8"),
            ("DestinationPort", "137"),
            ("DeviceInboundInterface", "outside"),
            ("Protocol", "UDP"),
            ("DeviceAction", "denied"),
        ],
    );
    check(
        2,
        "106007",
        "Deny inbound UDP from 198.51.100.4/53 to 10.0.0.8/3023 due to DNS Response",
        &[
            ("SourceIP", "198.51.100.4"),
            ("SourcePort", "53"),
            ("DestinationIP", "10.0.0.8"),
            ("DestinationPort", "3023"),
            ("Reason", "DNS Response"),
            ("Protocol", "UDP"),
            ("DeviceAction", "denied"),
        ],
    );
}

#[test]
fn deny_inbound_106010_and_icmp_106014() {
    check(
        3,
        "106010",
        "Deny inbound tcp src outside:198.51.100.4/3345 dst inside:10.0.0.8/445",
        &[
            ("SourceIP", "198.51.100.4"),
            ("SourcePort", "3345"),
            ("DeviceInboundInterface", "outside"),
            ("DestinationIP", "10.0.0.8"),
            ("DestinationPort", "445"),
            ("DeviceOutboundInterface", "inside"),
            ("Protocol", "tcp"),
            ("DeviceAction", "denied"),
        ],
    );
    check(
        3,
        "106014",
        "Deny inbound icmp src outside:198.51.100.4 dst inside:10.0.0.8 (type 8, code 0)",
        &[
            ("SourceIP", "198.51.100.4"),
            ("DeviceInboundInterface", "outside"),
            ("DestinationIP", "10.0.0.8"),
            ("DeviceOutboundInterface", "inside"),
            ("Protocol", "icmp"),
            ("DeviceAction", "denied"),
        ],
    );
}

#[test]
fn deny_tcp_no_connection_106015() {
    check(6, "106015", "Deny TCP (no connection) from 10.0.0.8/443 to 198.51.100.4/51515 flags RST ACK  on interface inside", &[
        ("SourceIP", "10.0.0.8"), ("SourcePort", "443"), ("DestinationIP", "198.51.100.4"), ("DestinationPort", "51515"),
        ("DeviceInboundInterface", "inside"), ("Protocol", "TCP"), ("DeviceAction", "denied"),
    ]);
}

#[test]
fn reverse_path_106021() {
    check(
        1,
        "106021",
        "Deny TCP reverse path check from 10.9.9.9 to 10.0.0.8 on interface outside",
        &[
            ("SourceIP", "10.9.9.9"),
            ("DestinationIP", "10.0.0.8"),
            ("DeviceInboundInterface", "outside"),
            ("Protocol", "TCP"),
            ("DeviceAction", "denied"),
        ],
    );
}

#[test]
fn deny_by_access_group_106023() {
    check(4, "106023", "Deny tcp src outside:198.51.100.4/51000 dst inside:10.0.0.8/3389 by access-group \"outside_access_in\" [0x8ed66b60, 0xf8852875]", &[
        ("SourceIP", "198.51.100.4"), ("SourcePort", "51000"), ("DeviceInboundInterface", "outside"),
        ("DestinationIP", "10.0.0.8"), ("DestinationPort", "3389"), ("DeviceOutboundInterface", "inside"),
        ("Protocol", "tcp"), ("DeviceAction", "denied"), ("DeviceCustomString1", "outside_access_in"),
    ]);
    check(4, "106023", "Deny icmp src outside:198.51.100.4 (LOCAL\\dave, sg-1) dst inside:10.0.0.8 (type 8, code 0) by access-group \"acl in\" [0x0, 0x0]", &[
        ("SourceIP", "198.51.100.4"), ("DeviceInboundInterface", "outside"), ("SourceUserName", "LOCAL\\dave"),
        ("DestinationIP", "10.0.0.8"), ("DeviceOutboundInterface", "inside"),
        ("Protocol", "icmp"), ("DeviceAction", "denied"), ("DeviceCustomString1", "acl in"),
    ]);
}

#[test]
fn access_list_106100() {
    check(6, "106100", "access-list outside_access_in permitted tcp outside/198.51.100.4(5555) -> inside/10.0.0.8(443) hit-cnt 1 first hit [0x4c0bd3c8, 0x0]", &[
        ("SourceIP", "198.51.100.4"), ("SourcePort", "5555"), ("DeviceInboundInterface", "outside"),
        ("DestinationIP", "10.0.0.8"), ("DestinationPort", "443"), ("DeviceOutboundInterface", "inside"),
        ("Protocol", "tcp"), ("DeviceAction", "permitted"), ("DeviceCustomString1", "outside_access_in"),
    ]);
    // As the guide writes it: no `->`, a user group.
    check(6, "106100", "access-list inside_in denied udp inside/10.0.0.8(1025)(LOCAL\\erin, sg) outside/198.51.100.4(53) hit-cnt 3 300-second interval [0x0, 0x0]", &[
        ("SourceIP", "10.0.0.8"), ("SourcePort", "1025"), ("DeviceInboundInterface", "inside"), ("SourceUserName", "LOCAL\\erin"),
        ("DestinationIP", "198.51.100.4"), ("DestinationPort", "53"), ("DeviceOutboundInterface", "outside"),
        ("Protocol", "udp"), ("DeviceAction", "denied"), ("DeviceCustomString1", "inside_in"),
    ]);
}

#[test]
fn translations_305011_305012() {
    check(
        6,
        "305011",
        "Built dynamic TCP translation from inside:172.31.98.44/1772 to outside:192.168.98.44/8256",
        &[
            ("SourceIP", "172.31.98.44"),
            ("SourcePort", "1772"),
            ("DeviceInboundInterface", "inside"),
            ("SourceTranslatedAddress", "192.168.98.44"),
            ("SourceTranslatedPort", "8256"),
            ("DeviceOutboundInterface", "outside"),
            ("Protocol", "TCP"),
            ("DeviceAction", "built"),
        ],
    );
    check(6, "305012", "Teardown dynamic UDP translation from inside:10.0.0.8/1025 (frank) to outside:203.0.113.2/40001 duration 0:00:30", &[
        ("SourceIP", "10.0.0.8"), ("SourcePort", "1025"), ("DeviceInboundInterface", "inside"), ("SourceUserName", "frank"),
        ("SourceTranslatedAddress", "203.0.113.2"), ("SourceTranslatedPort", "40001"), ("DeviceOutboundInterface", "outside"),
        ("Protocol", "UDP"), ("DeviceAction", "teardown"),
    ]);
}

#[test]
fn aaa_113004_113005() {
    check(
        6,
        "113004",
        "AAA user authentication Successful : server = 10.5.5.5 : user = grace",
        &[
            ("DestinationIP", "10.5.5.5"),
            ("SourceUserName", "grace"),
            ("DeviceAction", "allowed"),
        ],
    );
    // As the guide writes it.
    check(
        6,
        "113004",
        "AAA user authorization Successful: server = 10.5.5.5, User = grace",
        &[
            ("DestinationIP", "10.5.5.5"),
            ("SourceUserName", "grace"),
            ("DeviceAction", "allowed"),
        ],
    );
    check(6, "113005", "AAA user authentication Rejected : reason = AAA failure : server = 10.5.5.5 : user = ***** : user IP = 198.51.100.4", &[
        ("SourceIP", "198.51.100.4"), ("DestinationIP", "10.5.5.5"), ("SourceUserName", "*****"),
        ("Reason", "AAA failure"), ("DeviceAction", "denied"),
    ]);
}

#[test]
fn anyconnect_113039() {
    check(
        6,
        "113039",
        "Group <GroupPolicy_VPN> User <heidi> IP <198.51.100.4> AnyConnect parent session started.",
        &[
            ("SourceIP", "198.51.100.4"),
            ("SourceUserName", "heidi"),
            ("DeviceAction", "started"),
        ],
    );
    check(
        6,
        "113039",
        "Group DfltGrpPolicy User heidi IP 198.51.100.4 AnyConnect parent session started.",
        &[
            ("SourceIP", "198.51.100.4"),
            ("SourceUserName", "heidi"),
            ("DeviceAction", "started"),
        ],
    );
}

#[test]
fn management_login_611101() {
    check(
        6,
        "611101",
        "User authentication succeeded: IP address: 10.0.0.8, Uname: ivan",
        &[
            ("SourceIP", "10.0.0.8"),
            ("SourceUserName", "ivan"),
            ("DeviceAction", "allowed"),
        ],
    );
}

#[test]
fn svc_722022_722023() {
    check(6, "722022", "Group <GroupPolicy_VPN> User <judy> IP <198.51.100.4> TCP SVC connection established without compression", &[
        ("SourceIP", "198.51.100.4"), ("SourceUserName", "judy"), ("Protocol", "TCP"), ("DeviceAction", "established"),
    ]);
    check(6, "722023", "Group <GroupPolicy_VPN> User <judy> IP <198.51.100.4> UDP SVC connection terminated with compression", &[
        ("SourceIP", "198.51.100.4"), ("SourceUserName", "judy"), ("Protocol", "UDP"), ("DeviceAction", "terminated"),
    ]);
}

#[test]
fn address_assigned_722051() {
    check(4, "722051", "Group <GroupPolicy_VPN> User <karl> IP <198.51.100.4> IPv4 Address <10.10.0.5> IPv6 address <::> assigned to session", &[
        ("SourceIP", "198.51.100.4"), ("SourceUserName", "karl"), ("SourceTranslatedAddress", "10.10.0.5"), ("DeviceAction", "assigned"),
    ]);
}

#[test]
fn dap_734001() {
    check(6, "734001", "DAP: User lena, Addr 198.51.100.4, Connection AnyConnect: The following DAP records were selected for this connection: DfltAccessPolicy", &[
        ("SourceIP", "198.51.100.4"), ("SourceUserName", "lena"), ("DeviceAction", "selected"),
    ]);
}

#[test]
fn threat_detection_733100_and_shun_401004() {
    check(4, "733100", "[ 198.51.100.4] drop rate-1 exceeded. Current burst rate is 10 per second, max configured rate is 10; Current average rate is 5 per second, max configured rate is 5; Cumulative total count is 3000", &[
        ("SourceIP", "198.51.100.4"), ("DeviceAction", "dropped"),
    ]);
    check(4, "733100", "[ Scanning] drop rate-2 exceeded. Current burst rate is 1 per second, max configured rate is 10; Current average rate is 1 per second, max configured rate is 5; Cumulative total count is 3000", &[
        ("DeviceAction", "dropped"),
    ]);
    check(
        4,
        "401004",
        "Shunned packet: 198.51.100.4 ==> 10.0.0.8 on interface outside",
        &[
            ("SourceIP", "198.51.100.4"),
            ("DestinationIP", "10.0.0.8"),
            ("DeviceInboundInterface", "outside"),
            ("DeviceAction", "shunned"),
        ],
    );
}

#[test]
fn ftd_connection_events_430002_430003() {
    check(1, "430003", "DeviceUUID: 6ee4e7a2-0000-11e9-9c8e-000000000000, InstanceID: 1, FirstPacketSecond: 2026-12-06T13:00:01Z, ConnectionID: 7, AccessControlRuleAction: Allow, SrcIP: 10.0.0.8, DstIP: 198.51.100.4, SrcPort: 51515, DstPort: 443, Protocol: tcp, IngressInterface: inside, EgressInterface: outside, ACPolicy: Default, AccessControlRuleName: Allow Web, Prefilter Policy: Default Prefilter Policy, User: No Authentication Required, InitiatorPackets: 10, ResponderPackets: 12, InitiatorBytes: 1500, ResponderBytes: 64000, NAT_InitiatorAddress: 203.0.113.2, NAT_InitiatorPort: 40001, NAT_ResponderAddress: 198.51.100.4, NAT_ResponderPort: 443", &[
        ("SourceIP", "10.0.0.8"), ("SourcePort", "51515"), ("DestinationIP", "198.51.100.4"), ("DestinationPort", "443"),
        ("Protocol", "tcp"), ("DeviceInboundInterface", "inside"), ("DeviceOutboundInterface", "outside"),
        ("DeviceAction", "Allow"), ("DeviceCustomString1", "Allow Web"), ("SourceUserName", "No Authentication Required"),
        ("SentBytes", "1500"), ("ReceivedBytes", "64000"),
        ("SourceTranslatedAddress", "203.0.113.2"), ("SourceTranslatedPort", "40001"),
        ("DestinationTranslatedAddress", "198.51.100.4"), ("DestinationTranslatedPort", "443"),
    ]);
    check(1, "430002", "AccessControlRuleAction: Block, SrcIP: 10.0.0.8, DstIP: 198.51.100.4, SrcPort: 51515, DstPort: 23, Protocol: tcp, AccessControlRuleName: Block Telnet, URL: http://x/?a=1, b=2", &[
        ("SourceIP", "10.0.0.8"), ("SourcePort", "51515"), ("DestinationIP", "198.51.100.4"), ("DestinationPort", "23"),
        ("Protocol", "tcp"), ("DeviceAction", "Block"), ("DeviceCustomString1", "Block Telnet"),
    ]);
}
