//! docs/pipeline.md sections 3, 5 and 6: connection table, service and member match, policies, the
//! forwarding checks, learn records and activity bits.

mod common;

use anypoint_model::hostrec::{KIND_LEARN, KIND_STATE, NONE_ID};
use anypoint_model::regs::{member_state, policy, reason, region, table};
use anypoint_model::{FiveTuple, HostHeader, Outcome};
use common::*;

fn host(code: u8) -> Outcome {
    Outcome::Host { reason: code }
}

fn fwd(port: u8) -> Option<Outcome> {
    Some(Outcome::Forward { port })
}

/// Destination IPv4 address of a forwarded untagged frame.
fn dst_ip(frame: &[u8]) -> u32 {
    u32::from_be_bytes(frame[30..34].try_into().unwrap())
}

fn set_member(sw: &mut anypoint_model::Switch, m: u16, e: MemberEntry) {
    write_entry(sw, table::member::ID, m.into(), &e.words());
}

fn set_port(sw: &mut anypoint_model::Switch, p: u8, e: PortEntry) {
    write_entry(sw, table::port::ID, p.into(), &e.words());
}

fn add_conn(sw: &mut anypoint_model::Switch, index: u32, e: ConnEntry) {
    write_entry(sw, table::conn::ID, index, &e.words());
}

fn inbound_conn(t: FiveTuple, member: u16) -> ConnEntry {
    ConnEntry {
        tuple: t,
        service: SVC_TCP as u8,
        peer_port: PEER_PORT,
        outbound: false,
        member,
    }
}

/// A member of the lab's TCP service other than the one maglev picks for `t`.
fn other_member(t: &FiveTuple) -> u16 {
    (maglev_member(t) + 1) % 4
}

#[test]
fn maglev_picks_the_slot_of_the_tuple_hash() {
    let mut sw = lab();
    for sport in 40000..40064 {
        let t = peer_tcp(sport);
        let out = step(&mut sw, 0, &FrameSpec::new(t).build());
        assert_eq!(out.outcome, fwd(1));
        assert_eq!(dst_ip(&out.bytes), member_addr(maglev_member(&t)), "{t:?}");
    }
}

#[test]
fn conn_hit_in_either_bank_overrides_maglev_and_sets_its_activity_bit() {
    for bank in [0, 1] {
        let mut sw = lab();
        let t = peer_tcp(41000 + bank as u16);
        let m = other_member(&t);
        let idx = conn_index(KEY, lab_geometry().conn_buckets_log2, &t, bank, 2);
        add_conn(&mut sw, idx, inbound_conn(t, m));
        assert!(!activity_bit(&mut sw, idx));
        let out = step(&mut sw, 0, &FrameSpec::new(t).build());
        assert_eq!(out.outcome, fwd(1));
        assert_eq!(dst_ip(&out.bytes), member_addr(m));
        assert!(activity_bit(&mut sw, idx));
        // Write-one-to-clear: writing 0 keeps the bit, writing it back clears it.
        let word = region::ACT + 4 * (idx / 32);
        sw.write32(word, 0);
        assert!(activity_bit(&mut sw, idx));
        sw.write32(word, 1 << (idx % 32));
        assert!(!activity_bit(&mut sw, idx));
    }
}

#[test]
fn an_entry_outside_the_two_candidate_buckets_or_invalid_does_not_hit() {
    let mut sw = lab();
    let t = peer_tcp(41500);
    let b = lab_geometry().conn_buckets_log2;
    let idx = conn_index(KEY, b, &t, 0, 0);
    let elsewhere = idx ^ 4; // the next bucket of bank 0
    add_conn(&mut sw, elsewhere, inbound_conn(t, other_member(&t)));
    let out = step(&mut sw, 0, &FrameSpec::new(t).build());
    assert_eq!(dst_ip(&out.bytes), member_addr(maglev_member(&t)));
    assert!(!activity_bit(&mut sw, elsewhere));
    // Cleared entry: valid bit gone.
    add_conn(&mut sw, idx, inbound_conn(t, other_member(&t)));
    clear_entry(&mut sw, table::conn::ID, idx);
    let out = step(&mut sw, 0, &FrameSpec::new(t).build());
    assert_eq!(dst_ip(&out.bytes), member_addr(maglev_member(&t)));
}

