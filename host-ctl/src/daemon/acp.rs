//! The host slow path of `proto = "acp"` services (docs/frame-switching.md section 10): one
//! [`FrameSwitch`] per service takes every ACP segment the pipeline punts (`l4_other`) for its VIP
//! or from its members, through the device's ACP engine when the backend has one (section 9a:
//! the engine takes the members' common case, the switch the rest), and says where each segment
//! produced goes. The node builds the frames and injects them.

use crate::config::{frame_policy_name, AcpServiceEntry, Timeouts};
use crate::protocol::{AcpStats, ConnView};
use anypoint_driver::MemberConfig;
use anypoint_model::frame_switch::fast::{Engine, Offload, SpecEngine};
use anypoint_model::frame_switch::{self, FrameSwitch, Kind, Packet, Phase};
use anypoint_model::HashKey;
use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

/// Member ids of a frame switch are never reused (a removed member keeps its id), and are 16 bits.
const MAX_MEMBER_IDS: usize = 1 << 16;

/// Where a segment the switch produced goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hop {
    /// Out of the port the peer's segments arrive on, to that port's next hop.
    Peer { port: u8 },
    /// To a member, out of its port, to its MAC (`None`: the configured one is absent, ARP's).
    Member {
        port: u8,
        addr: Ipv4Addr,
        mac: Option<[u8; 6]>,
    },
}

/// The MACs the node knows: a port's next hop towards peers, a member's (port, address) by ARP.
pub struct L2<'a> {
    pub next_hop: &'a dyn Fn(u8) -> Option<[u8; 6]>,
    pub member: &'a dyn Fn(u8, Ipv4Addr) -> Option<[u8; 6]>,
}

/// One acp service and its switch.
pub struct AcpService {
    pub entry: AcpServiceEntry,
    switch: Offload<Box<dyn Engine>>,
    /// The switch's id of each member of `entry.members`, same order.
    ids: Vec<u16>,
    /// Ids handed out so far.
    ids_used: usize,
    /// Each peer with a connection: the port it sends from, and the connection's last segment
    /// (either direction).
    peers: HashMap<SocketAddrV4, (u8, Instant)>,
    /// Segments sent to and received from each member, by switch id.
    member_packets: HashMap<u16, (u64, u64)>,
    /// Segments the switch produced that found no way out (no next hop or MAC yet).
    pub unsent: u64,
    pub sent: u64,
    /// Connections forgotten for being idle.
    aged: u64,
}

impl AcpService {
    /// `engine`: the device's (`PacketIo::acp_engine`); `None` switches every segment here.
    pub fn new(
        entry: AcpServiceEntry,
        key: HashKey,
        engine: Option<Box<dyn Engine>>,
    ) -> Result<AcpService, String> {
        let mut cfg =
            frame_switch::Config::new(SocketAddrV4::new(entry.vip, entry.port), entry.policy, key);
        cfg.w = entry.frame_window;
        cfg.max_holes = entry.max_holes;
        cfg.active_set = entry.active_set;
        let mut s = AcpService {
            switch: Offload::new(
                FrameSwitch::new(cfg),
                engine.unwrap_or_else(|| Box::new(SpecEngine::new(0, 0))),
            ),
            ids: Vec::new(),
            ids_used: 0,
            peers: HashMap::new(),
            member_packets: HashMap::new(),
            unsent: 0,
            sent: 0,
            aged: 0,
            entry: AcpServiceEntry {
                members: Vec::new(),
                ..entry.clone()
            },
        };
        for m in entry.members {
            s.add_member(m)?;
        }
        Ok(s)
    }

