//! Frame-level switching of ACP connections (docs/frame-switching.md): one ACP connection with a
//! peer is carried to an active set of up to eight ensemble members frame by frame, each end seeing
//! an ordinary point-to-point ACP connection. This is the reference model: it takes and produces
//! whole ACP segments (IP payloads) with their addresses and counts what each segment needed
//! ([`Kind`]: the hardware fast path or the host slow path).

pub mod fast;
mod flow;
mod inbound;
mod kinds;
pub mod layout;
mod outbound;
mod redirect;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use acp::wire::{self, Flags, Header};

use crate::hash::{key_hash, HashKey};
pub use flow::Phase;
use flow::{Emit, Flow, FlowState, Limits, To};
pub use kinds::{Counters, Kind};
pub use redirect::{FrameAlrm, LegView, MemberLoad, Policy, MAX_ACTIVE};

/// The frame ring size of the Anypoint paper.
pub const DEFAULT_W: usize = 384;
/// Holes a flow keeps open at once unless configured otherwise.
pub const DEFAULT_MAX_HOLES: usize = 8;

/// One ACP segment on the wire: the IP addresses and the IP payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub segment: Vec<u8>,
}

/// A `proto = "acp"` service.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub vip: SocketAddrV4,
    pub policy: Policy,
    /// Frame ring entries per direction and flow.
    pub w: usize,
    /// Holes open at once per flow (a frame that would open one more is dropped).
    pub max_holes: usize,
    /// Members in a new connection's active set (1 to [`MAX_ACTIVE`]), the ALRM's `add_conn`
    /// picking which.
    pub active_set: usize,
    /// Key of the key-hash policy and of the switch's ISNs.
    pub key: HashKey,
}

impl Config {
    pub fn new(vip: SocketAddrV4, policy: Policy, key: HashKey) -> Config {
        Config {
            vip,
            policy,
            w: DEFAULT_W,
            max_holes: DEFAULT_MAX_HOLES,
            active_set: MAX_ACTIVE,
            key,
        }
    }
}

/// How full a flow's bounded state is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Occupancy {
    pub peer: SocketAddrV4,
    pub phase: Phase,
    pub in_frames: usize,
    pub out_frames: usize,
    pub holes: usize,
}

/// Bytes of switch state per connection in the hardware layout of docs/frame-switching.md
/// section 2: two rings of `w` 12-byte entries, `max_holes` 48-byte hole records, eight 48-byte
/// member records and a 96-byte flow record.
pub fn state_bytes(w: usize, max_holes: usize) -> usize {
    2 * w * 12 + max_holes * 48 + MAX_ACTIVE * 48 + 96
}

#[derive(Clone, Copy, Debug)]
struct Member {
    addr: SocketAddrV4,
    live: bool,
    /// Connections holding it in their active set (it has not left them).
    conns: u32,
}

/// The frame switch of one service.
pub struct FrameSwitch {
    cfg: Config,
    members: Vec<Member>,
    flows: HashMap<SocketAddrV4, Flow>,
    /// Connections opened: the ALRM's `add_conn` turn.
    opened: usize,
    counters: Counters,
}

impl FrameSwitch {
    pub fn new(cfg: Config) -> FrameSwitch {
        FrameSwitch {
            cfg,
            members: Vec::new(),
            flows: HashMap::new(),
            opened: 0,
            counters: Counters::default(),
        }
    }

    /// A member for new connections' active sets; returns its id.
    pub fn add_member(&mut self, addr: SocketAddrV4) -> u16 {
        self.members.push(Member {
            addr,
            live: true,
            conns: 0,
        });
        (self.members.len() - 1) as u16
    }