#[test]
fn each_key_field_must_match() {
    let t = peer_tcp(41600);
    let variants = [
        FiveTuple {
            src_ip: t.src_ip + 1,
            ..t
        },
        FiveTuple {
            dst_ip: t.dst_ip + 1,
            ..t
        },
        FiveTuple {
            src_port: t.src_port + 1,
            ..t
        },
        FiveTuple {
            dst_port: t.dst_port + 1,
            ..t
        },
        FiveTuple { proto: UDP, ..t },
    ];
    for v in variants {
        let mut sw = lab();
        // The entry sits where `t` hashes, keyed on the variant.
        let idx = conn_index(KEY, lab_geometry().conn_buckets_log2, &t, 0, 1);
        add_conn(&mut sw, idx, inbound_conn(v, other_member(&t)));
        let out = step(&mut sw, 0, &FrameSpec::new(t).build());
        assert_eq!(dst_ip(&out.bytes), member_addr(maglev_member(&t)), "{v:?}");
    }
}

#[test]
fn lowest_matching_index_wins() {
    let mut sw = lab();
    let t = peer_tcp(41700);
    let b = lab_geometry().conn_buckets_log2;
    add_conn(&mut sw, conn_index(KEY, b, &t, 1, 0), inbound_conn(t, 3));
    add_conn(&mut sw, conn_index(KEY, b, &t, 0, 3), inbound_conn(t, 2));
    add_conn(&mut sw, conn_index(KEY, b, &t, 0, 1), inbound_conn(t, 1));
    let out = step(&mut sw, 0, &FrameSpec::new(t).build());
    assert_eq!(dst_ip(&out.bytes), member_addr(1));
    assert!(activity_bit(&mut sw, conn_index(KEY, b, &t, 0, 1)));
    assert!(!activity_bit(&mut sw, conn_index(KEY, b, &t, 0, 3)));
}

#[test]
fn member_down_on_a_connection_to_a_down_or_unused_member() {
    for state in [member_state::DOWN, member_state::UNUSED] {
        let mut sw = lab();
        let t = peer_tcp(42000);
        let idx = conn_index(KEY, lab_geometry().conn_buckets_log2, &t, 0, 0);
        add_conn(&mut sw, idx, inbound_conn(t, 2));
        set_member(
            &mut sw,
            2,
            MemberEntry {
                state,
                ..member_entry(2)
            },
        );
        let h = expect_punt(
            &mut sw,
            0,
            &FrameSpec::new(t).build(),
            host(reason::MEMBER_DOWN),
        )
        .unwrap();
        assert_eq!((h.service, h.member, h.tuple), (SVC_TCP, 2, t));
        assert_eq!(h.hash, oracle_hash(KEY, &t).0);
        assert!(activity_bit(&mut sw, idx), "a hit is a hit");
    }
}

#[test]
fn a_draining_member_keeps_its_connections_but_gets_no_new_ones() {
    let mut sw = lab();
    let t = peer_tcp(42100);
    let m = maglev_member(&t);
    set_member(
        &mut sw,
        m,
        MemberEntry {
            state: member_state::DRAINING,
            ..member_entry(m)
        },
    );
    let h = expect_punt(
        &mut sw,
        0,
        &FrameSpec::new(t).build(),
        host(reason::NO_MEMBER),
    )
    .unwrap();
    assert_eq!((h.service, h.member), (SVC_TCP, m));
    let idx = conn_index(KEY, lab_geometry().conn_buckets_log2, &t, 1, 3);
    add_conn(&mut sw, idx, inbound_conn(t, m));
    let out = step(&mut sw, 0, &FrameSpec::new(t).build());
    assert_eq!(dst_ip(&out.bytes), member_addr(m));
}

#[test]
fn no_member_on_an_invalid_slot() {
    let mut sw = lab();
    let t = peer_tcp(42200);
    let m = maglev_member(&t);
    set_indir(&mut sw, m.into(), None);
    let h = expect_punt(
        &mut sw,
        0,
        &FrameSpec::new(t).build(),
        host(reason::NO_MEMBER),
    )
    .unwrap();
    assert_eq!((h.service, h.member, h.tuple), (SVC_TCP, NONE_ID, t));
}

