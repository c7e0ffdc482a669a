//! The network every vector runs in: a small switch, its ports and MACs, peer and member addresses,
//! service and member configs, and TCP conversations between peers and members.

use crate::frames::{self, Link, Mac, Tcp};
use crate::golden::Hex;
use crate::host::{Delivery, Host};
use anypoint_driver::{MemberConfig, PolicyKind, PortConfig, Proto, ServiceConfig};
use anypoint_model::regs::{ctr, reg, region, table, tbl_op};
use anypoint_model::{Geometry, HashKey};
use std::net::{Ipv4Addr, SocketAddrV4};

/// Small tables, so that buckets fill up and cuckoo relocation happens within a few dozen
/// connections: 2 x 16 buckets x 4 ways = 128 entries, 64 connections at most.
pub const GEOMETRY: Geometry = Geometry {
    ports: 4,
    services: 16,
    members: 64,
    conn_buckets_log2: 4,
    indir_slots_log2: 12,
};
/// Fixed, so vectors are reproducible.
pub const HASH_KEY: [u8; 16] = *b"anypoint-golden!";
/// Indirection slots per service (log2): 16 services x 256 fill the 4096 slots exactly.
pub const INDIR_LOG2: u8 = 8;

/// Port towards the peers, the only one with a next hop.
pub const PEERS: u8 = 0;
/// Port towards the members.
pub const MEMBERS: u8 = 1;
/// A port that drops `no_service` traffic.
pub const QUIET: u8 = 2;
/// Never configured, so never enabled.
pub const DARK: u8 = 3;

/// The peers' router behind [`PEERS`].
pub const PEER_ROUTER: Mac = [0x02, 0, 0, 0, 0, 0x01];
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);

pub fn port_mac(port: u8) -> Mac {
    [0x02, 0, 0, 0, 0, 0x10 + port]
}

/// Peer number `i`: 198.51.100.1, ...
pub fn peer(i: u32) -> Ipv4Addr {
    Ipv4Addr::new(198, 51, 100 + (i / 250) as u8, 1 + (i % 250) as u8)
}

/// Member host `n`: 10.0.1.n.
pub fn member_addr(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 1, n)
}

/// Each member host has its own MAC, derived from its address.
pub fn member_mac(addr: Ipv4Addr) -> Mac {
    let [a, b, c, d] = addr.octets();
    [0x02, 0xaa, a, b, c, d]
}

/// A service on [`VIP`] with replies to peers out of [`PEERS`].
pub fn service(name: &str, port: u16, proto: Proto, policy: PolicyKind) -> ServiceConfig {
    ServiceConfig {
        name: name.to_string(),
        vip: VIP,
        port,
        proto,
        policy,
        key: None,
        peer_port: PEERS,
        indir_log2: INDIR_LOG2,
    }
}

/// Member host `n` on `port` behind [`MEMBERS`], its MAC known.
pub fn member(n: u8, port: u16, weight: u32) -> MemberConfig {
    let addr = member_addr(n);
    MemberConfig {
        addr,
        port,
        mac: Some(member_mac(addr)),
        out_port: MEMBERS,
        weight,
    }
}

/// A switch with ports [`PEERS`], [`MEMBERS`] and [`QUIET`] configured.
pub fn host() -> Host {
    let mut host = Host::new(GEOMETRY, HashKey::from_bytes(HASH_KEY));
    let ports = [
        (PEERS, Some(PEER_ROUTER), false),
        (MEMBERS, None, false),
        (QUIET, None, true),
    ];
    for (id, next_hop_mac, no_service_drop) in ports {
        let port = PortConfig {
            id,
            mac: port_mac(id),
            next_hop_mac,
            no_service_drop,
        };
        host.ctl().set_port(&port).expect("port config");
    }
    host
}

/// Adds a service and its members.
pub fn add(host: &mut Host, service: ServiceConfig, members: &[MemberConfig]) {
    let name = service.name.clone();
    host.ctl().add_service(service).expect("service config");
    add_members(host, &name, members);
}

pub fn add_members(host: &mut Host, service: &str, members: &[MemberConfig]) {
    for m in members {
        host.ctl()
            .add_member(service, m.clone())
            .unwrap_or_else(|e| panic!("{service}: member {}:{}: {e}", m.addr, m.port));
    }
}

/// The member id of `addr:port` in service `name`.
pub fn member_id(host: &mut Host, name: &str, addr: SocketAddrV4) -> u16 {
    let services = host.ctl().services();
    let s = services.iter().find(|s| s.config.name == name);
    s.and_then(|s| {
        s.members
            .iter()
            .find(|m| m.config.addr == *addr.ip() && m.config.port == addr.port())
    })
    .unwrap_or_else(|| panic!("{name} has no member {addr}"))
    .id
}

/// Offset of the packet counter of reason `code`.
pub fn reason_counter(code: u8) -> u32 {
    region::CTR + ctr::reason::OFFSET + u32::from(code) * ctr::reason::STRIDE
}