    /// A failed member leaves every live connection: what must go out because of it.
    pub fn remove_member(&mut self, id: u16) -> Vec<Packet> {
        let Some(m) = self.members.get_mut(id as usize) else {
            return Vec::new();
        };
        m.live = false;
        m.conns = 0;
        let mut out = Vec::new();
        let mut gone = Vec::new();
        let mut packets = Vec::new();
        for (peer, flow) in self.flows.iter_mut() {
            for li in 0..flow.legs.len() {
                if flow.legs[li].member == id
                    && flow.legs[li].live
                    && !flow.remove_leg(li, &mut self.counters, &mut out)
                {
                    gone.push(*peer);
                }
            }
            packets.extend(encode(&self.cfg, &self.members, *peer, flow, out.drain(..)));
        }
        for peer in gone {
            self.drop_flow(peer);
        }
        packets
    }

    /// Removes the connection with `peer`, which its members no longer hold.
    fn drop_flow(&mut self, peer: SocketAddrV4) -> Option<Flow> {
        let flow = self.flows.remove(&peer)?;
        for l in flow.legs.iter().filter(|l| l.live) {
            let m = &mut self.members[l.member as usize];
            m.conns = m.conns.saturating_sub(1);
        }
        Some(flow)
    }

    /// Whether the switch holds a connection with `peer`.
    pub fn has_flow(&self, peer: SocketAddrV4) -> bool {
        self.flows.contains_key(&peer)
    }

