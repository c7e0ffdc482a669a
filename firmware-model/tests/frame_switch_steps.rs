//! Frame-level switching step by step (docs/frame-switching.md sections 3, 5 and 7): hand-made
//! segments through the model, every sequence number of the outputs worked out by hand from the
//! spec. Two members, round-robin, no window scaling.

use std::net::{Ipv4Addr, SocketAddrV4};

use acp::wire::{self, Flags, Header, Options};
use anypoint_model::frame_switch::{Config, FrameSwitch, Packet, Phase, Policy};
use anypoint_model::HashKey;

const PEER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40000);
const VIP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 100), 7000);
const M0: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 1), 7000);
const M1: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 2), 7000);

/// A segment as it left the switch.
#[derive(Debug)]
struct Out {
    to: SocketAddrV4,
    from: SocketAddrV4,
    h: Header,
    frames: Vec<(u32, u8, Vec<u8>)>,
}

fn send(
    sw: &mut FrameSwitch,
    from: SocketAddrV4,
    to: SocketAddrV4,
    h: Header,
    frames: &[(u32, &[u8])],
) -> Vec<Out> {
    let mut payload = Vec::new();
    for (fseq, data) in frames {
        wire::emit_frame(*fseq, 0, data, &mut payload);
    }
    let h = Header {
        src_port: from.port(),
        dst_port: to.port(),
        ..h
    };
    let mut segment = Vec::new();
    wire::emit_segment(&h, &payload, *from.ip(), *to.ip(), &mut segment);
    sw.receive(&Packet {
        src: *from.ip(),
        dst: *to.ip(),
        segment,
    })
    .into_iter()
    .map(|p| {
        assert!(wire::verify_checksum(p.src, p.dst, &p.segment));
        let seg = wire::parse_segment(&p.segment).unwrap();
        Out {
            to: SocketAddrV4::new(p.dst, seg.header.dst_port),
            from: SocketAddrV4::new(p.src, seg.header.src_port),
            h: seg.header,
            frames: seg
                .frames()
                .map(|f| (f.fseq, f.flags, f.data.to_vec()))
                .collect(),
        }
    })
    .collect()
}

fn h(seq: u32, ack: u32, flags: Flags, window: u16) -> Header {
    Header {
        seq,
        ack,
        flags,
        window,
        ..Header::default()
    }
}

fn to(outs: &[Out], who: SocketAddrV4) -> Vec<&Out> {
    outs.iter().filter(|o| o.to == who).collect()
}

const ACK: Flags = Flags::ACK;

/// An ACK segment from the peer to the VIP (window 60000) carrying `frames`.
fn from_peer(sw: &mut FrameSwitch, seq: u32, ack: u32, frames: &[(u32, &[u8])]) -> Vec<Out> {
    send(sw, PEER, VIP, h(seq, ack, ACK, 60000), frames)
}

/// Set-up; returns the switch and the VIP's ISN.
fn established() -> (FrameSwitch, u32) {
    let mut sw = FrameSwitch::new(Config::new(VIP, Policy::RoundRobin, HashKey([1, 2, 3, 4])));
    sw.add_member(M0);
    sw.add_member(M1);
    let mut syn = h(1000, 0, Flags::SYN, 60000);
    syn.options = Options {
        mss: Some(1452),
        window_shift: None,
        patch: None,
    };
    let out = send(&mut sw, PEER, VIP, syn, &[]);
    // Each member gets the peer's SYN: its ISN, MSS and window, from the peer's address.
    assert_eq!(out.len(), 2);
    for (o, m) in out.iter().zip([M0, M1]) {
        assert_eq!((o.to, o.from), (m, PEER));
        assert_eq!(
            (o.h.seq, o.h.flags, o.h.window, o.h.options.mss),
            (1000, Flags::SYN, 60000, Some(1452))
        );
    }
    let mut synack = h(5000, 1001, Flags::SYN | ACK, 50000);
    synack.options.mss = Some(1400);
    let out = send(&mut sw, M0, PEER, synack, &[]);
    assert_eq!(
        out.len(),
        1,
        "only the ack of M0's SYN-ACK: M1 has not answered"
    );
    assert_eq!((out[0].to, out[0].h.seq, out[0].h.ack), (M0, 1001, 5001));
    let synack = Header {
        seq: 9000,
        window: 40000,
        options: Options {
            mss: Some(1452),
            ..Options::default()
        },
        ..synack
    };
    let out = send(&mut sw, M1, PEER, synack, &[]);
    let peer = to(&out, PEER);
    assert_eq!(peer.len(), 1);
    let sa = &peer[0].h;
    // The smaller MSS, the smaller window (nothing sent yet), from the VIP.
    assert_eq!(peer[0].from, VIP);
    assert_eq!(
        (sa.flags, sa.ack, sa.options.mss, sa.window),
        (Flags::SYN | ACK, 1001, Some(1400), 40000)
    );
    assert_eq!(to(&out, M1)[0].h.ack, 9001);
    let isn_v = sa.seq;
    assert!(from_peer(&mut sw, 1001, isn_v + 1, &[]).is_empty());
    (sw, isn_v)
}

