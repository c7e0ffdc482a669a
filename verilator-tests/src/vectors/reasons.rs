//! Every reason code, each from a frame crafted to fail exactly one check (header checksums are
//! fixed after every edit, so only the intended rule can fire).

use super::lab::{self, Conn, DARK, MEMBERS, PEERS, QUIET, VIP};
use crate::frames::{self, Link, Tcp, L4};
use crate::host::{Delivery, Host};
use anypoint_driver::{MemberConfig, PolicyKind, Proto};
use anypoint_model::regs::{member_state, reason, reg};
use etherparse::{IpFragOffset, Ipv4Header};
use std::net::{Ipv4Addr, SocketAddrV4};

/// Runs `send` and checks that the pipeline counted reason `code` once.
fn counted(host: &mut Host, code: u8, send: impl FnOnce(&mut Host) -> Delivery) -> Delivery {
    let counter = lab::reason_counter(code);
    let before = host.counter(counter);
    let d = send(host);
    assert_eq!(
        host.counter(counter),
        before + 1,
        "reason {code} not counted: {d:?}"
    );
    d
}

/// Runs a forward that must also count one record under reason `code`.
fn counted_forward(host: &mut Host, code: u8, send: impl FnOnce(&mut Host) -> Vec<u8>) {
    let before = host.counter(lab::reason_counter(code));
    send(host);
    assert_eq!(
        host.counter(lab::reason_counter(code)),
        before + 1,
        "reason {code}"
    );
}

/// Sends `frame` and checks that the pipeline counted it under reason `code`.
fn expect(host: &mut Host, port: u8, frame: &[u8], code: u8) -> Delivery {
    counted(host, code, |h| h.receive(port, frame))
}

const ACK: Tcp = Tcp {
    flags: frames::ACK,
    seq: 1,
    ack: 1,
};

