//! Random valid TCP/UDP frames through a randomly programmed switch, checked against etherparse:
//! the output is re-parsed, its checksums recomputed from scratch, and it must equal the frame
//! etherparse builds from the test's own expectation.

mod common;

use anypoint_model::hostrec::{KIND_LEARN, KIND_STATE};
use anypoint_model::regs::{member_state, policy, reason, table};
use anypoint_model::{FiveTuple, HostHeader, Outcome, StepOutput, Switch};
use common::*;
use etherparse::{NetHeaders, PacketHeaders, TransportHeader};
use proptest::collection::vec;
use proptest::prelude::*;

const MEMBERS: usize = 4;

#[derive(Clone, Debug)]
struct Member {
    id: u16,
    addr: u32,
    port: u16,
    out_port: u8,
    mac: [u8; 6],
}

#[derive(Clone, Debug)]
enum Path {
    /// No connection entry: the service's indirection slots choose.
    Maglev,
    /// An inbound connection entry to member `member` in `bank`, `way`.
    InboundConn { member: usize, bank: u32, way: u32 },
    /// A reply from `member` through an outbound connection entry out of `peer_port`.
    OutboundConn {
        member: usize,
        bank: u32,
        way: u32,
        peer_port: u8,
    },
    /// A reply from `member` without a connection entry (forwarded for UDP only).
    MemberReply { member: usize },
}

#[derive(Clone, Debug)]
struct Case {
    key: [u8; 16],
    service_id: u16,
    vip: u32,
    service_port: u16,
    peer_port: u8,
    indir_base: u16,
    indir_log2: u8,
    /// Indirection slot `i` names `members[slots[i]]`.
    slots: Vec<usize>,
    members: Vec<Member>,
    path: Path,
    spec: FrameSpec,
    udp_no_checksum: bool,
}

fn member_strategy() -> impl Strategy<Value = Vec<Member>> {
    (
        0u16..12,
        vec(
            (any::<u16>(), any::<u16>(), 1u8..4, any::<[u8; 4]>()),
            MEMBERS,
        ),
    )
        .prop_map(|(first, ms)| {
            ms.into_iter()
                .enumerate()
                .map(|(i, (host, port, out_port, m))| Member {
                    id: first + i as u16,
                    // Distinct addresses by construction, away from peers and VIPs.
                    addr: 0x0a00_0000 | (i as u32) << 16 | u32::from(host),
                    port,
                    out_port,
                    mac: [0x06, 0, m[0], m[1], m[2], m[3]],
                })
                .collect()
        })
}

fn path_strategy() -> impl Strategy<Value = Path> {
    prop_oneof![
        Just(Path::Maglev),
        (0..MEMBERS, 0u32..2, 0u32..4).prop_map(|(member, bank, way)| Path::InboundConn {
            member,
            bank,
            way
        }),
        (0..MEMBERS, 0u32..2, 0u32..4, 0u8..4).prop_map(|(member, bank, way, peer_port)| {
            Path::OutboundConn {
                member,
                bank,
                way,
                peer_port,
            }
        }),
        (0..MEMBERS).prop_map(|member| Path::MemberReply { member }),
    ]
}

fn frame_strategy() -> impl Strategy<Value = (FrameSpec, bool)> {
    (
        (
            any::<bool>(),
            prop::option::of(0u16..4096),
            0x6400_0000u32..0x7f00_0000,
            any::<u16>(),
        ),
        (
            2u8..=255,
            any::<u16>(),
            0u8..64,
            any::<bool>(),
            any::<u32>(),
        ),
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            vec(any::<u8>(), 0..80),
            vec(any::<u8>(), 0..40),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (tcp, vlan, peer, peer_l4),
                (ttl, ip_id, dscp, df, seq),
                (syn, ack, fin, rst, payload, padding, no_sum),
            )| {
                // The 5-tuple is filled in once the case knows its direction.
                let tuple = FiveTuple {
                    src_ip: peer,
                    src_port: peer_l4,
                    proto: if tcp { TCP } else { UDP },
                    ..Default::default()
                };
                let spec = FrameSpec {
                    src_mac: mac(0xee, 0xee),
                    dst_mac: mac(0xdd, 0xdd),
                    vlan,
                    tuple,
                    ttl,
                    ip_id,
                    dscp,
                    dont_fragment: df,
                    syn,
                    ack,
                    fin,
                    rst,
                    seq,
                    payload,
                    padding,
                };
                (spec, no_sum && !tcp)
            },
        )
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        (
            any::<[u8; 16]>(),
            0u16..8,
            any::<u16>(),
            any::<u16>(),
            0u8..4,
            0u16..48,
            0u8..=4,
        ),
        member_strategy(),
        vec(0..MEMBERS, 16),
        path_strategy(),
        frame_strategy(),
    )
        .prop_map(
            |(
                (key, service_id, vip_lo, service_port, peer_port, indir_base, indir_log2),
                members,
                slots,
                path,
                (mut spec, udp_no_checksum),
            )| {
                let vip = 0xac10_0000 | u32::from(vip_lo);
                let peer = (spec.tuple.src_ip, spec.tuple.src_port);
                spec.tuple = match path {
                    Path::Maglev | Path::InboundConn { .. } => FiveTuple {
                        dst_ip: vip,
                        dst_port: service_port,
                        ..spec.tuple
                    },
                    Path::OutboundConn { member, .. } | Path::MemberReply { member } => FiveTuple {
                        src_ip: members[member].addr,
                        src_port: members[member].port,
                        dst_ip: peer.0,
                        dst_port: peer.1,
                        proto: spec.tuple.proto,
                    },
                };
                Case {
                    key,
                    service_id,
                    vip,
                    service_port,
                    peer_port,
                    indir_base,
                    indir_log2,
                    slots,
                    members,
                    path,
                    spec,
                    udp_no_checksum,
                }
            },
        )
}