#[test]
fn a_hole_is_reserved_in_every_member_and_patched_where_it_is_not_theirs() {
    let (mut sw, isn_v) = established();
    let f0 = [0xa0; 20]; // 28 bytes on the wire
    let f1 = [0xa1; 30]; // 38
    let f2 = [0xa2; 12]; // 20
                         // Frame 0 at 1001: round-robin's first pick, M0, at M0's first byte.
    let out = from_peer(&mut sw, 1001, isn_v + 1, &[(0, &f0)]);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].to, out[0].h.seq, out[0].h.ack), (M0, 1001, 5001));
    assert_eq!(out[0].frames, vec![(0, 0, f0.to_vec())]);
    // Frame 2 at 1067 before frame 1 (1029..1067): the 38 bytes are reserved in M0 at 1029 and
    // in M1 at 1001; frame 2 goes to M1 after its reservation, at 1039.
    let out = from_peer(&mut sw, 1067, isn_v + 1, &[(2, &f2)]);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].to, out[0].h.seq), (M1, 1039));
    assert_eq!(out[0].h.options.patch, None, "the hole is not decided yet");
    // M1 holds frame 2 and waits at 1001: its ack goes to the peer as a duplicate ack (1001).
    let out = send(&mut sw, M1, PEER, h(9001, 1001, ACK, 40000), &[]);
    assert_eq!(to(&out, PEER).len(), 1);
    assert_eq!(to(&out, PEER)[0].h.ack, 1001);
    // Frame 1 arrives: M0 (round-robin's third pick) at 1029. The hole is decided: M1 may skip
    // its 38 reserved bytes, up to its frame 2 at 1039.
    let out = from_peer(&mut sw, 1029, isn_v + 1, &[(1, &f1)]);
    let m0 = to(&out, M0);
    assert_eq!((m0.len(), m0[0].h.seq), (1, 1029));
    let m1 = to(&out, M1);
    assert_eq!(m1.len(), 1);
    assert_eq!((m1[0].h.options.patch, m1[0].frames.len()), (Some(1039), 0));
    // M0 acks both its frames, M1 its frame 2 after the patch: the peer's ack covers all three.
    send(&mut sw, M0, PEER, h(5001, 1067, ACK, 50000), &[]);
    let out = send(&mut sw, M1, PEER, h(9001, 1059, ACK, 40000), &[]);
    assert_eq!(to(&out, PEER)[0].h.ack, 1087);
}