pub fn run(host: &mut Host) {
    let web = SocketAddrV4::new(VIP, 80);
    lab::add(
        host,
        lab::service("web", 80, Proto::Tcp, PolicyKind::Maglev),
        &[lab::member(1, 8080, 1), lab::member(2, 8080, 1)],
    );
    lab::add(
        host,
        lab::service("empty", 81, Proto::Tcp, PolicyKind::Maglev),
        &[],
    );
    let unresolved = MemberConfig {
        mac: None,
        ..lab::member(5, 8082, 1)
    };
    lab::add(
        host,
        lab::service("nomac", 82, Proto::Tcp, PolicyKind::Maglev),
        &[unresolved],
    );
    let dark = MemberConfig {
        out_port: DARK,
        ..lab::member(6, 8083, 1)
    };
    lab::add(
        host,
        lab::service("dark", 83, Proto::Tcp, PolicyKind::Maglev),
        &[dark],
    );
    lab::add(
        host,
        lab::service("down", 84, Proto::Tcp, PolicyKind::Maglev),
        &[lab::member(7, 8084, 1)],
    );
    lab::add(
        host,
        lab::service("api", 8443, Proto::Tcp, PolicyKind::RoundRobin),
        &[lab::member(1, 9443, 1), lab::member(2, 9443, 1)],
    );
    // UDP replies of this service leave through MEMBERS, which has no next hop.
    let stub = anypoint_driver::ServiceConfig {
        peer_port: MEMBERS,
        ..lab::service("stub", 53, Proto::Udp, PolicyKind::Maglev)
    };
    lab::add(host, stub, &[lab::member(8, 53, 1)]);

    let p = lab::peer_link(None);
    let tagged = lab::peer_link(Some(7));
    let client = SocketAddrV4::new(lab::peer(1), 40001);
    let ok = frames::tcp(&p, client, web, ACK, b"hello");
    let ok_udp = frames::udp(&p, client, SocketAddrV4::new(VIP, 53), b"query");
    let l3 = 14;
    let l4 = l3 + 20;

    // A connection to `web` (learn) with a hit in each direction.
    let mut conn = Conn::new(client, web, 1000);
    let d = conn.open(host);
    assert!(matches!(d.host.as_slice(), [(h, _)] if h.reason == reason::LEARN));
    conn.peer_sends(host, frames::ACK, b"");
    conn.member_sends(host, frames::ACK | frames::PSH, b"banner");

    // 1 runt, untagged and tagged.
    expect(host, PEERS, &ok[..13], reason::RUNT);
    let ok_tagged = frames::tcp(&tagged, client, web, ACK, b"hello");
    expect(host, PEERS, &ok_tagged[..17], reason::RUNT);

    // 2 oversize: a frame of exactly MAX_FRAME passes, one byte more does not.
    host.write32(reg::MAX_FRAME, ok.len() as u32);
    assert_eq!(host.receive(PEERS, &ok).forwarded().0, MEMBERS);
    expect(
        host,
        PEERS,
        &frames::padded(ok.clone(), ok.len() + 1),
        reason::OVERSIZE,
    );
    host.write32(reg::MAX_FRAME, reg::MAX_FRAME_RESET);

    // 3 ARP; 4 IPv6, QinQ (0x88a8) and two 802.1Q tags.
    expect(
        host,
        PEERS,
        &frames::arp_request(lab::PEER_ROUTER, lab::peer(1), VIP),
        reason::ARP,
    );
    expect(host, PEERS, &frames::ipv6_udp(&p), reason::NON_IPV4);
    let qinq = frames::qinq_udp(&p, client, SocketAddrV4::new(VIP, 53));
    expect(host, PEERS, &qinq, reason::NON_IPV4);
    let mut double_q = qinq;
    double_q[12..14].copy_from_slice(&[0x81, 0x00]);
    expect(host, PEERS, &double_q, reason::NON_IPV4);

    // 5 fewer than 20 bytes of IP, untagged (none, 19) and tagged.
    expect(host, PEERS, &ok[..l3], reason::IP_TRUNCATED);
    expect(host, PEERS, &ok[..l3 + 19], reason::IP_TRUNCATED);
    expect(host, PEERS, &ok_tagged[..18 + 19], reason::IP_TRUNCATED);

    // 6 version 6 in an 0x0800 frame; 7 IHL 4.
    let edited = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut f = ok.clone();
        edit(&mut f);
        frames::fix_ip_checksum(&mut f);
        f
    };
    expect(host, PEERS, &edited(&|f| f[l3] = 0x65), reason::IP_VERSION);
    expect(host, PEERS, &edited(&|f| f[l3] = 0x44), reason::IP_IHL);

    // 8 options (four NOPs).
    let with_options = Ipv4Header {
        options: [1u8, 1, 1, 1].into(),
        ..frames::ip_header(*client.ip(), VIP, frames::TTL)
    };
    let f = frames::ipv4(&p, with_options, client.port(), 80, L4::Tcp(ACK), b"opt");
    expect(host, PEERS, &f, reason::IP_OPTIONS);

    // 9 total length beyond the frame, and below 20.
    let avail = (ok.len() - l3) as u16;
    let mut f = ok.clone();
    frames::set_total_len(&mut f, avail + 1);
    expect(host, PEERS, &f, reason::IP_TOTAL_LEN);
    frames::set_total_len(&mut f, 19);
    expect(host, PEERS, &f, reason::IP_TOTAL_LEN);

    // 10 header checksum off by one.
    let mut f = ok.clone();
    f[l3 + 11] ^= 1;
    expect(host, PEERS, &f, reason::IP_CHECKSUM);

    // 11 fragments: more-fragments set, and a non-zero offset.
    let first = Ipv4Header {
        more_fragments: true,
        ..frames::ip_header(*client.ip(), VIP, frames::TTL)
    };
    let f = frames::ipv4(&p, first, client.port(), 80, L4::Tcp(ACK), b"frag");
    expect(host, PEERS, &f, reason::IP_FRAGMENT);
    let later = Ipv4Header {
        fragment_offset: IpFragOffset::try_new(185).expect("13-bit offset"),
        ..frames::ip_header(*client.ip(), VIP, frames::TTL)
    };
    let f = frames::ipv4(&p, later, client.port(), 80, L4::Tcp(ACK), b"frag");
    expect(host, PEERS, &f, reason::IP_FRAGMENT);

    // 12 TTL 1 and 0 on frames that would be forwarded, inbound and outbound.
    for ttl in [1, 0] {
        let f = frames::ipv4(
            &p,
            frames::ip_header(*client.ip(), VIP, ttl),
            client.port(),
            80,
            L4::Tcp(ACK),
            b"",
        );
        expect(host, PEERS, &f, reason::TTL_EXPIRED);
    }
    let member = conn.member.expect("opened");
    let link = lab::member_link(*member.ip(), None);
    let f = frames::ipv4(
        &link,
        frames::ip_header(*member.ip(), *client.ip(), 1),
        member.port(),
        client.port(),
        L4::Tcp(ACK),
        b"",
    );
    expect(host, MEMBERS, &f, reason::TTL_EXPIRED);

    // 13 ICMP, and GRE (47) with a UDP-shaped body.
    expect(
        host,
        PEERS,
        &frames::icmp_echo(&p, *client.ip(), VIP),
        reason::L4_OTHER,
    );
    let mut f = ok_udp.clone();
    f[l3 + 9] = 47;
    frames::fix_ip_checksum(&mut f);
    expect(host, PEERS, &f, reason::L4_OTHER);

    // 14 TCP: 12 bytes of L4 (the rest of the frame is then padding), data offset 4, data offset 15
    // beyond a 25-byte segment; UDP: 6 bytes of L4, UDP length 7, UDP length beyond L4.
    let mut f = ok.clone();
    frames::set_total_len(&mut f, 20 + 12);
    expect(host, PEERS, &f, reason::L4_TRUNCATED);
    let mut f = ok.clone();
    f[l4 + 12] = 0x40;
    expect(host, PEERS, &f, reason::L4_TRUNCATED);
    let mut f = ok.clone();
    f[l4 + 12] = 0xf0;
    expect(host, PEERS, &f, reason::L4_TRUNCATED);
    let mut f = ok_udp.clone();
    frames::set_total_len(&mut f, 20 + 6);
    expect(host, PEERS, &f, reason::L4_TRUNCATED);
    let udp_len = (ok_udp.len() - l4) as u16;
    for bad in [7, udp_len + 1] {
        let mut f = ok_udp.clone();
        f[l4 + 4..l4 + 6].copy_from_slice(&bad.to_be_bytes());
        expect(host, PEERS, &f, reason::L4_TRUNCATED);
    }

    // 15 no service: to the host from PEERS, dropped on QUIET; a closed port on the VIP.
    let stranger = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 200), 80);
    let f = frames::tcp(&p, client, stranger, ACK, b"");
    expect(host, PEERS, &f, reason::NO_SERVICE);
    let quiet = Link {
        dst: lab::port_mac(QUIET),
        ..p
    };
    let f = frames::tcp(&quiet, client, stranger, ACK, b"");
    let d = expect(host, QUIET, &f, reason::NO_SERVICE);
    assert!(d.egress.is_empty() && d.host.is_empty(), "dropped on QUIET");
    let f = frames::udp(&p, client, SocketAddrV4::new(VIP, 9999), b"?");
    expect(host, PEERS, &f, reason::NO_SERVICE);

    // 16 host policy: punted, redirected by the ALRM and re-injected, then a hit.
    let mut api = Conn::new(
        SocketAddrV4::new(lab::peer(2), 40002),
        SocketAddrV4::new(VIP, 8443),
        2000,
    );
    counted(host, reason::HOST_POLICY, |h| api.open(h));
    api.peer_sends(host, frames::ACK, b"");

    // 17 no member: a maglev service with an empty indirection table.
    let f = frames::tcp(
        &p,
        client,
        SocketAddrV4::new(VIP, 81),
        Tcp {
            flags: frames::SYN,
            ..ACK
        },
        b"",
    );
    expect(host, PEERS, &f, reason::NO_MEMBER);

    // 18 member down: a learned connection whose member then goes down.
    let mut doomed = Conn::new(
        SocketAddrV4::new(lab::peer(3), 40003),
        SocketAddrV4::new(VIP, 84),
        3000,
    );
    doomed.open(host);
    let id = lab::member_id(host, "down", SocketAddrV4::new(lab::member_addr(7), 8084));
    lab::set_member_state(host, id, member_state::DOWN);
    let f = doomed.from_peer(frames::ACK, b"");
    expect(host, PEERS, &f, reason::MEMBER_DOWN);

    // 19 TCP from a member without a connection.
    let mut stray = Conn::new(SocketAddrV4::new(lab::peer(9), 5555), web, 9000);
    stray.member = Some(SocketAddrV4::new(lab::member_addr(1), 8080));
    let f = stray.from_member(frames::ACK, b"late");
    expect(host, MEMBERS, &f, reason::OUTBOUND_NO_CONN);

    // 20 no next hop: towards a member without a MAC, and a UDP reply out of a port without one.
    let f = frames::tcp(
        &p,
        client,
        SocketAddrV4::new(VIP, 82),
        Tcp {
            flags: frames::SYN,
            ..ACK
        },
        b"",
    );
    expect(host, PEERS, &f, reason::NO_NEXT_HOP);
    let from = SocketAddrV4::new(lab::member_addr(8), 53);
    let f = frames::udp(&lab::member_link(*from.ip(), None), from, client, b"answer");
    expect(host, MEMBERS, &f, reason::NO_NEXT_HOP);

    // 21 port down: the member sits behind a port that was never enabled.
    let f = frames::tcp(
        &p,
        client,
        SocketAddrV4::new(VIP, 83),
        Tcp {
            flags: frames::SYN,
            ..ACK
        },
        b"",
    );
    let d = expect(host, PEERS, &f, reason::PORT_DOWN);
    assert!(d.egress.is_empty() && d.host.is_empty(), "dropped");

    // 22 learn: a second connection's SYN; 23 tcp_fin: the FIN of both (state records beside the
    // forwards); 24 tcp_rst: the second one's member resets it.
    let mut second = Conn::new(SocketAddrV4::new(lab::peer(4), 40004), web, 4000);
    counted(host, reason::LEARN, |h| second.open(h));
    let fin = reason::TCP_FIN;
    counted_forward(host, fin, |h| {
        conn.peer_sends(h, frames::FIN | frames::ACK, b"")
    });
    counted_forward(host, fin, |h| {
        second.peer_sends(h, frames::FIN | frames::ACK, b"")
    });
    let rst = frames::RST | frames::ACK;
    counted_forward(host, reason::TCP_RST, |h| second.member_sends(h, rst, b""));

    for (code, name) in reason::ALL {
        assert!(
            host.counter(lab::reason_counter(code)) > 0,
            "reason {name} not covered"
        );
    }
}
