//! Key-hash UDP: datagrams are switched on a payload key, replies find their service through the
//! member table, and UDP checksum corner cases (none, and a rewrite that computes to zero).

use super::lab::{self, MEMBERS, PEERS, VIP};
use crate::frames;
use crate::host::Host;
use anypoint_driver::{PolicyKind, Proto, ServiceConfig};
use etherparse::UdpHeader;
use std::collections::BTreeMap;
use std::net::SocketAddrV4;

/// UDP checksum bytes of an untagged frame.
const CHECKSUM: std::ops::Range<usize> = 14 + 20 + 6..14 + 20 + 8;

/// Sends a datagram from a peer; returns the member it reached.
fn to_service(host: &mut Host, frame: &[u8]) -> (SocketAddrV4, Vec<u8>) {
    let out = lab::forwarded(host, PEERS, frame, MEMBERS);
    let (_, member) = frames::endpoints(&out).expect("a UDP frame");
    (member, out)
}

/// Sends a member's datagram to `peer`; checks it leaves towards the peer from `service`.
fn to_peer(host: &mut Host, frame: &[u8], service: SocketAddrV4, peer: SocketAddrV4) -> Vec<u8> {
    let out = lab::forwarded(host, MEMBERS, frame, PEERS);
    assert_eq!(frames::endpoints(&out), Some((service, peer)));
    out
}

/// `prefix` plus two bytes chosen so that the datagram's checksum computes to zero once it
/// carries `src` and `dst`: the sender's checksum is ordinary, the rewritten one must become 0xffff.
fn zero_sum_payload(src: SocketAddrV4, dst: SocketAddrV4, prefix: &[u8]) -> Vec<u8> {
    (0..=u16::MAX)
        .map(|v| [prefix, &v.to_be_bytes()].concat())
        .find(|payload| {
            let h = UdpHeader {
                source_port: src.port(),
                destination_port: dst.port(),
                length: (8 + payload.len()) as u16,
                checksum: 0,
            };
            // etherparse sends a computed 0 as 0xffff, and no other sum gives 0xffff.
            h.calc_checksum_ipv4_raw(src.ip().octets(), dst.ip().octets(), payload) == Ok(0xffff)
        })
        .expect("two free bytes reach every sum")
}

pub fn run(host: &mut Host) {
    let game = SocketAddrV4::new(VIP, 9000);
    let chat = SocketAddrV4::new(VIP, 9001);
    lab::add(
        host,
        ServiceConfig {
            key: Some((0, 8)),
            ..lab::service("game", 9000, Proto::Udp, PolicyKind::KeyHash)
        },
        &[
            lab::member(11, 9000, 1),
            lab::member(12, 9000, 1),
            lab::member(13, 9000, 1),
        ],
    );
    lab::add(
        host,
        ServiceConfig {
            key: Some((4, 16)),
            ..lab::service("chat", 9001, Proto::Udp, PolicyKind::KeyHash)
        },
        &[lab::member(21, 7000, 1), lab::member(22, 7000, 1)],
    );
    let p = lab::peer_link(None);

    // Sessions: every datagram of a key reaches the same member, whoever sends it.
    let mut session_member = BTreeMap::new();
    for i in 0..40u32 {
        let key = i % 6;
        let peer = SocketAddrV4::new(lab::peer(i % 9), 20000 + (i * 31 % 1000) as u16);
        let payload = format!("sess{key:04}|move {i}");
        let (member, _) = to_service(host, &frames::udp(&p, peer, game, payload.as_bytes()));
        let first = *session_member.entry(key).or_insert(member);
        assert_eq!(first, member, "session {key} moved");
    }
    assert!(
        session_member
            .values()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1
    );

    // A 16-byte key at offset 4 (the longest key), with changing bytes around it.
    for i in 0..12u32 {
        let peer = SocketAddrV4::new(lab::peer(20 + i), 5000);
        let payload = format!("{i:04}room-{:011}|hello {i}", i % 3);
        to_service(host, &frames::udp(&p, peer, chat, payload.as_bytes()));
    }

    // Payloads shorter than offset + len are switched on the 5-tuple.
    for len in 0..8 {
        let peer = SocketAddrV4::new(lab::peer(30 + len as u32), 6000);
        to_service(host, &frames::udp(&p, peer, game, &b"shortkey"[..len]));
    }
    let peer = SocketAddrV4::new(lab::peer(40), 6001);
    to_service(host, &frames::udp(&p, peer, chat, b"0123room-0000000000"));

    // No checksum (0) stays 0 in both directions.
    let peer = SocketAddrV4::new(lab::peer(41), 6002);
    let mut f = frames::udp(&p, peer, game, b"sess0001|no checksum");
    f[CHECKSUM].fill(0);
    let (member, out) = to_service(host, &f);
    assert_eq!(out[CHECKSUM], [0, 0]);
    let link = lab::member_link(*member.ip(), None);
    let mut f = frames::udp(&link, member, peer, b"ack, no checksum");
    f[CHECKSUM].fill(0);
    assert_eq!(to_peer(host, &f, game, peer)[CHECKSUM], [0, 0]);

    // Replies from every member find their service through the member table.
    for (i, member) in session_member.values().enumerate() {
        let peer = SocketAddrV4::new(lab::peer(50 + i as u32), 7001);
        let link = lab::member_link(*member.ip(), None);
        to_peer(
            host,
            &frames::udp(&link, *member, peer, b"state update"),
            game,
            peer,
        );
    }

    // Rewrites whose checksum computes to zero must send 0xffff (RFC 768), inbound and outbound.
    let peer = SocketAddrV4::new(lab::peer(60), 7002);
    let member = session_member[&1];
    let payload = zero_sum_payload(peer, member, b"sess0001|");
    let (_, out) = to_service(host, &frames::udp(&p, peer, game, &payload));
    assert_eq!(out[CHECKSUM], [0xff, 0xff]);
    let payload = zero_sum_payload(game, peer, b"reply:");
    let link = lab::member_link(*member.ip(), None);
    let out = to_peer(
        host,
        &frames::udp(&link, member, peer, &payload),
        game,
        peer,
    );
    assert_eq!(out[CHECKSUM], [0xff, 0xff]);
}