#[test]
fn a_removed_members_frames_go_elsewhere_and_its_replies_become_null_frames() {
    let (mut sw, isn_v) = established();
    let f0 = [0xa0; 20];
    let f1 = [0xa1; 30];
    let f2 = [0xa2; 12];
    from_peer(&mut sw, 1001, isn_v + 1, &[(0, &f0)]);
    from_peer(&mut sw, 1067, isn_v + 1, &[(2, &f2)]);
    let out = from_peer(&mut sw, 1029, isn_v + 1, &[(1, &f1)]);
    assert_eq!(to(&out, M1)[0].h.options.patch, Some(1039));
    // M0 acks frame 0 only and sends a reply (its frame 0, 16 bytes): the peer gets it renumbered
    // as its frame 0 at ISN_v + 1, with the ack of frame 0 (1029).
    let out = send(
        &mut sw,
        M0,
        PEER,
        h(5001, 1029, ACK, 50000),
        &[(0, &[0xb0; 8])],
    );
    let p = to(&out, PEER);
    assert_eq!(
        (p[0].h.seq, p[0].frames[0].0, p[0].h.ack),
        (isn_v + 1, 0, 1029)
    );
    // M0 fails. Its unacked reply becomes a null frame of the same length and number.
    let out = sw.remove_member(0);
    assert_eq!(out.len(), 1);
    let o = &out[0];
    let seg = wire::parse_segment(&o.segment).unwrap();
    let f: Vec<_> = seg.frames().collect();
    assert_eq!(
        (
            seg.header.seq,
            f.len(),
            f[0].fseq,
            f[0].is_null(),
            f[0].wire_len()
        ),
        (isn_v + 1, 1, 0, true, 16)
    );
    // The peer sends frame 1 again: M0 never acked it, so it goes to M1, after M1's frame 2 (at
    // 1059). The patch M1 has (1039) stays: frame 1 is no longer in M1's reservation. It goes
    // again with the frame: M1 has not acked past it, and a peer retransmission sends it again.
    let out = from_peer(&mut sw, 1029, isn_v + 17, &[(1, &f1)]);
    let m1 = to(&out, M1);
    assert_eq!(m1.len(), 1);
    assert_eq!((m1[0].h.seq, m1[0].h.options.patch), (1059, Some(1039)));
    // Frame 0, which M0 acked, is not delivered again when the peer resends it; M1 gets only its
    // patch again, on a pure ack.
    let out = from_peer(&mut sw, 1001, isn_v + 17, &[(0, &f0)]);
    let m1 = to(&out, M1);
    assert_eq!(m1.len(), 1);
    assert_eq!((m1[0].frames.len(), m1[0].h.options.patch), (0, Some(1039)));
    // M1 acks everything it has: the peer's ack covers frames 0, 1 and 2.
    let out = send(&mut sw, M1, PEER, h(9001, 1097, ACK, 40000), &[]);
    assert_eq!(to(&out, PEER)[0].h.ack, 1087);
}

#[test]
fn what_a_removed_member_acked_is_not_delivered_again() {
    let (mut sw, isn_v) = established();
    let (f0, f1, f2) = ([0xa0; 20], [0xa1; 30], [0xa2; 12]);
    let frames: [(u32, &[u8]); 3] = [(0, &f0), (1, &f1), (2, &f2)];
    // One segment, three frames, round-robin: M0, M1, M0. M0's two frames are contiguous in its
    // space (1001 and 1029), so the segment splits in two.
    let out = from_peer(&mut sw, 1001, isn_v + 1, &frames);
    let (m0, m1) = (to(&out, M0), to(&out, M1));
    assert_eq!((m0.len(), m0[0].h.seq, m0[0].frames.len()), (1, 1001, 2));
    assert_eq!((m1.len(), m1[0].h.seq, m1[0].frames.len()), (1, 1001, 1));
    // M0 acks both of its frames and fails; M1 has acked nothing, so frame 1 holds the peer's ack.
    let out = send(&mut sw, M0, PEER, h(5001, 1049, ACK, 50000), &[]);
    assert_eq!(to(&out, PEER)[0].h.ack, 1029);
    sw.remove_member(0);
    // The peer resends the segment: frame 1 to M1 as before; frame 2, delivered to M0, nowhere.
    let out = from_peer(&mut sw, 1001, isn_v + 1, &frames);
    let m1 = to(&out, M1);
    assert_eq!(m1.len(), 1);
    assert_eq!(
        (m1[0].h.seq, m1[0].frames.len(), m1[0].frames[0].0),
        (1001, 1, 1)
    );
    let out = send(&mut sw, M1, PEER, h(9001, 1039, ACK, 40000), &[]);
    assert_eq!(to(&out, PEER)[0].h.ack, 1087);
}

