//! docs/pipeline.md section 7: the rewrite, compared byte for byte with frames etherparse builds
//! with the rewritten fields and checksums computed from scratch.

mod common;

use anypoint_model::regs::{ctr, reason, table};
use anypoint_model::{FiveTuple, Outcome};
use common::*;

/// What the lab should send for `spec` going to member `m`.
fn inbound_expected(spec: &FrameSpec, m: u16) -> FrameSpec {
    let e = member_entry(m);
    FrameSpec {
        src_mac: port_mac(e.out_port),
        dst_mac: member_mac(m),
        tuple: FiveTuple {
            dst_ip: e.addr,
            dst_port: e.port,
            ..spec.tuple
        },
        ttl: spec.ttl - 1,
        ..spec.clone()
    }
}

fn forward(sw: &mut anypoint_model::Switch, port: u8, frame: &[u8]) -> (u8, Vec<u8>) {
    let out = step(sw, port, frame);
    match out.outcome {
        Some(Outcome::Forward { port }) => (port, out.bytes),
        other => panic!("not forwarded: {other:?}"),
    }
}

/// Verifies the IPv4 and L4 checksums of `frame` from scratch, padding excluded.
fn assert_checksums(frame: &[u8], l3: usize) {
    assert_eq!(
        internet_checksum(&frame[l3..l3 + 20]),
        0,
        "IPv4 header checksum"
    );
    let total = usize::from(u16::from_be_bytes([frame[l3 + 2], frame[l3 + 3]]));
    let segment = &frame[l3 + 20..l3 + total];
    let proto = frame[l3 + 9];
    if proto == UDP && segment[6..8] == [0, 0] {
        return;
    }
    let mut pseudo = frame[l3 + 12..l3 + 20].to_vec();
    pseudo.extend_from_slice(&[0, proto]);
    pseudo.extend_from_slice(&((total - 20) as u16).to_be_bytes());
    pseudo.extend_from_slice(segment);
    assert_eq!(internet_checksum(&pseudo), 0, "L4 checksum");
}

#[test]
fn inbound_rewrite_tcp() {
    let mut sw = lab();
    let t = peer_tcp(50000);
    let m = maglev_member(&t);
    let mut spec = FrameSpec::new(t);
    (spec.ip_id, spec.dscp, spec.ttl) = (0xbeef, 46, 2);
    let (port, bytes) = forward(&mut sw, 0, &spec.build());
    assert_eq!(port, 1);
    assert_eq!(bytes, inbound_expected(&spec, m).build());
    assert_eq!(bytes[spec.l3() + 8], 1, "TTL");
    assert_checksums(&bytes, spec.l3());
}

#[test]
fn vlan_tag_is_kept() {
    let mut sw = lab();
    let t = peer_tcp(50100);
    let mut spec = FrameSpec::new(t);
    spec.vlan = Some(0x123);
    let frame = spec.build();
    let (_, bytes) = forward(&mut sw, 0, &frame);
    assert_eq!(bytes[12..16], frame[12..16]);
    assert_eq!(bytes, inbound_expected(&spec, maglev_member(&t)).build());
    assert_checksums(&bytes, 18);
}

#[test]
fn padding_is_carried_and_not_checksummed() {
    let mut sw = lab();
    for proto in [TCP, UDP] {
        let t = if proto == TCP {
            peer_tcp(50200)
        } else {
            peer_udp(50200)
        };
        let mut spec = FrameSpec::new(t);
        spec.payload = vec![0x11; 3];
        spec.padding = vec![0xde, 0xad, 0xbe, 0xef, 0x01];
        let frame = spec.build();
        let (_, bytes) = forward(&mut sw, 0, &frame);
        assert_eq!(bytes.len(), frame.len());
        assert_eq!(bytes[bytes.len() - 5..], spec.padding[..]);
        assert_checksums(&bytes, 14);
    }
}

#[test]
fn outbound_rewrite_udp_from_a_member() {
    let mut sw = lab();
    let e = member_entry(6);
    let t = FiveTuple {
        src_ip: e.addr,
        dst_ip: PEER,
        src_port: e.port,
        dst_port: 40000,
        proto: UDP,
    };
    let mut spec = FrameSpec::new(t);
    spec.vlan = Some(3);
    let (port, bytes) = forward(&mut sw, 2, &spec.build());
    assert_eq!(port, PEER_PORT);
    let expected = FrameSpec {
        src_mac: port_mac(PEER_PORT),
        dst_mac: nh_mac(PEER_PORT),
        tuple: FiveTuple {
            src_ip: VIP,
            src_port: DNS,
            ..t
        },
        ttl: spec.ttl - 1,
        ..spec.clone()
    };
    assert_eq!(bytes, expected.build());
    assert_checksums(&bytes, 18);
}

#[test]
fn udp_checksum_zero_stays_zero() {
    let mut sw = lab();
    let mut spec = FrameSpec::new(peer_udp(50300));
    spec.payload = vec![0, 0, 1, 2, 3, 4];
    let mut frame = spec.build();
    frame[14 + 20 + 6..14 + 20 + 8].fill(0);
    let (_, bytes) = forward(&mut sw, 0, &frame);
    assert_eq!(bytes[14 + 20 + 6..14 + 20 + 8], [0, 0]);
    assert_checksums(&bytes, 14);
}