/// Sets a member's state behind the control plane's back (it has no call for `down`): read the
/// entry, change the field, write it back, all through the table command registers.
pub fn set_member_state(host: &mut Host, id: u16, state: u8) {
    let cmd = |op: u8| {
        reg::TBL_CMD_OP.place(op.into())
            | reg::TBL_CMD_TABLE.place(table::member::ID)
            | reg::TBL_CMD_INDEX.place(id.into())
    };
    host.write32(reg::TBL_CMD, cmd(tbl_op::READ));
    let mut words: Vec<u32> = (0..table::member::WORDS as u32)
        .map(|i| host.read32(reg::TBL_RDATA + 4 * i))
        .collect();
    table::member::STATE.set(&mut words, state.into());
    for (i, w) in (0u32..).zip(&words) {
        host.write32(reg::TBL_WDATA + 4 * i, *w);
    }
    host.write32(reg::TBL_CMD, cmd(tbl_op::WRITE));
}

/// Frames from the peers' router to the switch.
pub fn peer_link(vlan: Option<u16>) -> Link {
    Link {
        src: PEER_ROUTER,
        dst: port_mac(PEERS),
        vlan,
    }
}

/// Frames from member host `addr` to the switch port it sits behind.
pub fn member_link(addr: Ipv4Addr, vlan: Option<u16>) -> Link {
    Link {
        src: member_mac(addr),
        dst: port_mac(MEMBERS),
        vlan,
    }
}

/// One TCP connection from a peer to a service and the member that took it.
#[derive(Clone, Debug)]
pub struct Conn {
    pub peer: SocketAddrV4,
    pub service: SocketAddrV4,
    /// Known once the SYN was forwarded.
    pub member: Option<SocketAddrV4>,
    /// Tag of the frames on both sides.
    pub vlan: Option<u16>,
    /// Shorter frames get Ethernet padding up to this length.
    pub pad_to: usize,
    peer_seq: u32,
    member_seq: u32,
}

impl Conn {
    pub fn new(peer: SocketAddrV4, service: SocketAddrV4, isn: u32) -> Conn {
        Conn {
            peer,
            service,
            member: None,
            vlan: None,
            pad_to: 0,
            peer_seq: isn,
            member_seq: isn.rotate_left(16),
        }
    }

    /// The peer's next segment; SYN and FIN take a sequence number, data its length.
    pub fn from_peer(&mut self, flags: u8, payload: &[u8]) -> Vec<u8> {
        let seg = Tcp {
            flags,
            seq: self.peer_seq,
            ack: self.member_seq,
        };
        self.peer_seq = advance(self.peer_seq, flags, payload);
        let frame = frames::tcp(&peer_link(self.vlan), self.peer, self.service, seg, payload);
        frames::padded(frame, self.pad_to)
    }

    /// The member's next segment to the peer, as the member sends it (from its own address).
    pub fn from_member(&mut self, flags: u8, payload: &[u8]) -> Vec<u8> {
        let member = self.member.expect("the connection has a member");
        let seg = Tcp {
            flags,
            seq: self.member_seq,
            ack: self.peer_seq,
        };
        self.member_seq = advance(self.member_seq, flags, payload);
        let link = member_link(*member.ip(), self.vlan);
        frames::padded(
            frames::tcp(&link, member, self.peer, seg, payload),
            self.pad_to,
        )
    }

    /// Sends the SYN and takes the member from the frame that leaves towards it.
    pub fn open(&mut self, host: &mut Host) -> Delivery {
        let syn = self.from_peer(frames::SYN, b"");
        let d = host.receive(PEERS, &syn);
        let (port, frame) = d.forwarded();
        assert_eq!(port, MEMBERS, "SYN {self:?} went out of port {port}");
        self.member = frames::endpoints(frame).map(|(_, dst)| dst);
        d
    }

    /// Sends the peer's next segment, checks that it reaches the connection's member and returns
    /// the frame that left.
    pub fn peer_sends(&mut self, host: &mut Host, flags: u8, payload: &[u8]) -> Vec<u8> {
        let frame = self.from_peer(flags, payload);
        let out = forwarded(host, PEERS, &frame, MEMBERS);
        assert_eq!(frames::endpoints(&out).map(|(_, dst)| dst), self.member);
        out
    }

    /// Sends the member's next segment, checks that it reaches the peer from the service address
    /// and returns the frame that left.
    pub fn member_sends(&mut self, host: &mut Host, flags: u8, payload: &[u8]) -> Vec<u8> {
        let frame = self.from_member(flags, payload);
        let out = forwarded(host, MEMBERS, &frame, PEERS);
        assert_eq!(frames::endpoints(&out), Some((self.service, self.peer)));
        out
    }
}

/// Sends `frame` into port `from`; checks that it alone leaves, out of port `to`, and returns it.
pub fn forwarded(host: &mut Host, from: u8, frame: &[u8], to: u8) -> Vec<u8> {
    let d = host.receive(from, frame);
    let (port, out) = d.forwarded();
    assert_eq!(
        port,
        to,
        "{} from port {from} left on {port}",
        Hex(frame.to_vec())
    );
    out.to_vec()
}

fn advance(seq: u32, flags: u8, payload: &[u8]) -> u32 {
    let control = u32::from(flags & (frames::SYN | frames::FIN) != 0);
    seq.wrapping_add(payload.len() as u32 + control)
}