#[test]
fn a_member_added_joins_the_active_sets_of_new_connections() {
    let (mut sw, _) = established();
    const M2: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 3), 7000);
    sw.add_member(M2);
    let other = SocketAddrV4::new(*PEER.ip(), 40001);
    let out = send(&mut sw, other, VIP, h(7000, 0, Flags::SYN, 60000), &[]);
    let mut got: Vec<_> = out.iter().map(|o| (o.to, o.from, o.h.seq)).collect();
    got.sort();
    assert_eq!(
        got,
        [(M0, other, 7000), (M1, other, 7000), (M2, other, 7000)]
    );
    // The first connection keeps its two members: M2 answering for it is not one of its legs and
    // gets a reset.
    let out = send(&mut sw, M2, PEER, h(1, 1001, ACK, 1000), &[(0, b"x")]);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].to, out[0].h.flags), (M2, Flags::RST));
    assert_eq!(
        sw.counters()
            .segments(anypoint_model::frame_switch::Kind::NoFlow),
        1
    );
}

#[test]
fn a_member_resending_what_the_peer_acked_gets_an_ack() {
    let (mut sw, isn_v) = established();
    let reply = [0xb0; 8]; // 16 bytes on the wire
    let out = send(&mut sw, M1, PEER, h(9001, 1001, ACK, 40000), &[(0, &reply)]);
    assert_eq!(
        (to(&out, PEER)[0].h.seq, to(&out, PEER)[0].frames[0].0),
        (isn_v + 1, 0)
    );
    // The peer acks it; M1 hears of it.
    let out = from_peer(&mut sw, 1001, isn_v + 17, &[]);
    assert_eq!(to(&out, M1)[0].h.ack, 9017);
    // That ack was lost: M1 resends the frame. It is not sent to the peer again, and M1 is acked.
    let out = send(&mut sw, M1, PEER, h(9001, 1001, ACK, 40000), &[(0, &reply)]);
    assert!(to(&out, PEER).is_empty());
    let m1 = to(&out, M1);
    assert_eq!((m1.len(), m1[0].h.ack, m1[0].frames.len()), (1, 9017, 0));
}

#[test]
fn a_member_resending_its_fin_gets_it_acked_again() {
    let (mut sw, _) = established();
    // M0 finishes while M1 still sends: its FIN is acked at once.
    let fin = h(5001, 1001, ACK | Flags::FIN, 50000);
    let out = send(&mut sw, M0, PEER, fin, &[]);
    let m0 = to(&out, M0);
    assert_eq!((m0.len(), m0[0].h.ack), (1, 5002), "{out:?}");
    // That ack was lost: M0 sends its FIN again and must hear the same ack (the switch has no
    // timer; without it M0 retries until it gives up and resets the connection).
    for _ in 0..2 {
        let out = send(&mut sw, M0, PEER, fin, &[]);
        let m0 = to(&out, M0);
        assert_eq!(
            (m0.len(), m0[0].h.ack, m0[0].h.flags),
            (1, 5002, ACK),
            "{out:?}"
        );
        assert!(to(&out, PEER).is_empty(), "{out:?}");
    }
}

#[test]
fn a_member_that_sent_its_fin_leaves_its_unused_window_to_the_others() {
    let (mut sw, isn_v) = established();
    // M0 answers with one small frame (16 bytes on the wire: the smallest member frame, so the
    // ring holds 384 x 16 bytes of member data) and its FIN; it will never send again.
    let out = send(
        &mut sw,
        M0,
        PEER,
        h(5001, 1001, ACK | Flags::FIN, 50000),
        &[(0, &[0xb0; 8])],
    );
    assert_eq!(to(&out, PEER)[0].frames.len(), 1);
    // M1 uses the 30,000 bytes promised to it (half the peer's 60,000) in 25 frames of 1,200.
    for k in 0..25u32 {
        let out = send(
            &mut sw,
            M1,
            PEER,
            h(9001 + 1200 * k, 1001, ACK, 40000),
            &[(k, &[0xc1; 1192])],
        );
        assert_eq!(to(&out, PEER).len(), 1, "frame {k} goes on");
    }
    // The peer acks everything: M1 gets room again, though M0 still holds most of its promise.
    let out = from_peer(&mut sw, 1001, isn_v + 1 + 16 + 30_000, &[]);
    let m1 = to(&out, M1);
    assert_eq!(m1.len(), 1, "{out:?}");
    assert_eq!(m1[0].h.ack, 9001 + 30_000);
    assert_eq!(
        m1[0].h.window,
        384 * 16,
        "the ring's room (384 frames of 16 bytes), all M1's: M0 has finished"
    );
}