#[test]
fn slots_beyond_the_indirection_memory_are_empty() {
    let mut sw = lab();
    let last = (1u16 << lab_geometry().indir_slots_log2) - 1;
    // Two slots: the memory's last one and the one past its end.
    let s = ServiceEntry {
        indir_base: last,
        indir_log2: 1,
        ..lab_services()[0]
    };
    write_entry(&mut sw, table::service::ID, SVC_TCP.into(), &s.words());
    set_indir(&mut sw, last.into(), Some(0));
    let (inside, outside): (Vec<_>, Vec<_>) = (40000..40100)
        .map(peer_tcp)
        .partition(|t| oracle_hash(KEY, t).1 >> 16 & 1 == 0);
    assert!(!inside.is_empty() && !outside.is_empty());
    for t in outside {
        expect_punt(
            &mut sw,
            0,
            &FrameSpec::new(t).build(),
            host(reason::NO_MEMBER),
        );
    }
    for t in inside {
        let out = step(&mut sw, 0, &FrameSpec::new(t).build());
        assert_eq!(dst_ip(&out.bytes), member_addr(0));
    }
}

#[test]
fn host_policy() {
    let mut sw = lab();
    let t = FiveTuple {
        dst_port: 443,
        ..peer_tcp(43000)
    };
    let h = expect_punt(
        &mut sw,
        3,
        &FrameSpec::new(t).build(),
        host(reason::HOST_POLICY),
    )
    .unwrap();
    assert_eq!(
        (h.service, h.member, h.in_port, h.tuple),
        (SVC_HOST, NONE_ID, 3, t)
    );
    assert_eq!((h.l3_offset, h.vlan), (14, false));
}

#[test]
fn lowest_valid_service_wins() {
    let mut sw = lab();
    // Service 5 also serves VIP:80 (host policy); service 0 stays the one chosen.
    let dup = ServiceEntry {
        policy: policy::HOST,
        ..lab_services()[0]
    };
    write_entry(&mut sw, table::service::ID, 5, &dup.words());
    let t = peer_tcp(43100);
    assert_eq!(step(&mut sw, 0, &FrameSpec::new(t).build()).outcome, fwd(1));
    clear_entry(&mut sw, table::service::ID, SVC_TCP.into());
    let h = expect_punt(
        &mut sw,
        0,
        &FrameSpec::new(t).build(),
        host(reason::HOST_POLICY),
    )
    .unwrap();
    assert_eq!(h.service, 5);
}

#[test]
fn no_service_goes_to_the_host_or_is_dropped_per_ingress_port() {
    let mut sw = lab();
    let t = FiveTuple {
        dst_port: 81,
        ..peer_tcp(44000)
    };
    let h = expect_punt(
        &mut sw,
        2,
        &FrameSpec::new(t).build(),
        host(reason::NO_SERVICE),
    )
    .unwrap();
    assert_eq!((h.service, h.member, h.tuple), (NONE_ID, NONE_ID, t));
    set_port(
        &mut sw,
        2,
        PortEntry {
            mac: port_mac(2),
            enabled: true,
            no_service_drop: true,
            nh_mac: Some(nh_mac(2)),
        },
    );
    expect_punt(
        &mut sw,
        2,
        &FrameSpec::new(t).build(),
        Outcome::Drop {
            reason: reason::NO_SERVICE,
        },
    );
    // Only the ingress port's flag matters.
    expect_punt(
        &mut sw,
        1,
        &FrameSpec::new(t).build(),
        host(reason::NO_SERVICE),
    );
}

/// A reply from member `m` of the lab to the peer.
fn reply(m: u16, proto: u8) -> FiveTuple {
    let e = member_entry(m);
    FiveTuple {
        src_ip: e.addr,
        dst_ip: PEER,
        src_port: e.port,
        dst_port: 40000,
        proto,
    }
}

#[test]
fn outbound_no_conn_for_tcp_from_a_member() {
    let mut sw = lab();
    let t = reply(1, TCP);
    let h = expect_punt(
        &mut sw,
        1,
        &FrameSpec::new(t).build(),
        host(reason::OUTBOUND_NO_CONN),
    )
    .unwrap();
    assert_eq!((h.service, h.member), (SVC_TCP, 1));
}