    fn vip(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.entry.vip, self.entry.port)
    }

    fn member_index(&self, addr: Ipv4Addr, port: u16) -> Option<usize> {
        self.entry
            .members
            .iter()
            .position(|m| (m.addr, m.port) == (addr, port))
    }

    /// A member for the connections opened from now on.
    pub fn add_member(&mut self, m: MemberConfig) -> Result<(), String> {
        if self.member_index(m.addr, m.port).is_some() {
            return Err(format!(
                "service {}: member {}:{} exists",
                self.entry.name, m.addr, m.port
            ));
        }
        if self.ids_used == MAX_MEMBER_IDS {
            return Err(format!(
                "service {}: {MAX_MEMBER_IDS} members were added since it started; restart the daemon to add more",
                self.entry.name
            ));
        }
        self.ids_used += 1;
        self.ids.push(
            self.switch
                .host
                .add_member(SocketAddrV4::new(m.addr, m.port)),
        );
        self.entry.members.push(m);
        Ok(())
    }

    /// Removes a member from every connection; what must go out because of it.
    pub fn remove_member(
        &mut self,
        addr: Ipv4Addr,
        port: u16,
    ) -> Result<Vec<(Hop, Packet)>, String> {
        let i = self
            .member_index(addr, port)
            .ok_or_else(|| format!("service {} has no member {addr}:{port}", self.entry.name))?;
        let packets = self.switch.remove_member(self.ids[i]);
        self.entry.members.remove(i);
        self.member_packets.remove(&self.ids.remove(i));
        Ok(self.route_all(packets, None))
    }

    /// The segment `segment` from `src` to `dst` arrived on `port` at `now`: what goes out, or
    /// `None` when it is neither for the VIP nor from a member.
    fn receive(
        &mut self,
        port: u8,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        segment: &[u8],
        now: Instant,
        l2: &L2,
    ) -> Option<Vec<(Hop, Packet)>> {
        let from_peer = dst == self.vip();
        if !from_peer {
            let i = self.member_index(*src.ip(), src.port())?;
            self.member_packets.entry(self.ids[i]).or_default().1 += 1;
        }
        self.give_routes(from_peer.then_some((*src.ip(), port)), l2);
        // Loaded by the node before what this produces is sent (`AcpServices::load_wanted`).
        let out = self.switch.handle(&Packet {
            src: *src.ip(),
            dst: *dst.ip(),
            segment: segment.to_vec(),
        });
        let peer = if from_peer { src } else { dst };
        // Kept exactly while the switch has the connection, so a flood of strangers keeps nothing.
        if self.switch.host.has_flow(peer) {
            if from_peer {
                self.peers.insert(peer, (port, now));
            } else if let Some(p) = self.peers.get_mut(&peer) {
                p.1 = now;
            }
        } else {
            self.peers.remove(&peer);
        }
        Some(self.route_all(out, from_peer.then_some(port)))
    }

    /// Where each packet goes; `peer_port` is the port of the peer segment being answered, for a
    /// reply to a peer without a connection.
    fn route_all(&mut self, packets: Vec<Packet>, peer_port: Option<u8>) -> Vec<(Hop, Packet)> {
        let vip = self.vip();
        let mut out = Vec::new();
        for p in packets {
            let Some((sport, dport)) = ports(&p.segment) else {
                continue;
            };
            let hop = if SocketAddrV4::new(p.src, sport) == vip {
                self.peers
                    .get(&SocketAddrV4::new(p.dst, dport))
                    .map(|&(port, _)| port)
                    .or(peer_port)
                    .map(|port| Hop::Peer { port })
            } else {
                self.member_index(p.dst, dport).map(|i| {
                    self.member_packets.entry(self.ids[i]).or_default().0 += 1;
                    let m = &self.entry.members[i];
                    Hop::Member {
                        port: m.out_port,
                        addr: m.addr,
                        mac: m.mac,
                    }
                })
            };
            match hop {
                Some(hop) => out.push((hop, p)),
                None => self.unsent += 1,
            }
        }
        out
    }

    /// Tells the engine where its frames to the peer (`peer`: its address and the port its
    /// segments arrive on) and to each member go, where the MACs are known: a device that frames
    /// what it sends (the ACP block) needs them before it holds a flow.
    fn give_routes(&mut self, peer: Option<(Ipv4Addr, u8)>, l2: &L2) {
        if let Some((addr, port)) = peer {
            if let Some(mac) = (l2.next_hop)(port) {
                self.switch.engine.route(addr, port, mac);
            }
        }
        for m in &self.entry.members {
            if let Some(mac) = m.mac.or_else(|| (l2.member)(m.out_port, m.addr)) {
                self.switch.engine.route(m.addr, m.out_port, mac);
            }
        }
    }

    /// Takes the service's flows back from the device, whose slots then hold none of them: before
    /// the service is deleted, else the device would go on switching them.
    pub fn release(&mut self) {
        self.switch.sync();
    }

    /// Forgets the connections idle for longer than their phase's timeout (opening `tcp_syn`,
    /// established `tcp`, closed `tcp_fin`: the linger that answers a FIN sent again); returns
    /// the resets of those not closed (docs/frame-switching.md section 10). A flow the device took
    /// a segment of since the last scan was not idle (its counts are read; it stays loaded).
    pub fn age(&mut self, t: &Timeouts, now: Instant) -> Vec<(Hop, Packet)> {
        for peer in self.switch.active() {
            if let Some(p) = self.peers.get_mut(&peer) {
                p.1 = now;
            }
        }
        // The device never changes a flow's phase: the host's view is enough.
        let idle: Vec<SocketAddrV4> = self
            .switch
            .host
            .occupancy()
            .iter()
            .filter(|o| {
                let timeout = match o.phase {
                    Phase::Opening => t.tcp_syn,
                    Phase::Established => t.tcp,
                    Phase::Closed => t.tcp_fin,
                };
                self.peers
                    .get(&o.peer)
                    .is_none_or(|&(_, last)| now.saturating_duration_since(last) > timeout)
            })
            .map(|o| o.peer)
            .collect();
        let mut out = Vec::new();
        for peer in idle {
            let packets = self.switch.expire(peer);
            out.extend(self.route_all(packets, None));
            self.peers.remove(&peer);
            self.aged += 1;
        }
        out
    }

    /// Each connection: peer, the port it sends from, active set and phase.
    pub fn connections(&self) -> Vec<ConnView> {
        self.switch
            .host
            .occupancy()
            .into_iter()
            .map(|o| ConnView {
                service: self.entry.name.clone(),
                proto: "acp".into(),
                peer: o.peer.to_string(),
                vip: self.vip().to_string(),
                member: self
                    .switch
                    .host
                    .active_set(o.peer)
                    .iter()
                    .map(|m| m.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                peer_port: self.peers.get(&o.peer).map_or(0, |&(port, _)| port),
                state: Some(o.phase.name().into()),
            })
            .collect()
    }

    /// Connections of member `i` of `entry.members`, and its segments (to it, from it).
    pub fn member_usage(&self, i: usize) -> (usize, (u64, u64)) {
        let id = self.ids[i];
        let packets = self.member_packets.get(&id).copied().unwrap_or_default();
        (self.switch.host.flows_with(id), packets)
    }

    pub fn flows(&self) -> usize {
        self.switch.host.occupancy().len()
    }

    /// The service's counters and state. The device's counts are read as they stand and its flows
    /// stay loaded (taking them back would move them off the device at every look); the rings of
    /// a loaded flow are counted as they were at its load.
    pub fn stats(&mut self) -> AcpStats {
        let in_slots = self.switch.taken_in_slots();
        let mut device = self.switch.device;
        device.add(&in_slots);
        let c = self.switch.host.counters();
        let (fast, slow) = c.fast_slow();
        // The device takes only fast kinds.
        let fast = fast + in_slots.total();
        let kinds: BTreeMap<Kind, u64> = in_slots.by_kind().into_iter().collect();
        let occ = self.switch.host.occupancy();
        let events = [
            ("holes_opened", c.holes_opened),
            ("patches_sent", c.patches_sent),
            ("null_frames_sent", c.null_frames_sent),
            ("frames_resteered", c.frames_resteered),
            ("ring_full_frames", c.ring_full_frames),
            ("hole_limit_frames", c.hole_limit_frames),
            ("member_gap_frames", c.member_gap_frames),
        ];
        AcpStats {
            service: self.entry.name.clone(),
            policy: frame_policy_name(self.entry.policy).into(),
            segments: Kind::ALL
                .iter()
                .map(|&k| {
                    let n = c.segments(k) + kinds.get(&k).copied().unwrap_or(0);
                    (k.name().to_string(), n)
                })
                .filter(|(_, n)| *n > 0)
                .collect(),
            fast,
            slow,
            events: events
                .iter()
                .map(|(n, v)| (n.to_string(), *v))
                .collect::<BTreeMap<_, _>>(),
            flows: occ.len(),
            in_frames: occ.iter().map(|o| o.in_frames).sum(),
            out_frames: occ.iter().map(|o| o.out_frames).sum(),
            holes: occ.iter().map(|o| o.holes).sum(),
            max_in_frames: occ.iter().map(|o| o.in_frames).max().unwrap_or(0),
            max_out_frames: occ.iter().map(|o| o.out_frames).max().unwrap_or(0),
            sent: self.sent,
            unsent: self.unsent,
            aged: self.aged,
            device: device.total(),
            device_segments: device
                .by_kind()
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| (k.name().to_string(), *n))
                .collect(),
            device_loads_refused: self.switch.loads_refused,
            device_flows_lost: self.switch.lost,
        }
    }
}