#[test]
fn an_expired_connection_is_reset_at_both_ends_and_forgotten() {
    let (mut sw, isn_v) = established();
    from_peer(&mut sw, 1001, isn_v + 1, &[(0, b"hello")]);
    assert_eq!(sw.occupancy()[0].phase, Phase::Established);
    let out: Vec<(SocketAddrV4, SocketAddrV4, Header)> = sw
        .expire(PEER)
        .into_iter()
        .map(|p| {
            assert!(wire::verify_checksum(p.src, p.dst, &p.segment));
            let h = wire::parse_segment(&p.segment).unwrap().header;
            (
                SocketAddrV4::new(p.src, h.src_port),
                SocketAddrV4::new(p.dst, h.dst_port),
                h,
            )
        })
        .collect();
    // Each member at its next byte: M0 got the 13-byte frame (8-byte header + 5), M1 nothing.
    let rst: Vec<(SocketAddrV4, SocketAddrV4, u32)> = out
        .iter()
        .map(|(from, to, h)| {
            assert_eq!(h.flags, Flags::RST);
            (*from, *to, h.seq)
        })
        .collect();
    assert_eq!(
        rst,
        [
            (PEER, M0, 1001 + 13),
            (PEER, M1, 1001),
            (VIP, PEER, isn_v + 1)
        ]
    );
    assert!(!sw.has_flow(PEER) && sw.occupancy().is_empty());
    assert!(sw.expire(PEER).is_empty(), "forgotten");
}

#[test]
fn a_members_window_update_is_not_a_duplicate_ack_to_the_peer() {
    let (mut sw, isn_v) = established();
    // Frame 0 goes to M0, which has not acked it yet: peer data is outstanding.
    let out = from_peer(&mut sw, 1001, isn_v + 1, &[(0, b"a")]);
    assert_eq!(to(&out, M0).len(), 1);
    // M0's application reads: same ack, larger windows. The first carries the peer's window
    // moved by frame 0 (the ring's room in the smallest frames); after it M1's open window stays
    // the smallest, so the peer's window does not move and nothing goes to the peer.
    send(&mut sw, M0, PEER, h(5001, 1001, ACK, 55000), &[]);
    let out = send(&mut sw, M0, PEER, h(5001, 1001, ACK, 60000), &[]);
    assert!(to(&out, PEER).is_empty(), "{out:?}");
    // The same ack and window again are duplicate acks: each reaches the peer as the same pure
    // ack, for its fast retransmit.
    let first = send(&mut sw, M0, PEER, h(5001, 1001, ACK, 60000), &[]);
    let second = send(&mut sw, M0, PEER, h(5001, 1001, ACK, 60000), &[]);
    let (a, b) = (to(&first, PEER), to(&second, PEER));
    assert_eq!((a.len(), b.len()), (1, 1));
    assert_eq!((a[0].h.ack, a[0].h.flags), (1001, ACK));
    assert_eq!((a[0].h.ack, a[0].h.window), (b[0].h.ack, b[0].h.window));
}