#[test]
fn member_match_needs_state_address_port_and_the_service_protocol() {
    let mut sw = lab();
    // Member 5 serves the UDP service: a TCP packet from it is not "from a member".
    let t = reply(5, TCP);
    expect_punt(
        &mut sw,
        2,
        &FrameSpec::new(t).build(),
        host(reason::NO_SERVICE),
    );
    let t = FiveTuple {
        src_port: 1,
        ..reply(1, TCP)
    };
    expect_punt(
        &mut sw,
        1,
        &FrameSpec::new(t).build(),
        host(reason::NO_SERVICE),
    );
    set_member(
        &mut sw,
        1,
        MemberEntry {
            state: member_state::UNUSED,
            ..member_entry(1)
        },
    );
    expect_punt(
        &mut sw,
        1,
        &FrameSpec::new(reply(1, TCP)).build(),
        host(reason::NO_SERVICE),
    );
    // A down member still matches.
    set_member(
        &mut sw,
        1,
        MemberEntry {
            state: member_state::DOWN,
            ..member_entry(1)
        },
    );
    expect_punt(
        &mut sw,
        1,
        &FrameSpec::new(reply(1, TCP)).build(),
        host(reason::OUTBOUND_NO_CONN),
    );
}

#[test]
fn udp_reply_from_a_member_goes_out_of_the_service_peer_port() {
    let mut sw = lab();
    let out = step(&mut sw, 2, &FrameSpec::new(reply(5, UDP)).build());
    assert_eq!(out.outcome, fwd(PEER_PORT));
    assert_eq!(&out.bytes[26..30], &VIP.to_be_bytes());
    assert_eq!(&out.bytes[34..36], &DNS.to_be_bytes());
}

#[test]
fn outbound_conn_hit_uses_its_service_and_peer_port() {
    let mut sw = lab();
    let t = reply(2, TCP);
    let idx = conn_index(KEY, lab_geometry().conn_buckets_log2, &t, 1, 1);
    add_conn(
        &mut sw,
        idx,
        ConnEntry {
            tuple: t,
            service: SVC_TCP as u8,
            peer_port: 3,
            outbound: true,
            member: 2,
        },
    );
    let out = step(&mut sw, 1, &FrameSpec::new(t).build());
    assert_eq!(out.outcome, fwd(3));
    assert_eq!(&out.bytes[0..12], [nh_mac(3), port_mac(3)].concat());
    assert_eq!(&out.bytes[26..30], &VIP.to_be_bytes());
    assert!(activity_bit(&mut sw, idx));
}

#[test]
fn ttl_expired_before_the_next_hop_and_port_checks() {
    let mut sw = lab();
    let t = peer_tcp(45000);
    let m = maglev_member(&t);
    set_member(
        &mut sw,
        m,
        MemberEntry {
            mac: None,
            ..member_entry(m)
        },
    );
    for ttl in [0, 1] {
        let mut spec = FrameSpec::new(t);
        spec.ttl = ttl;
        let h = expect_punt(&mut sw, 0, &spec.build(), host(reason::TTL_EXPIRED)).unwrap();
        assert_eq!((h.service, h.member), (SVC_TCP, m));
    }
    let mut spec = FrameSpec::new(t);
    spec.ttl = 2;
    expect_punt(&mut sw, 0, &spec.build(), host(reason::NO_NEXT_HOP));
}

#[test]
fn no_next_hop_inbound_and_outbound() {
    let mut sw = lab();
    let t = peer_tcp(45100);
    let m = maglev_member(&t);
    set_member(
        &mut sw,
        m,
        MemberEntry {
            mac: None,
            ..member_entry(m)
        },
    );
    // Checked before the output port: disable it too.
    set_port(
        &mut sw,
        1,
        PortEntry {
            mac: port_mac(1),
            enabled: false,
            ..Default::default()
        },
    );
    let h = expect_punt(
        &mut sw,
        0,
        &FrameSpec::new(t).build(),
        host(reason::NO_NEXT_HOP),
    )
    .unwrap();
    assert_eq!((h.service, h.member), (SVC_TCP, m));

    set_port(
        &mut sw,
        PEER_PORT,
        PortEntry {
            mac: port_mac(0),
            enabled: true,
            ..Default::default()
        },
    );
    let h = expect_punt(
        &mut sw,
        2,
        &FrameSpec::new(reply(6, UDP)).build(),
        host(reason::NO_NEXT_HOP),
    )
    .unwrap();
    assert_eq!((h.service, h.member), (SVC_UDP, 6));
}

