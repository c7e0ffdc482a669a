//! A two-port switch model under a control plane, and frames to send through it.
#![allow(dead_code)] // each test binary uses its own subset

use anypoint_driver::control::{MemberConfig, PortConfig, ServiceConfig};
use anypoint_driver::{Backend, ControlPlane, PolicyKind, Proto};
use anypoint_model::{FiveTuple, Geometry, HashKey, Switch};
use etherparse::PacketBuilder;
use std::net::Ipv4Addr;

/// Port 0 faces the peers, port 1 the members.
pub const PEER_PORT: u8 = 0;
pub const MEMBER_PORT: u8 = 1;
pub const PORT_MAC: [[u8; 6]; 2] = [[2, 0, 0, 0, 0, 0x10], [2, 0, 0, 0, 0, 0x11]];
pub const GATEWAY_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xfe];
pub const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
pub const KEY: HashKey = HashKey([0x0302_0100, 0x0706_0504, 0x0b0a_0908, 0x0f0e_0d0c]);

pub fn member_mac(addr: Ipv4Addr) -> [u8; 6] {
    let [_, _, c, d] = addr.octets();
    [2, 0xaa, 0, 0, c, d]
}

pub fn control_plane<B: Backend>(backend: B) -> ControlPlane<B> {
    control_plane_keyed(backend, KEY)
}

/// The two ports set up, hashing with `key`.
pub fn control_plane_keyed<B: Backend>(backend: B, key: HashKey) -> ControlPlane<B> {
    let mut cp = ControlPlane::new(backend, key).expect("an Anypoint model");
    for (id, mac) in PORT_MAC.iter().enumerate() {
        cp.set_port(&PortConfig {
            id: id as u8,
            mac: *mac,
            next_hop_mac: Some(GATEWAY_MAC),
            no_service_drop: false,
        })
        .unwrap();
    }
    cp
}

pub fn model() -> ControlPlane<Switch> {
    control_plane(Switch::new(Geometry::default()))
}

pub fn service(name: &str, vip: Ipv4Addr, policy: PolicyKind) -> ServiceConfig {
    ServiceConfig {
        name: name.into(),
        vip,
        port: 80,
        proto: Proto::Tcp,
        policy,
        key: None,
        peer_port: PEER_PORT,
        indir_log2: 12,
    }
}

pub fn member(addr: Ipv4Addr, weight: u32) -> MemberConfig {
    MemberConfig {
        addr,
        port: 8080,
        mac: Some(member_mac(addr)),
        out_port: MEMBER_PORT,
        weight,
    }
}

/// A TCP segment from `src` to `dst` as it arrives from the gateway (`syn`: a connection's first).
pub fn tcp(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), syn: bool, dst_mac: [u8; 6]) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(GATEWAY_MAC, dst_mac)
        .ipv4(src.0.octets(), dst.0.octets(), 64)
        .tcp(src.1, dst.1, 1000, 65535);
    let builder = if syn { builder.syn() } else { builder.ack(1) };
    let payload = if syn {
        &b""[..]
    } else {
        &b"GET / HTTP/1.0\r\n\r\n"[..]
    };
    let mut frame = Vec::new();
    builder.write(&mut frame, payload).unwrap();
    frame
}

/// A peer's segment to a service on port 0.
pub fn from_peer(peer_port: u16, vip: Ipv4Addr, syn: bool) -> Vec<u8> {
    tcp((PEER, peer_port), (vip, 80), syn, PORT_MAC[0])
}

/// The addressing of an untagged IPv4 TCP/UDP frame, read at fixed offsets.
#[derive(Debug, PartialEq, Eq)]
pub struct Addressing {
    pub dst_mac: [u8; 6],
    pub src_mac: [u8; 6],
    pub tuple: FiveTuple,
    pub ttl: u8,
}

pub fn addressing(frame: &[u8]) -> Addressing {
    let be32 = |at: usize| u32::from_be_bytes(frame[at..at + 4].try_into().unwrap());
    let be16 = |at: usize| u16::from_be_bytes(frame[at..at + 2].try_into().unwrap());
    Addressing {
        dst_mac: frame[0..6].try_into().unwrap(),
        src_mac: frame[6..12].try_into().unwrap(),
        tuple: FiveTuple {
            src_ip: be32(26),
            dst_ip: be32(30),
            src_port: be16(34),
            dst_port: be16(36),
            proto: frame[23],
        },
        ttl: frame[22],
    }
}

/// Sends a frame in and returns the one frame that left (port, frame); panics on anything else.
pub fn forward<B: Backend>(cp: &mut ControlPlane<B>, port: u8, frame: &[u8]) -> (u8, Vec<u8>) {
    cp.backend().receive(port, frame);
    let out = cp.backend().pop_egress().expect("a frame left the switch");
    assert!(
        cp.backend().pop_egress().is_none(),
        "exactly one frame left"
    );
    out
}