    /// Connections whose active set has member `id` and that it has not left.
    pub fn flows_with(&self, id: u16) -> usize {
        self.members
            .get(usize::from(id))
            .map_or(0, |m| m.conns as usize)
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The bounded state of every flow.
    pub fn occupancy(&self) -> Vec<Occupancy> {
        self.flows
            .iter()
            .map(|(&peer, f)| Occupancy {
                peer,
                phase: f.phase(),
                in_frames: f.in_next_fseq.wrapping_sub(f.in_left) as usize,
                out_frames: f.out_next_fseq.wrapping_sub(f.out_left) as usize,
                holes: f.holes.len(),
            })
            .collect()
    }

    /// The members of the active set of the connection with `peer` that have not left it.
    pub fn active_set(&self, peer: SocketAddrV4) -> Vec<SocketAddrV4> {
        self.flows.get(&peer).map_or_else(Vec::new, |f| {
            f.legs
                .iter()
                .filter(|l| l.live)
                .map(|l| self.members[l.member as usize].addr)
                .collect()
        })
    }

    /// Forgets the connection with `peer` and sends nothing: its state was lost (section 10, a
    /// device's power cycle), so resets would carry numbers its ends no longer accept.
    pub fn forget(&mut self, peer: SocketAddrV4) {
        self.drop_flow(peer);
    }

    /// Forgets the connection with `peer` (the host's ageing, section 3): one not closed is reset
    /// at both ends first, with the segments returned.
    pub fn expire(&mut self, peer: SocketAddrV4) -> Vec<Packet> {
        let Some(mut flow) = self.drop_flow(peer) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if flow.phase() != Phase::Closed {
            flow.reset_all(false, &mut out);
        }
        encode(&self.cfg, &self.members, peer, &flow, out.into_iter())
    }

    /// One line per flow: its sequence variables, holes and members, for `conn list` and tests.
    pub fn describe(&self) -> Vec<String> {
        self.flows
            .iter()
            .map(|(peer, f)| {
                let legs: Vec<String> = f
                    .legs
                    .iter()
                    .map(|l| {
                        format!(
                            "m{}{} next {:#x} una {:#x} edge {:#x} out_next {:#x} ack {:#x} promise {:#x} patch {:?}",
                            l.member,
                            if l.live { "" } else { " (removed)" },
                            l.next,
                            l.una,
                            l.edge,
                            l.out_next,
                            l.ack,
                            l.promise,
                            l.patch_sent
                        )
                    })
                    .collect();
                format!(
                    "{peer} {:?} in: left {} next_fseq {} next {:#x} ack {:#x} adv {:?} holes {:?} out: left {} next_fseq {} next {:#x} ack {:#x} edge {:#x} fin {:?}/{:?}; {}",
                    f.state,
                    f.in_left,
                    f.in_next_fseq,
                    f.in_next,
                    f.in_ack,
                    f.adv,
                    f.holes
                        .iter()
                        .map(|h| (h.first_fseq, h.frames, h.filled, h.base))
                        .collect::<Vec<_>>(),
                    f.out_left,
                    f.out_next_fseq,
                    f.out_next,
                    f.out_ack,
                    f.peer_edge,
                    f.peer_fin,
                    f.out_fin,
                    legs.join("; ")
                )
            })
            .collect()
    }

    /// Takes one segment addressed to the VIP (from a peer) or from a member, and returns what
    /// goes out.
    pub fn receive(&mut self, pkt: &Packet) -> Vec<Packet> {
        let mut out = Vec::new();
        let (kind, peer) = self.dispatch(pkt, &mut out);
        self.counters.count(kind);
        match peer {
            Some(peer) => {
                let packets = match self.flows.get(&peer) {
                    Some(flow) => encode(&self.cfg, &self.members, peer, flow, out.drain(..)),
                    None => Vec::new(),
                };
                if kind == Kind::Close && is_rst(pkt) {
                    self.drop_flow(peer);
                }
                packets
            }
            None => out.into_iter().map(|e| self.encode_reply(pkt, e)).collect(),
        }
    }

    /// Decides what `pkt` is; returns its kind and the flow it belongs to.
    fn dispatch(&mut self, pkt: &Packet, out: &mut Vec<Emit>) -> (Kind, Option<SocketAddrV4>) {
        let Ok(seg) = wire::parse_segment(&pkt.segment) else {
            return (Kind::Malformed, None);
        };
        if !wire::verify_checksum(pkt.src, pkt.dst, &pkt.segment) {
            return (Kind::Malformed, None);
        }
        let h = seg.header;
        let c = &mut self.counters;
        if SocketAddrV4::new(pkt.dst, h.dst_port) == self.cfg.vip {
            let peer = SocketAddrV4::new(pkt.src, h.src_port);
            let Some(flow) = self.flows.get_mut(&peer) else {
                if h.flags.has(Flags::SYN) && !h.flags.has(Flags::ACK) {
                    return self.open_flow(peer, &h, out);
                }
                return no_flow(&h, seg.payload.len(), out);
            };
            if h.flags.has(Flags::RST) {
                flow.reset_all(true, out);
                return (Kind::Close, Some(peer));
            }
            if h.flags.has(Flags::SYN) {
                return (flow.on_peer_syn(&h, out), Some(peer));
            }
            let opening = flow.state != FlowState::Established;
            if !flow.on_peer_handshake_ack(&h) {
                return (Kind::Setup, Some(peer));
            }
            let pure = seg.payload.is_empty() && !h.flags.has(Flags::FIN);
            let dup = flow.on_peer_ack(&h, pure);
            let mut kind = flow.on_peer_data(&seg, c, out);
            if dup && flow.answer_peer_dup(c, out) {
                kind = kind.max(Kind::NullFill);
            }
            if opening {
                kind = kind.max(Kind::Setup);
            }
            return (kind, Some(peer));
        }
        let from = SocketAddrV4::new(pkt.src, h.src_port);
        let peer = SocketAddrV4::new(pkt.dst, h.dst_port);
        // By address: a member removed and added again has a new id.
        let members = &self.members;
        let leg = self.flows.get_mut(&peer).and_then(|flow| {
            let li = flow
                .legs
                .iter()
                .position(|l| l.live && members[l.member as usize].addr == from)?;
            Some((flow, li))
        });
        let Some((flow, li)) = leg else {
            // A connection the switch no longer has (closed, reset, or the member removed from
            // it): the member gets a reset instead of retrying until it gives up.
            return no_flow(&h, seg.payload.len(), out);
        };
        let kind = if h.flags.has(Flags::SYN) {
            flow.on_member_syn_ack(li, &h, out)
        } else {
            flow.on_member_segment(li, &seg, c, out)
        };
        (kind, Some(peer))
    }

    /// The peer's SYN: the ALRM's `add_conn` chooses the active set and SYNs go to its members.
    fn open_flow(
        &mut self,
        peer: SocketAddrV4,
        syn: &Header,
        out: &mut Vec<Emit>,
    ) -> (Kind, Option<SocketAddrV4>) {
        let live: Vec<MemberLoad> = (0..self.members.len() as u16)
            .filter(|&i| self.members[i as usize].live)
            .map(|id| MemberLoad {
                id,
                conns: self.members[id as usize].conns,
            })
            .collect();
        let mut alrm = self.cfg.policy.alrm(self.cfg.key);
        let set = alrm.add_conn(&live, self.cfg.active_set, self.opened);
        if set.is_empty() {
            return no_flow(syn, 0, out);
        }
        self.opened = self.opened.wrapping_add(1);
        for &id in &set {
            self.members[id as usize].conns += 1;
        }
        let mut id = [0u8; 10];
        id[..4].copy_from_slice(&peer.ip().octets());
        id[4..6].copy_from_slice(&peer.port().to_be_bytes());
        id[6..].copy_from_slice(&syn.seq.to_be_bytes());
        let vip_isn = key_hash(&self.cfg.key, &id) as u32;
        let limits = Limits {
            w: self.cfg.w,
            max_holes: self.cfg.max_holes,
        };
        let flow = Flow::open(
            syn,
            &set,
            vip_isn,
            alrm,
            self.cfg.policy.offers_sum(),
            limits,
            out,
        );
        self.flows.insert(peer, flow);
        (Kind::Setup, Some(peer))
    }

    /// A reset answering a segment for no flow.
    fn encode_reply(&self, pkt: &Packet, e: Emit) -> Packet {
        let h = wire::parse_segment(&pkt.segment)
            .expect("answered segments parsed")
            .header;
        packet(
            SocketAddrV4::new(pkt.dst, h.dst_port),
            SocketAddrV4::new(pkt.src, h.src_port),
            e,
        )
    }
}

/// A segment for no flow: counted, and answered with a reset to its sender unless it is one
/// (`encode_reply` addresses it).
fn no_flow(h: &Header, payload_len: usize, out: &mut Vec<Emit>) -> (Kind, Option<SocketAddrV4>) {
    if let Some(r) = acp::conn::reset_reply(h, payload_len) {
        out.push(Emit {
            to: To::Peer,
            header: r,
            payload: Vec::new(),
        });
    }
    (Kind::NoFlow, None)
}

/// Addresses, ports and checksums of a flow's segments.
fn encode(
    cfg: &Config,
    members: &[Member],
    peer: SocketAddrV4,
    flow: &Flow,
    emits: impl Iterator<Item = Emit>,
) -> Vec<Packet> {
    emits
        .map(|e| {
            let (src, dst) = match e.to {
                To::Peer => (cfg.vip, peer),
                To::Leg(li) => (peer, members[flow.legs[li].member as usize].addr),
            };
            packet(src, dst, e)
        })
        .collect()
}

fn is_rst(pkt: &Packet) -> bool {
    wire::parse_segment(&pkt.segment).is_ok_and(|s| s.header.flags.has(Flags::RST))
}

fn packet(src: SocketAddrV4, dst: SocketAddrV4, e: Emit) -> Packet {
    let h = Header {
        src_port: src.port(),
        dst_port: dst.port(),
        ..e.header
    };
    let mut segment = Vec::new();
    wire::emit_segment(&h, &e.payload, *src.ip(), *dst.ip(), &mut segment);
    Packet {
        src: *src.ip(),
        dst: *dst.ip(),
        segment,
    }
}