#[test]
fn port_down_drops() {
    let mut sw = lab();
    set_port(
        &mut sw,
        1,
        PortEntry {
            mac: port_mac(1),
            enabled: false,
            ..Default::default()
        },
    );
    expect_punt(
        &mut sw,
        0,
        &FrameSpec::new(peer_tcp(45200)).build(),
        Outcome::Drop {
            reason: reason::PORT_DOWN,
        },
    );
    assert_eq!(
        port_ctr(&mut sw, 1, anypoint_model::regs::ctr::port::TX_PACKETS),
        0
    );
}

fn syn(t: FiveTuple, vlan: Option<u16>) -> Vec<u8> {
    let mut spec = FrameSpec::new(t);
    spec.syn = true;
    spec.ack = false;
    spec.vlan = vlan;
    spec.build()
}

#[test]
fn a_syn_to_a_maglev_service_emits_a_learn_record() {
    let mut sw = lab();
    let t = peer_tcp(46000);
    let m = maglev_member(&t);
    let out = step(&mut sw, 3, &syn(t, Some(9)));
    assert_eq!(out.outcome, fwd(1));
    let learn = out.record.expect("learn record");
    let expected = HostHeader {
        kind: KIND_LEARN,
        reason: reason::LEARN,
        in_port: 3,
        service: SVC_TCP,
        member: m,
        frame_len: 0,
        l3_offset: 18,
        vlan: true,
        tuple: t,
        hash: oracle_hash(KEY, &t).0,
    };
    assert_eq!(HostHeader::decode(&learn), Some(expected));
    assert_eq!(reason_ctr(&mut sw, reason::LEARN), 1);
    // A learn record is not a frame: the port counts one forwarded frame only.
    assert_eq!(
        port_ctr(&mut sw, 3, anypoint_model::regs::ctr::port::HOST_PACKETS),
        0
    );
}

#[test]
fn no_learn_record_without_a_bare_syn_or_on_a_conn_hit_or_a_punt() {
    let mut sw = lab();
    let t = peer_tcp(46100);
    let mut synack = FrameSpec::new(t);
    synack.syn = true;
    synack.ack = true;
    assert_eq!(step(&mut sw, 0, &synack.build()).record, None);
    assert_eq!(step(&mut sw, 0, &FrameSpec::new(t).build()).record, None);

    let idx = conn_index(KEY, lab_geometry().conn_buckets_log2, &t, 0, 0);
    add_conn(&mut sw, idx, inbound_conn(t, maglev_member(&t)));
    let out = step(&mut sw, 0, &syn(t, None));
    assert_eq!((out.outcome, out.record), (fwd(1), None));

    let mut expired = FrameSpec::new(peer_tcp(46101));
    (expired.syn, expired.ack, expired.ttl) = (true, false, 1);
    assert_eq!(step(&mut sw, 0, &expired.build()).record, None);
    assert_eq!(reason_ctr(&mut sw, reason::LEARN), 0);
}

