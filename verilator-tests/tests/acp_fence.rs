//! The ACP block's load fence by bucket (docs/pipeline.md section 12) on the model's switch and the
//! Verilated top at both widths, through the daemon's engine (`anypoint_driver::acp_offload`): a
//! record the block gave back holds the loads of flows whose peer is in one of its buckets, and no
//! other load.

use std::net::{Ipv4Addr, SocketAddrV4};

use anypoint_driver::access::Backend;
use anypoint_driver::acp;
use anypoint_driver::acp_offload::Shared;
use anypoint_driver::control::PortConfig;
use anypoint_driver::{ControlPlane, PacketIo, RegisterAccess};
use anypoint_model::frame_switch::fast::{Entries, FlowRecord};
use anypoint_model::frame_switch::layout::{unpack, RECORD_WORDS};
use anypoint_model::regs::reg;
use anypoint_model::{HashKey, Switch};
use verilator_tests::rtl::{RtlSwitch, Width, GEOMETRY};

const PORT_MAC: [u8; 6] = [0x02, 0xaa, 0, 0, 0, 0];
const KEY: HashKey = HashKey([1, 2, 3, 4]);

/// A frame to port 0 carrying an ACP header's worth (40 bytes, the ports first) from `src` to
/// `dst` (address, port).
fn segment_frame(src: ([u8; 4], u16), dst: ([u8; 4], u16)) -> Vec<u8> {
    let mut payload = [0x5a; 40];
    payload[..2].copy_from_slice(&src.1.to_be_bytes());
    payload[2..4].copy_from_slice(&dst.1.to_be_bytes());
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2([0x02, 0, 0, 0, 0, 1], PORT_MAC)
        .ipv4(src.0, dst.0, 64)
        .write(&mut f, etherparse::IpNumber(253), &payload)
        .unwrap();
    f
}

/// A record whose flow's peer is `peer`.
fn record_of(peer: SocketAddrV4) -> FlowRecord {
    let mut rec = unpack(&[0; RECORD_WORDS]);
    rec.peer = peer;
    rec
}

fn a_queued_record_holds_the_loads_of_its_buckets_only<B: Backend + 'static>(dev: B) {
    let mut cp = ControlPlane::new(Shared::new(dev), KEY).unwrap();
    cp.set_port(&PortConfig {
        id: 0,
        mac: PORT_MAC,
        next_hop_mac: None,
        no_service_drop: false,
    })
    .unwrap();
    let dev = cp.backend();
    let mut slots = dev.acp_engine().expect("the ACP block");
    assert_eq!(dev.read32(reg::ACP_BUCKETS), 64);
    let none = Entries::default();
    // Fence buckets, the 48 bits of address and port folded to 6 by exclusive or (worked by
    // hand): the peer 10.0.0.1 of flow a on port 40000 in bucket 10, of flow b on 40001 in 11;
    // the VIP 10.0.0.100:7000 in 15; the member 10.0.1.11:7000 in 37.
    let peer_a = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40000);
    let peer_b = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40001);
    let (vip, member) = (([10, 0, 0, 100], 7000), ([10, 0, 1, 11], 7000));

    // Flow b's peer sends a segment no slot holds: queued, in buckets 11 and 15.
    dev.receive(0, &segment_frame(([10, 0, 0, 1], 40001), vip));
    assert_eq!(
        [10, 11, 15, 37].map(|b| acp::given_in(dev, b)),
        [0, 1, 1, 0]
    );
    assert_eq!(acp::given(dev), 1);
    assert!(
        !slots.load(0, &record_of(peer_b), &none),
        "b's record is queued"
    );
    assert!(
        slots.load(0, &record_of(peer_a), &none),
        "a's bucket is clear"
    );
    slots.unload(0);

    // A member's segment to flow a's peer, queued: in buckets 37 and 10.
    dev.receive(0, &segment_frame(member, ([10, 0, 0, 1], 40000)));
    assert_eq!(
        [10, 11, 15, 37].map(|b| acp::given_in(dev, b)),
        [1, 1, 1, 1]
    );
    assert_eq!(acp::given(dev), 2);
    assert!(
        !slots.load(0, &record_of(peer_a), &none),
        "a's record is queued"
    );
    assert!(!slots.load(0, &record_of(peer_b), &none));

    // Read in order: each load goes ahead once its bucket's records are read.
    assert!(dev.pop_host().is_some());
    assert!(slots.load(1, &record_of(peer_b), &none), "b's record read");
    assert!(!slots.load(0, &record_of(peer_a), &none));
    assert!(dev.pop_host().is_some());
    assert!(slots.load(0, &record_of(peer_a), &none), "a's record read");
    assert!(acp::valid(dev, 0) && acp::valid(dev, 1));

    // A reset zeroes the buckets, and the host's counts restart with them.
    dev.receive(0, &segment_frame(([10, 0, 0, 1], 40001), vip));
    assert!(dev.pop_host().is_some());
    dev.write32(reg::SOFT_RESET, reg::SOFT_RESET_GO.place(1));
    assert_eq!([11, 15].map(|b| acp::given_in(dev, b)), [0, 0]);
    assert!(
        slots.load(1, &record_of(peer_b), &none),
        "counted from zero again"
    );
}

#[test]
fn model_a_queued_record_holds_the_loads_of_its_buckets_only() {
    a_queued_record_holds_the_loads_of_its_buckets_only(Switch::new(GEOMETRY));
}

#[test]
fn rtl_a_queued_record_holds_the_loads_of_its_buckets_only() {
    for width in [Width::W64, Width::W512] {
        a_queued_record_holds_the_loads_of_its_buckets_only(RtlSwitch::new(width));
    }
}