/// A member's segment for a connection the switch does not have (never had, or the member was
/// removed from it) gets a reset from the peer's address, RFC 793's answer: else the member retries
/// until it gives up. A reset gets nothing.
#[test]
fn a_member_segment_for_no_connection_gets_a_reset() {
    let (mut sw, isn_v) = established();
    let other = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 41000);
    let out = send(
        &mut sw,
        M0,
        other,
        h(5001, 777, ACK, 50000),
        &[(0, &[0xb0; 8])],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].to, out[0].from, out[0].h.flags, out[0].h.seq),
        (M0, other, Flags::RST, 777)
    );
    assert!(send(&mut sw, M0, other, h(5001, 777, Flags::RST, 0), &[]).is_empty());
    // M1 removed: its ack of the peer's data no longer belongs to the connection.
    sw.remove_member(1);
    let out = send(&mut sw, M1, PEER, h(9001, 1001, ACK, 40000), &[]);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].to, out[0].from, out[0].h.flags, out[0].h.seq),
        (M1, PEER, Flags::RST, 1001)
    );
    // The peer's connection goes on with M0.
    let out = from_peer(&mut sw, 1001, isn_v + 1, &[(0, &[0xa0; 20])]);
    assert_eq!((out.len(), out[0].to), (1, M0));
}

/// The members a peer's SYN went to, in the order sent (leg order).
fn syn_to(sw: &mut FrameSwitch, port: u16) -> Vec<SocketAddrV4> {
    let peer = SocketAddrV4::new(*PEER.ip(), port);
    let out = send(sw, peer, VIP, h(7000, 0, Flags::SYN, 60000), &[]);
    assert!(out
        .iter()
        .all(|o| o.h.flags == Flags::SYN && o.from == peer));
    out.iter().map(|o| o.to).collect()
}

#[test]
fn the_alrm_picks_each_connections_active_set_at_add_conn() {
    let ms: Vec<SocketAddrV4> = (1..=4)
        .map(|i| SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, i), 7000))
        .collect();
    let switch = |policy, active_set, n: usize| {
        let mut cfg = Config::new(VIP, policy, HashKey([1, 2, 3, 4]));
        cfg.active_set = active_set;
        let mut sw = FrameSwitch::new(cfg);
        for m in &ms[..n] {
            sw.add_member(*m);
        }
        sw
    };
    // Key hash: every connection the same members in the same order, so a key hashes to the same
    // member on each; round robin moves the start on by one member per connection.
    let key = Policy::KeyHash { offset: 0, len: 4 };
    let mut sw = switch(key, 8, 3);
    for port in 1..=3 {
        assert_eq!(syn_to(&mut sw, port), ms[..3]);
    }
    let mut sw = switch(Policy::RoundRobin, 8, 3);
    let sets: Vec<_> = (1..=3).map(|port| syn_to(&mut sw, port)).collect();
    assert_eq!(sets[1], [ms[1], ms[2], ms[0]]);
    assert_eq!(sets[2], [ms[2], ms[0], ms[1]]);

    // Speed-sensitive with two of four: the members holding the fewest connections.
    let mut sw = switch(Policy::SpeedSensitive, 2, 4);
    assert_eq!(syn_to(&mut sw, 1), [ms[0], ms[1]]);
    assert_eq!(syn_to(&mut sw, 2), [ms[2], ms[3]]);
    // Each member holds what the connections' active sets say (counted here from the sets).
    let held = |sw: &FrameSwitch, id: usize| {
        (1..=9)
            .filter(|&p| {
                sw.active_set(SocketAddrV4::new(*PEER.ip(), p))
                    .contains(&ms[id])
            })
            .count()
    };
    let check = |sw: &FrameSwitch| {
        for id in 0..4 {
            assert_eq!(sw.flows_with(id as u16), held(sw, id), "member {id}");
        }
    };
    check(&sw);
    // A reset, an expiry and a removal release their members.
    send(
        &mut sw,
        SocketAddrV4::new(*PEER.ip(), 1),
        VIP,
        h(7001, 0, Flags::RST, 0),
        &[],
    );
    assert_eq!((sw.flows_with(0), sw.flows_with(1)), (0, 0));
    assert_eq!(syn_to(&mut sw, 3), [ms[0], ms[1]]);
    // All four hold one: the start moved on to the fourth member.
    assert_eq!(syn_to(&mut sw, 4), [ms[3], ms[0]]);
    check(&sw);
    sw.expire(SocketAddrV4::new(*PEER.ip(), 2));
    sw.remove_member(0);
    check(&sw);
    assert_eq!((sw.flows_with(2), sw.flows_with(3)), (0, 1));
    assert_eq!(syn_to(&mut sw, 5), [ms[2], ms[3]]);
    check(&sw);
}