/// FIN and RST forwarded on a connection, in either direction, emit a state record naming the
/// segment's own tuple; RST wins over FIN; no record without a hit or for a punted segment.
#[test]
fn fin_and_rst_on_a_connection_emit_state_records() {
    let mut sw = lab();
    let t = peer_tcp(46200);
    let m = maglev_member(&t);
    let b = lab_geometry().conn_buckets_log2;
    add_conn(&mut sw, conn_index(KEY, b, &t, 0, 0), inbound_conn(t, m));
    let r = reply(m, TCP);
    let out_entry = ConnEntry {
        tuple: r,
        outbound: true,
        ..inbound_conn(t, m)
    };
    add_conn(&mut sw, conn_index(KEY, b, &r, 1, 2), out_entry);
    let segment = |tuple: FiveTuple, fin: bool, rst: bool| {
        let mut spec = FrameSpec::new(tuple);
        (spec.fin, spec.rst) = (fin, rst);
        spec.build()
    };
    let state = |kind_reason: u8, in_port: u8, tuple: FiveTuple| HostHeader {
        kind: KIND_STATE,
        reason: kind_reason,
        in_port,
        service: SVC_TCP,
        member: m,
        frame_len: 0,
        l3_offset: 14,
        vlan: false,
        tuple,
        hash: oracle_hash(KEY, &tuple).0,
    };
    let cases = [
        (0, t, true, false, Some(state(reason::TCP_FIN, 0, t))),
        (1, r, true, false, Some(state(reason::TCP_FIN, 1, r))),
        (0, t, false, true, Some(state(reason::TCP_RST, 0, t))),
        (1, r, true, true, Some(state(reason::TCP_RST, 1, r))),
        (0, t, false, false, None),
        // No connection: a FIN to the service is decided by the indirection table, no record.
        (0, peer_tcp(46201), true, false, None),
    ];
    for (port, tuple, fin, rst, want) in cases {
        let out = step(&mut sw, port, &segment(tuple, fin, rst));
        assert!(matches!(out.outcome, Some(Outcome::Forward { .. })));
        let got = out.record.map(|r| HostHeader::decode(&r).unwrap());
        assert_eq!(got, want, "port {port} fin {fin} rst {rst}");
    }
    // A punted FIN (member down) is seen whole by the host: no state record beside it.
    set_member(
        &mut sw,
        m,
        MemberEntry {
            state: member_state::DOWN,
            ..member_entry(m)
        },
    );
    assert_eq!(step(&mut sw, 0, &segment(t, true, false)).record, None);
    assert_eq!(reason_ctr(&mut sw, reason::TCP_FIN), 2);
    assert_eq!(reason_ctr(&mut sw, reason::TCP_RST), 2);
    // Records are not frames: nothing counted as sent to the host.
    assert_eq!(
        port_ctr(&mut sw, 0, anypoint_model::regs::ctr::port::HOST_PACKETS),
        1
    );
}

/// The lab's UDP service hashes the 4 payload bytes at offset 2.
#[test]
fn key_hash_picks_the_slot_of_the_payload_key() {
    let mut sw = lab();
    for key in 0u32..32 {
        let k = key.to_be_bytes();
        let (_, hi) = oracle_key_hash(KEY, &k);
        let expected = UDP_MEMBERS.start + ((hi >> 16) & 3) as u16;
        // Different peers with the same key reach the same member.
        for sport in [1000, 2000, 3000] {
            let mut spec = FrameSpec::new(peer_udp(sport));
            spec.payload = [&[0xaa, 0xbb][..], &k, b"tail"].concat();
            let out = step(&mut sw, 0, &spec.build());
            assert_eq!(out.outcome, fwd(2));
            assert_eq!(dst_ip(&out.bytes), member_addr(expected));
            assert_eq!(out.record, None);
        }
    }
}

#[test]
fn key_hash_falls_back_to_the_tuple_hash_on_a_short_payload() {
    let mut sw = lab();
    for sport in 3000..3032 {
        let t = peer_udp(sport);
        let (_, hi) = oracle_hash(KEY, &t);
        let expected = UDP_MEMBERS.start + ((hi >> 16) & 3) as u16;
        let mut spec = FrameSpec::new(t);
        spec.payload = vec![0xaa, 0xbb, 1, 2, 3]; // offset 2 + len 4 > 5
        spec.padding = vec![9; 20]; // padding is not payload
        let out = step(&mut sw, 0, &spec.build());
        assert_eq!(dst_ip(&out.bytes), member_addr(expected));
    }
}

#[test]
fn key_hash_with_tcp_behaves_like_maglev_and_learns() {
    let mut sw = lab();
    let s = ServiceEntry {
        policy: policy::KEY_HASH,
        key_len: 4,
        ..lab_services()[0]
    };
    write_entry(&mut sw, table::service::ID, SVC_TCP.into(), &s.words());
    let t = peer_tcp(47000);
    let out = step(&mut sw, 0, &syn(t, None));
    assert_eq!(dst_ip(&out.bytes), member_addr(maglev_member(&t)));
    assert!(out.record.is_some());
}

#[test]
fn undefined_policies_go_to_the_host() {
    let mut sw = lab();
    for p in [0, 4, 7] {
        let s = ServiceEntry {
            policy: p,
            ..lab_services()[0]
        };
        write_entry(&mut sw, table::service::ID, SVC_TCP.into(), &s.words());
        let h = expect_punt(
            &mut sw,
            0,
            &FrameSpec::new(peer_tcp(47100)).build(),
            host(reason::HOST_POLICY),
        );
        assert_eq!(h.unwrap().service, SVC_TCP);
    }
}