/// Programs the case through `write32` only.
fn program(c: &Case) -> Switch {
    let g = lab_geometry();
    let mut sw = Switch::new(g);
    set_hash_key(&mut sw, c.key);
    for p in 0..g.ports {
        let e = PortEntry {
            mac: port_mac(p),
            enabled: true,
            no_service_drop: false,
            nh_mac: Some(nh_mac(p)),
        };
        write_entry(&mut sw, table::port::ID, p.into(), &e.words());
    }
    let s = ServiceEntry {
        vip: c.vip,
        port: c.service_port,
        proto: c.spec.tuple.proto,
        policy: policy::MAGLEV,
        indir_base: c.indir_base,
        indir_log2: c.indir_log2,
        peer_port: c.peer_port,
        ..Default::default()
    };
    write_entry(&mut sw, table::service::ID, c.service_id.into(), &s.words());
    for m in &c.members {
        let e = MemberEntry {
            addr: m.addr,
            port: m.port,
            out_port: m.out_port,
            state: member_state::ACTIVE,
            service: c.service_id as u8,
            mac: Some(m.mac),
        };
        write_entry(&mut sw, table::member::ID, m.id.into(), &e.words());
    }
    for i in 0..1u16 << c.indir_log2 {
        set_indir(
            &mut sw,
            (c.indir_base + i).into(),
            Some(c.members[c.slots[usize::from(i)]].id),
        );
    }
    let b = g.conn_buckets_log2;
    match c.path {
        Path::InboundConn { member, bank, way } => {
            let e = ConnEntry {
                tuple: c.spec.tuple,
                service: c.service_id as u8,
                peer_port: c.peer_port,
                outbound: false,
                member: c.members[member].id,
            };
            write_entry(
                &mut sw,
                table::conn::ID,
                conn_index(c.key, b, &c.spec.tuple, bank, way),
                &e.words(),
            );
        }
        Path::OutboundConn {
            member,
            bank,
            way,
            peer_port,
        } => {
            let e = ConnEntry {
                tuple: c.spec.tuple,
                service: c.service_id as u8,
                peer_port,
                outbound: true,
                member: c.members[member].id,
            };
            write_entry(
                &mut sw,
                table::conn::ID,
                conn_index(c.key, b, &c.spec.tuple, bank, way),
                &e.words(),
            );
        }
        Path::Maglev | Path::MemberReply { .. } => {}
    }
    sw
}

/// The frame as the case sends it.
fn input(c: &Case) -> Vec<u8> {
    let mut f = c.spec.build();
    if c.udp_no_checksum {
        let at = c.spec.l3() + 20 + 6;
        f[at..at + 2].fill(0);
    }
    f
}

/// The member the packet goes to or comes from.
fn member_of(c: &Case) -> &Member {
    match c.path {
        Path::Maglev => {
            let (_, hi) = oracle_hash(c.key, &c.spec.tuple);
            let i = (hi >> 16) & ((1 << c.indir_log2) - 1);
            &c.members[c.slots[i as usize]]
        }
        Path::InboundConn { member, .. }
        | Path::OutboundConn { member, .. }
        | Path::MemberReply { member } => &c.members[member],
    }
}

/// Output port and the frame spec expected out of it.
fn expected(c: &Case) -> (u8, FrameSpec) {
    let m = member_of(c);
    let t = c.spec.tuple;
    let ttl = c.spec.ttl - 1;
    let outbound_port = match c.path {
        Path::Maglev | Path::InboundConn { .. } => None,
        Path::OutboundConn { peer_port, .. } => Some(peer_port),
        Path::MemberReply { .. } => Some(c.peer_port),
    };
    match outbound_port {
        None => (
            m.out_port,
            FrameSpec {
                src_mac: port_mac(m.out_port),
                dst_mac: m.mac,
                tuple: FiveTuple {
                    dst_ip: m.addr,
                    dst_port: m.port,
                    ..t
                },
                ttl,
                ..c.spec.clone()
            },
        ),
        Some(o) => (
            o,
            FrameSpec {
                src_mac: port_mac(o),
                dst_mac: nh_mac(o),
                tuple: FiveTuple {
                    src_ip: c.vip,
                    src_port: c.service_port,
                    ..t
                },
                ttl,
                ..c.spec.clone()
            },
        ),
    }
}