#[test]
fn a_computed_udp_checksum_of_zero_is_sent_as_ffff() {
    let mut sw = lab();
    let key = [1, 2, 3, 4];
    let m = UDP_MEMBERS.start + ((oracle_key_hash(KEY, &key).1 >> 16) & 3) as u16;
    let e = member_entry(m);
    let mut spec = FrameSpec::new(peer_udp(50400));
    spec.payload = [&[0, 0][..], &key, &[0, 0]].concat();
    // The datagram as the member will get it, with the last payload word 0 and no checksum.
    let udp_len = 8 + spec.payload.len() as u16;
    let mut pseudo = [PEER.to_be_bytes(), e.addr.to_be_bytes()].concat();
    pseudo.extend_from_slice(&[0, UDP]);
    pseudo.extend_from_slice(&udp_len.to_be_bytes());
    pseudo.extend_from_slice(&spec.tuple.src_port.to_be_bytes());
    pseudo.extend_from_slice(&e.port.to_be_bytes());
    pseudo.extend_from_slice(&udp_len.to_be_bytes());
    pseudo.extend_from_slice(&[0, 0]);
    pseudo.extend_from_slice(&spec.payload);
    // Making that word the checksum brings the sum to 0xffff, whose checksum is 0.
    let word = internet_checksum(&pseudo);
    let n = spec.payload.len();
    spec.payload[n - 2..].copy_from_slice(&word.to_be_bytes());
    let (_, bytes) = forward(&mut sw, 0, &spec.build());
    assert_eq!(
        &bytes[30..34],
        &e.addr.to_be_bytes(),
        "the member the test aimed at"
    );
    assert_eq!(bytes[14 + 20 + 6..14 + 20 + 8], [0xff, 0xff]);
    assert_checksums(&bytes, 14);
}

#[test]
fn counters_add_up() {
    use ctr::port::*;
    let mut sw = lab();
    let t = peer_tcp(51000);
    let m = maglev_member(&t);
    let frame = FrameSpec::new(t).build();
    let len = frame.len() as u64;
    for _ in 0..3 {
        forward(&mut sw, 0, &frame);
    }
    let reply = FrameSpec::new(FiveTuple {
        src_ip: member_addr(4),
        dst_ip: PEER,
        src_port: 5353,
        dst_port: 9,
        proto: UDP,
    })
    .build();
    forward(&mut sw, 2, &reply);
    let no_service = FrameSpec::new(FiveTuple { dst_port: 1, ..t }).build();
    step(&mut sw, 0, &no_service);
    step(&mut sw, 0, &frame[..10]);

    let rx = (
        port_ctr(&mut sw, 0, RX_PACKETS),
        port_ctr(&mut sw, 0, RX_BYTES),
    );
    assert_eq!(rx, (5, 3 * len + no_service.len() as u64 + 10));
    assert_eq!(port_ctr(&mut sw, 0, HOST_PACKETS), 1);
    assert_eq!(port_ctr(&mut sw, 0, DROP_PACKETS), 1);
    assert_eq!(port_ctr(&mut sw, 0, TX_PACKETS), 1);
    assert_eq!(port_ctr(&mut sw, 0, TX_BYTES), reply.len() as u64);
    assert_eq!(
        (
            port_ctr(&mut sw, 1, TX_PACKETS),
            port_ctr(&mut sw, 1, TX_BYTES)
        ),
        (3, 3 * len)
    );
    assert_eq!(port_ctr(&mut sw, 2, RX_PACKETS), 1);
    assert_eq!(reason_ctr(&mut sw, reason::NO_SERVICE), 1);
    assert_eq!(reason_ctr(&mut sw, reason::RUNT), 1);

    use ctr::service::{IN_BYTES, IN_PACKETS, OUT_BYTES, OUT_PACKETS};
    assert_eq!(service_ctr(&mut sw, SVC_TCP, IN_PACKETS), 3);
    assert_eq!(service_ctr(&mut sw, SVC_TCP, IN_BYTES), 3 * len);
    assert_eq!(service_ctr(&mut sw, SVC_TCP, OUT_PACKETS), 0);
    assert_eq!(member_ctr(&mut sw, m, IN_PACKETS), 3);
    assert_eq!(member_ctr(&mut sw, m, IN_BYTES), 3 * len);
    assert_eq!(service_ctr(&mut sw, SVC_UDP, OUT_PACKETS), 1);
    assert_eq!(service_ctr(&mut sw, SVC_UDP, OUT_BYTES), reply.len() as u64);
    assert_eq!(member_ctr(&mut sw, 4, OUT_PACKETS), 1);
    assert_eq!(member_ctr(&mut sw, 4, OUT_BYTES), reply.len() as u64);
    assert_eq!(member_ctr(&mut sw, 4, IN_PACKETS), 0);
}

#[test]
fn the_rewrite_needs_the_ports_mac() {
    // Changing the output port's MAC changes the source MAC of the forwarded frame.
    let mut sw = lab();
    let new_mac = mac(0x77, 0x77);
    let e = PortEntry {
        mac: new_mac,
        enabled: true,
        no_service_drop: false,
        nh_mac: None,
    };
    write_entry(&mut sw, table::port::ID, 1, &e.words());
    let (_, bytes) = forward(&mut sw, 0, &FrameSpec::new(peer_tcp(51100)).build());
    assert_eq!(bytes[6..12], new_mac);
}