/// The acp services of a node.
#[derive(Default)]
pub struct AcpServices {
    pub list: Vec<AcpService>,
}

impl AcpServices {
    /// `engine` gives each service the device's ACP engine (`PacketIo::acp_engine`).
    pub fn new(
        entries: &[AcpServiceEntry],
        key: HashKey,
        mut engine: impl FnMut() -> Option<Box<dyn Engine>>,
    ) -> Result<AcpServices, String> {
        Ok(AcpServices {
            list: entries
                .iter()
                .map(|e| AcpService::new(e.clone(), key, engine()))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The device was reset: every service takes its flows back from the device's slots (a reset
    /// keeps the records; a flow whose record is gone is forgotten). Whether any service has
    /// slots on the device.
    pub fn take_back_after_reset(&mut self) -> bool {
        for s in &mut self.list {
            s.switch.sync();
            let host = &s.switch.host;
            s.peers.retain(|&peer, _| host.has_flow(peer));
        }
        self.list.iter().any(|s| s.switch.engine.slots() > 0)
    }

    /// Loads the device with the flows handled since their last load, after a segment: the device
    /// refuses a load while one of its given-back records that may be of the flow is queued, and
    /// a flow that keeps losing is tried less often (`Offload::load_wanted`).
    pub fn load_wanted(&mut self) {
        for s in &mut self.list {
            s.switch.load_wanted();
        }
    }

    /// [`AcpServices::load_wanted`] with every wanted flow tried, those held back included, once
    /// the host queue has been read empty.
    pub fn load_all_wanted(&mut self) {
        for s in &mut self.list {
            s.switch.load_all_wanted();
        }
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut AcpService> {
        self.list.iter_mut().find(|s| s.entry.name == name)
    }

    pub fn get(&self, name: &str) -> Option<&AcpService> {
        self.list.iter().find(|s| s.entry.name == name)
    }

    /// An ACP segment (IP payload) from `src` to `dst` that arrived on `port`: the service it
    /// belongs to (its VIP is the destination, or a member the source) and what goes out; `None`
    /// when it belongs to none.
    pub fn receive(
        &mut self,
        port: u8,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        segment: &[u8],
        now: Instant,
        l2: &L2,
    ) -> Option<(usize, Vec<(Hop, Packet)>)> {
        let (sport, dport) = ports(segment)?;
        let (src, dst) = (SocketAddrV4::new(src, sport), SocketAddrV4::new(dst, dport));
        let i = self.list.iter().position(|s| s.vip() == dst).or_else(|| {
            self.list
                .iter()
                .position(|s| s.member_index(*src.ip(), src.port()).is_some())
        })?;
        let out = self.list[i].receive(port, src, dst, segment, now, l2)?;
        Some((i, out))
    }

    /// Members whose MAC comes from ARP: (out port, address).
    pub fn to_resolve(&self) -> impl Iterator<Item = (u8, Ipv4Addr)> + '_ {
        self.list
            .iter()
            .flat_map(|s| s.entry.members.iter())
            .filter(|m| m.mac.is_none())
            .map(|m| (m.out_port, m.addr))
    }
}

/// Source and destination ports of an ACP segment (its first four bytes).
fn ports(segment: &[u8]) -> Option<(u16, u16)> {
    let p = segment.get(..4)?;
    Some((
        u16::from_be_bytes([p[0], p[1]]),
        u16::from_be_bytes([p[2], p[3]]),
    ))
}