fn run(sw: &mut Switch, c: &Case) -> StepOutput {
    let mut out = StepOutput::default();
    sw.step(0, &input(c), false, &mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn forwarded_frames_match_etherparse(c in case_strategy()) {
        // A TCP reply without a connection goes to the host: covered in tests/decide.rs.
        prop_assume!(!(matches!(c.path, Path::MemberReply { .. }) && c.spec.tuple.proto == TCP));
        let mut sw = program(&c);
        let out = run(&mut sw, &c);
        let (port, exp) = expected(&c);
        prop_assert_eq!(out.outcome, Some(Outcome::Forward { port }));

        // Re-parse and check every rewritten field and both checksums from scratch.
        let h = PacketHeaders::from_ethernet_slice(&out.bytes).expect("etherparse parses the output");
        let eth = h.link.clone().and_then(|l| l.ethernet2()).unwrap();
        prop_assert_eq!((eth.source, eth.destination), (exp.src_mac, exp.dst_mac));
        prop_assert_eq!(h.vlan_ids().first().map(|v| v.value()), c.spec.vlan);
        let Some(NetHeaders::Ipv4(ip, _)) = &h.net else { panic!("not IPv4") };
        prop_assert_eq!(ip.header_checksum, ip.calc_header_checksum());
        prop_assert_eq!(ip.time_to_live, c.spec.ttl - 1);
        prop_assert_eq!((u32::from_be_bytes(ip.source), u32::from_be_bytes(ip.destination)), (exp.tuple.src_ip, exp.tuple.dst_ip));
        prop_assert_eq!((ip.identification, ip.dscp.value(), ip.dont_fragment), (c.spec.ip_id, c.spec.dscp, c.spec.dont_fragment));
        match h.transport.as_ref().unwrap() {
            TransportHeader::Tcp(tcp) => {
                prop_assert_eq!(tcp.checksum, tcp.calc_checksum_ipv4(ip, &c.spec.payload).unwrap());
                prop_assert_eq!((tcp.source_port, tcp.destination_port), (exp.tuple.src_port, exp.tuple.dst_port));
            }
            TransportHeader::Udp(udp) => {
                let sum = if c.udp_no_checksum { 0 } else { udp.calc_checksum_ipv4(ip, &c.spec.payload).unwrap() };
                prop_assert_eq!(udp.checksum, sum);
                prop_assert_eq!((udp.source_port, udp.destination_port), (exp.tuple.src_port, exp.tuple.dst_port));
            }
            other => panic!("unexpected transport {other:?}"),
        }
        // Byte for byte: payload, padding and every other field unchanged.
        let mut expected_frame = exp.build();
        if c.udp_no_checksum {
            let at = c.spec.l3() + 20 + 6;
            expected_frame[at..at + 2].fill(0);
        }
        prop_assert_eq!(&out.bytes, &expected_frame);

        // A learn record exactly for a bare SYN that maglev placed; a state record for a FIN or
        // RST (RST first) forwarded on a connection entry.
        let tcp = c.spec.tuple.proto == TCP;
        let on_conn = matches!(c.path, Path::InboundConn { .. } | Path::OutboundConn { .. });
        let expected = match () {
            _ if matches!(c.path, Path::Maglev) && tcp && c.spec.syn && !c.spec.ack => Some((KIND_LEARN, reason::LEARN)),
            _ if on_conn && tcp && c.spec.rst => Some((KIND_STATE, reason::TCP_RST)),
            _ if on_conn && tcp && c.spec.fin => Some((KIND_STATE, reason::TCP_FIN)),
            _ => None,
        };
        prop_assert_eq!(out.record.is_some(), expected.is_some());
        if let (Some(l), Some((kind, code))) = (out.record, expected) {
            let l = HostHeader::decode(&l).unwrap();
            prop_assert_eq!((l.kind, l.reason, l.in_port, l.frame_len), (kind, code, 0, 0));
            prop_assert_eq!((l.service, l.member), (c.service_id, member_of(&c).id));
            prop_assert_eq!((l.tuple, l.hash), (c.spec.tuple, oracle_hash(c.key, &c.spec.tuple).0));
            prop_assert_eq!((l.l3_offset as usize, l.vlan), (c.spec.l3(), c.spec.vlan.is_some()));
        }
    }

    #[test]
    fn the_same_tuple_always_reaches_the_same_member(c in case_strategy(), payloads in vec(vec(any::<u8>(), 0..64), 1..6)) {
        prop_assume!(matches!(c.path, Path::Maglev | Path::InboundConn { .. }));
        let mut sw = program(&c);
        let first = run(&mut sw, &c);
        let dst = c.spec.l3() + 16;
        for payload in payloads {
            let mut other = c.clone();
            other.spec.payload = payload;
            let out = run(&mut sw, &other);
            prop_assert_eq!(out.outcome, first.outcome);
            prop_assert_eq!(&out.bytes[dst..dst + 4], &first.bytes[dst..dst + 4]);
            prop_assert_eq!(&out.bytes[0..6], &first.bytes[0..6]);
        }
        prop_assert_eq!(&first.bytes[dst..dst + 4], &member_of(&c).addr.to_be_bytes());
    }
}
