//! The load fence of the device's ACP block (anypoint_driver::acp_offload, docs/pipeline.md section
//! 12) against the model's whole switch: a load waits until the host has read every record the
//! block gave back that may be of the flow (verilator-tests' `acp_fence`: those in the fence bucket
//! of its peer).

mod common;

use anypoint_driver::acp;
use anypoint_driver::acp_offload::Shared;
use anypoint_driver::control::PortConfig;
use anypoint_driver::{ControlPlane, PacketIo, RegisterAccess};
use anypoint_model::frame_switch::fast::{Engine, Entries, FlowRecord};
use anypoint_model::frame_switch::layout::{unpack, RECORD_WORDS};
use anypoint_model::hostrec::HEADER_LEN;
use anypoint_model::regs::{reg, table::acp_nbr};
use anypoint_model::Switch;
use common::KEY;
use std::net::{Ipv4Addr, SocketAddrV4};

const PORT_MAC: [u8; 6] = [0x02, 0xaa, 0, 0, 0, 0];

/// An IPv4 frame of protocol `proto` to port 0 carrying 40 bytes (an ACP header's worth: its
/// ports 0x5a5a).
fn frame(proto: u8) -> Vec<u8> {
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2([0x02, 0, 0, 0, 0, 1], PORT_MAC)
        .ipv4([10, 0, 0, 1], [10, 0, 0, 100], 64)
        .write(&mut f, etherparse::IpNumber(proto), &[0x5a; 40])
        .unwrap();
    f
}

/// A record whose flow's peer is `peer`.
fn record_of(peer: SocketAddrV4) -> FlowRecord {
    let mut rec = unpack(&[0; RECORD_WORDS]);
    rec.peer = peer;
    rec
}

#[test]
fn a_load_waits_for_every_record_the_block_gave_back() {
    let mut cp = ControlPlane::new(Shared::new(Switch::new(Default::default())), KEY).unwrap();
    cp.set_port(&PortConfig {
        id: 0,
        mac: PORT_MAC,
        next_hop_mac: None,
        no_service_drop: false,
    })
    .unwrap();
    let dev = cp.backend();
    let mut slots = dev.acp_engine().expect("the model's ACP block");
    assert_eq!(slots.slots(), 2);
    assert!(dev.acp_engine().is_none(), "one set of slots");
    // The flow of the frames below: its peer is their source.
    let rec = record_of(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 0x5a5a));
    let none = Entries::default();
    assert!(slots.load(0, &rec, &none), "nothing given back yet");
    assert!(acp::valid(dev, 0));
    slots.unload(0);

    // No slot holds its flow: the block gives the segment back.
    let acp_frame = frame(253);
    dev.receive(0, &acp_frame);
    assert_eq!(acp::given(dev), 1);
    assert!(!slots.load(0, &rec, &none), "its record is still queued");
    assert!(!acp::valid(dev, 0));
    let got = dev.pop_host().expect("the record given back");
    assert_eq!(&got[HEADER_LEN..], &acp_frame[..]);
    assert!(slots.load(0, &rec, &none), "read: the load goes ahead");
    assert!(acp::valid(dev, 0));

    // Records the block does not offer (another protocol) are not counted on either side.
    dev.receive(0, &frame(252));
    assert_eq!(acp::given(dev), 1);
    assert!(dev.pop_host().is_some());
    assert!(slots.load(1, &rec, &none));

    // A soft reset zeroes ACP_GIVEN and the count of records read with it.
    dev.receive(0, &acp_frame);
    assert!(dev.pop_host().is_some());
    dev.write32(reg::SOFT_RESET, reg::SOFT_RESET_GO.place(1));
    assert_eq!(acp::given(dev), 0);
    assert!(slots.load(0, &rec, &none), "counted from zero again");

    // The same through a block write that covers SOFT_RESET.
    dev.receive(0, &acp_frame);
    assert!(dev.pop_host().is_some());
    dev.write_words(reg::SOFT_RESET, &[reg::SOFT_RESET_GO.place(1), 0]);
    assert_eq!(acp::given(dev), 0);
    assert!(slots.load(0, &rec, &none), "counted from zero again");
}

/// Neighbour entry 0 as the block holds it: (valid, address).
fn neighbour0(dev: &mut impl RegisterAccess) -> (u32, u32) {
    let word = |f: anypoint_model::regs::Field| reg::ACP_NBR + 4 * f.word as u32;
    (
        acp_nbr::VALID.extract(dev.read32(word(acp_nbr::VALID))),
        acp_nbr::ADDR.extract(dev.read32(word(acp_nbr::ADDR))),
    )
}

#[test]
fn a_load_after_a_soft_reset_writes_the_neighbour_table_again() {
    let mut dev = Shared::new(Switch::new(Default::default()));
    let mut slots = dev.acp_engine().expect("the model's ACP block");
    let peer = Ipv4Addr::new(10, 0, 0, 1);
    slots.route(peer, 0, [0x02, 0, 0, 0, 0, 1]);
    let mut rec = unpack(&[0; RECORD_WORDS]);
    rec.peer = SocketAddrV4::new(peer, 40000);
    let none = Entries::default();
    assert!(slots.load(0, &rec, &none));
    assert_eq!(neighbour0(&mut dev), (1, peer.into()));
    slots.unload(0);
    assert!(slots.load(0, &rec, &none));

    dev.write32(reg::SOFT_RESET, reg::SOFT_RESET_GO.place(1));
    assert_eq!(neighbour0(&mut dev), (0, 0), "the reset cleared it");
    assert!(slots.load(0, &rec, &none));
    assert_eq!(neighbour0(&mut dev), (1, peer.into()), "written again");
}
