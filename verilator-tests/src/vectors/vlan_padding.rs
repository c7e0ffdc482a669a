//! 802.1Q tags and Ethernet padding: both are carried unchanged, neither may shift a header offset
//! or leak into a checksum or a key, in either direction and on the host queue.

use super::lab::{self, Conn, MEMBERS, PEERS, VIP};
use crate::frames::{self, Tcp, ACK, FIN, PSH};
use crate::host::Host;
use anypoint_driver::{PolicyKind, Proto, ServiceConfig};
use anypoint_model::regs::reason;
use std::net::{Ipv4Addr, SocketAddrV4};

/// The smallest Ethernet frame without FCS: shorter frames arrive padded to it.
const MIN_FRAME: usize = 60;

/// A whole connection; every frame that leaves keeps the tag and the padding it came with.
fn converse(host: &mut Host, mut c: Conn) {
    let tag = c.vlan.map(|id| [0x81, 0x00, (id >> 8) as u8, id as u8]);
    let d = c.open(host);
    assert!(
        matches!(d.host.as_slice(), [(h, _)] if h.reason == reason::LEARN && h.vlan == tag.is_some())
    );
    let pad_to = c.pad_to;
    let check = |out: Vec<u8>| {
        assert!(out.len() >= pad_to, "padding kept");
        if let Some(tag) = tag {
            assert_eq!(out[12..16], tag, "tag kept");
        }
    };
    for (flags, payload) in [(ACK, &b""[..]), (ACK | PSH, b"GET /"), (FIN | ACK, b"")] {
        check(c.peer_sends(host, flags, payload));
        check(c.member_sends(host, flags, payload));
    }
}

pub fn run(host: &mut Host) {
    let web = SocketAddrV4::new(VIP, 80);
    let game = SocketAddrV4::new(VIP, 9000);
    lab::add(
        host,
        lab::service("web", 80, Proto::Tcp, PolicyKind::Maglev),
        &[lab::member(1, 8080, 1), lab::member(2, 8080, 1)],
    );
    lab::add(
        host,
        ServiceConfig {
            key: Some((0, 8)),
            ..lab::service("game", 9000, Proto::Udp, PolicyKind::KeyHash)
        },
        &[lab::member(11, 9000, 1), lab::member(12, 9000, 1)],
    );

    let variants = [
        (Some(100), 0),
        (None, MIN_FRAME),
        (Some(4095), MIN_FRAME + 4),
        (Some(1), 200),
    ];
    for (i, (vlan, pad_to)) in variants.into_iter().enumerate() {
        let peer = SocketAddrV4::new(lab::peer(i as u32), 43000 + i as u16);
        let mut c = Conn::new(peer, web, 7 << 24 | i as u32);
        c.vlan = vlan;
        c.pad_to = pad_to;
        converse(host, c);
    }

    // UDP: a 4-byte payload is too short for the 8-byte key even with padding behind it, so it is
    // switched on the 5-tuple; replies go back tagged and padded.
    for (i, (vlan, payload)) in [
        (None, &b"abcd"[..]),
        (Some(300), b"abcd"),
        (Some(300), b"sess0042"),
    ]
    .into_iter()
    .enumerate()
    {
        let peer = SocketAddrV4::new(lab::peer(10 + i as u32), 44000);
        let f = frames::padded(
            frames::udp(&lab::peer_link(vlan), peer, game, payload),
            MIN_FRAME,
        );
        let out = lab::forwarded(host, PEERS, &f, MEMBERS);
        assert_eq!(out[f.len() - 4..], f[f.len() - 4..], "padding unchanged");
        let (_, member) = frames::endpoints(&out).expect("UDP");
        let link = lab::member_link(*member.ip(), vlan);
        let reply = frames::padded(frames::udp(&link, member, peer, b"ok"), MIN_FRAME);
        let out = lab::forwarded(host, MEMBERS, &reply, PEERS);
        assert_eq!(frames::endpoints(&out), Some((game, peer)));
    }

    // Punted tagged and padded frames reach the host whole, the header saying where IP starts.
    let stranger = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 201), 80);
    let seg = Tcp {
        flags: ACK,
        seq: 1,
        ack: 1,
    };
    let peer = SocketAddrV4::new(lab::peer(20), 45000);
    for (vlan, l3) in [(Some(42), 18), (None, 14)] {
        let f = frames::padded(
            frames::tcp(&lab::peer_link(vlan), peer, stranger, seg, b""),
            MIN_FRAME + 10,
        );
        let d = host.receive(PEERS, &f);
        let [(h, _)] = d.host.as_slice() else {
            panic!("one host record: {d:?}");
        };
        assert_eq!(
            (h.reason, h.vlan, h.l3_offset, usize::from(h.frame_len)),
            (reason::NO_SERVICE, vlan.is_some(), l3, f.len())
        );
    }
    let f = frames::ipv4(
        &lab::peer_link(Some(42)),
        frames::ip_header(*peer.ip(), VIP, 1),
        peer.port(),
        80,
        frames::L4::Tcp(seg),
        b"",
    );
    let d = host.receive(PEERS, &frames::padded(f, MIN_FRAME));
    assert!(matches!(d.host.as_slice(), [(h, _)] if h.reason == reason::TTL_EXPIRED && h.vlan));
    assert!(d.egress.is_empty());
}
