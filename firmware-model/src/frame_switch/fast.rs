//! The hardware's share of frame switching (docs/frame-switching.md section 9a): a member's frame
//! in sequence (`out_data`) is merged into the peer's space by the device from a per-flow record
//! the host loads; everything else, and every segment of a flow the device gave back, goes to the
//! host. [`out_data`] is the device's behaviour, bit for bit; [`Offload`] is the host's side, and
//! together with any [`Engine`] (the RTL, or [`SpecEngine`] here) it must equal [`FrameSwitch`].

use std::net::{Ipv4Addr, SocketAddrV4};

use acp::wire::{self, Flags, FRAME_HEADER_LEN, HEADER_LEN};

use super::flow::{Flow, FlowState, OutEntry};
use super::{FrameSwitch, Kind, Packet, MAX_ACTIVE};

/// A member of the active set as the device holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FastLeg {
    /// The host allows this member's frames on the fast path ([`FrameSwitch::out_record`]).
    pub fast: bool,
    pub member: SocketAddrV4,
    /// Next byte expected from the member (its space); the device advances it.
    pub out_next: u32,
    /// The member's last ack and right edge (in the peer's data, its space): a segment that
    /// changes either goes to the host.
    pub una: u32,
    pub edge: u32,
    /// Scale of the member's window field.
    pub shift_from: u8,
}

impl Default for FastLeg {
    fn default() -> FastLeg {
        FastLeg {
            fast: false,
            member: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
            out_next: 0,
            una: 0,
            edge: 0,
            shift_from: 0,
        }
    }
}

/// The per-flow record of the device's outbound fast path. The host writes it whole; the device
/// advances `out_next_fseq`, `out_idx`, `out_next`, a leg's `out_next`, `min_out_frame` and
/// `adv_*`, which the host reads back before it handles the flow's next segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutRecord {
    pub peer: SocketAddrV4,
    pub vip: SocketAddrV4,
    /// Outbound ring entries (`frame_window`).
    pub w: u16,
    pub out_left: u32,
    pub out_next_fseq: u32,
    /// `out_next_fseq mod w`: the ring index, kept beside it so the device never divides.
    pub out_idx: u16,
    /// Next byte of the peer-facing space.
    pub out_next: u32,
    /// Ack and window field every segment to the peer carries; a fast segment changes neither.
    pub peer_ack: u32,
    pub peer_field: u16,
    pub vip_shift: u8,
    pub min_out_frame: u16,
    /// Ack, right edge and window field last advertised to the peer.
    pub adv_ack: u32,
    pub adv_edge: u32,
    pub adv_field: u16,
    pub legs: [FastLeg; MAX_ACTIVE],
}

/// One outbound ring entry written by the device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingEntry {
    pub leg: u8,
    pub member_seq: u32,
    pub peer_seq: u32,
    pub len: u16,
}

/// What the device wrote for a segment it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    pub out: Packet,
    pub idx: u16,
    pub entry: RingEntry,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The device's outbound fast path for `pkt` on the flow of `rec`: a segment from a fast member
/// to the peer, a 20-byte header with flags ACK (PSH ignored), a right checksum, exactly one
/// frame, starting at the member's next byte, acking what the member acked before with the same
/// right edge, and room in the ring. Then the frame takes the next place of the peer's space:
/// the segment goes to the peer from the VIP, renumbered, with the record's ack and window.
/// `None`: the host's (the record is unchanged).
pub fn out_data(rec: &mut OutRecord, pkt: &Packet) -> Option<Taken> {
    let s = &pkt.segment;
    if pkt.dst != *rec.peer.ip()
        || s.len() < HEADER_LEN + FRAME_HEADER_LEN
        || be16(s, 2) != rec.peer.port()
        || s[12] >> 4 != (HEADER_LEN / 4) as u8
        || s[13] & 0x17 != Flags::ACK.0
        || usize::from(be16(s, HEADER_LEN)) != s.len() - HEADER_LEN
        || !wire::verify_checksum(pkt.src, pkt.dst, s)
    {
        return None;
    }
    let from = SocketAddrV4::new(pkt.src, be16(s, 0));
    let li = rec.legs.iter().position(|l| l.fast && l.member == from)?;
    let (seq, ack, window) = (be32(s, 4), be32(s, 8), be16(s, 14));
    let leg = &rec.legs[li];
    let edge = ack.wrapping_add(u32::from(window) << leg.shift_from);
    if seq != leg.out_next
        || ack != leg.una
        || edge != leg.edge
        || rec.out_next_fseq.wrapping_sub(rec.out_left) >= u32::from(rec.w)
    {
        return None;
    }
    let len = (s.len() - HEADER_LEN) as u16;
    let entry = RingEntry {
        leg: li as u8,
        member_seq: seq,
        peer_seq: rec.out_next,
        len,
    };
    let header = wire::Header {
        src_port: rec.vip.port(),
        dst_port: rec.peer.port(),
        seq: rec.out_next,
        ack: rec.peer_ack,
        flags: Flags::ACK,
        window: rec.peer_field,
        ..wire::Header::default()
    };
    let mut payload = Vec::with_capacity(usize::from(len));
    let frame = &s[HEADER_LEN..];
    wire::emit_frame(
        rec.out_next_fseq,
        frame[2],
        &frame[FRAME_HEADER_LEN..],
        &mut payload,
    );
    let mut segment = Vec::with_capacity(s.len());
    wire::emit_segment(
        &header,
        &payload,
        *rec.vip.ip(),
        *rec.peer.ip(),
        &mut segment,
    );
    let idx = rec.out_idx;
    rec.out_next = rec.out_next.wrapping_add(u32::from(len));
    rec.out_next_fseq = rec.out_next_fseq.wrapping_add(1);
    rec.out_idx = if idx + 1 == rec.w { 0 } else { idx + 1 };
    rec.legs[li].out_next = seq.wrapping_add(u32::from(len));
    rec.min_out_frame = rec.min_out_frame.min(len);
    rec.adv_ack = rec.peer_ack;
    rec.adv_edge = rec
        .peer_ack
        .wrapping_add(u32::from(rec.peer_field) << rec.vip_shift);
    rec.adv_field = rec.peer_field;
    Some(Taken {
        out: Packet {
            src: *rec.vip.ip(),
            dst: *rec.peer.ip(),
            segment,
        },
        idx,
        entry,
    })
}

impl Flow {
    /// Whether member `li` may send its next frame through the device: the flow established with
    /// no hole and no FIN either way, the member live and still sending, and no other member
    /// owed an ack (the slow path would send it with this segment).
    fn leg_fast(&self, li: usize) -> bool {
        let l = &self.legs[li];
        l.takes_frames()
            && l.fin_out.is_none()
            && self
                .legs
                .iter()
                .enumerate()
                .all(|(j, o)| j == li || !o.takes_frames() || o.sent == (o.ack, o.window_field()))
    }

    fn offloadable(&self) -> bool {
        self.state == FlowState::Established
            && self.holes.is_empty()
            && self.peer_fin.is_none()
            && self.out_fin.is_none()
    }
}

impl FrameSwitch {
    /// The device record of the flow with `peer`, when it has one that can take fast segments.
    pub fn out_record(&self, peer: SocketAddrV4) -> Option<OutRecord> {
        let f = self.flows.get(&peer)?;
        if !f.offloadable() {
            return None;
        }
        let mut legs = [FastLeg::default(); MAX_ACTIVE];
        for (li, l) in f.legs.iter().enumerate() {
            legs[li] = FastLeg {
                fast: f.leg_fast(li),
                member: self.members[l.member as usize].addr,
                out_next: l.out_next,
                una: l.una,
                edge: l.edge,
                shift_from: l.shift_from,
            };
        }
        let w = f.limits.w as u32;
        Some(OutRecord {
            peer,
            vip: self.cfg.vip,
            w: w as u16,
            out_left: f.out_left,
            out_next_fseq: f.out_next_fseq,
            out_idx: (f.out_next_fseq % w) as u16,
            out_next: f.out_next,
            peer_ack: f.peer_ack(),
            peer_field: f.peer_window_field(),
            vip_shift: f.vip_shift,
            min_out_frame: f.min_out_frame,
            adv_ack: f.adv.0,
            adv_edge: f.adv.1,
            adv_field: f.adv_field,
            legs,
        })
    }

    /// Takes back what the device did with the flow of `rec` since it was loaded: `entries` are
    /// the ring entries it wrote, oldest first, and `taken` the segments it counted.
    pub fn absorb(&mut self, rec: &OutRecord, entries: &[RingEntry], taken: u64) {
        let Some(f) = self.flows.get_mut(&rec.peer) else {
            return;
        };
        let w = f.limits.w;
        for e in entries {
            f.out_ring[f.out_next_fseq as usize % w] = OutEntry {
                used: true,
                leg: e.leg,
                member_seq: e.member_seq,
                peer_seq: e.peer_seq,
                len: e.len,
            };
            f.out_next_fseq = f.out_next_fseq.wrapping_add(1);
        }
        debug_assert_eq!(f.out_next_fseq, rec.out_next_fseq);
        f.out_next = rec.out_next;
        for (l, r) in f.legs.iter_mut().zip(&rec.legs) {
            l.out_next = r.out_next;
        }
        f.min_out_frame = rec.min_out_frame;
        f.adv = (rec.adv_ack, rec.adv_edge);
        f.adv_field = rec.adv_field;
        self.counters.add(Kind::OutData, taken);
    }
}

/// A device holding flow records in slots: the RTL under Verilator, or [`SpecEngine`].
pub trait Engine {
    fn slots(&self) -> usize;
    /// Writes slot `slot` whole and makes it valid.
    fn load(&mut self, slot: usize, rec: &OutRecord);
    /// Makes slot `slot` invalid: the device gives back its flow's segments.
    fn unload(&mut self, slot: usize);
    /// The slot's record as the device holds it now (valid or not).
    fn read(&mut self, slot: usize) -> OutRecord;
    /// Ring entry `idx` of slot `slot`.
    fn ring(&mut self, slot: usize, idx: u16) -> RingEntry;
    /// Segments the device took on slot `slot` since it was loaded.
    fn taken(&mut self, slot: usize) -> u64;
    /// One segment in: `Ok` what the device sent, `Err` the segment back to the host. A segment
    /// of a valid slot's flow in either direction that the device gives back invalidates the
    /// slot, so the flow's later segments follow it to the host in order.
    fn send(&mut self, pkt: &Packet) -> Result<Packet, Packet>;
}

/// [`out_data`] in slots: the device as the model specifies it.
pub struct SpecEngine {
    /// Record, segments taken, valid.
    slots: Vec<Option<(OutRecord, u64, bool)>>,
    rings: Vec<Vec<RingEntry>>,
    total: u64,
}

impl SpecEngine {
    pub fn new(slots: usize, ring: usize) -> SpecEngine {
        SpecEngine {
            slots: vec![None; slots],
            rings: vec![vec![RingEntry::default(); ring]; slots],
            total: 0,
        }
    }

    /// Segments taken since it was made.
    pub fn taken_total(&self) -> u64 {
        self.total
    }
}

/// Whether `pkt` belongs to the flow of `rec`, either way.
pub fn same_flow(rec: &OutRecord, pkt: &Packet) -> bool {
    let Some(ports) = pkt.segment.get(..4) else {
        return false;
    };
    let (src_port, dst_port) = (be16(ports, 0), be16(ports, 2));
    (pkt.dst == *rec.peer.ip() && dst_port == rec.peer.port())
        || (pkt.src == *rec.peer.ip() && src_port == rec.peer.port())
}

impl Engine for SpecEngine {
    fn slots(&self) -> usize {
        self.slots.len()
    }

    fn load(&mut self, slot: usize, rec: &OutRecord) {
        self.slots[slot] = Some((*rec, 0, true));
    }

    fn unload(&mut self, slot: usize) {
        if let Some(s) = self.slots[slot].as_mut() {
            s.2 = false;
        }
    }

    fn read(&mut self, slot: usize) -> OutRecord {
        self.slots[slot].expect("slot loaded").0
    }

    fn ring(&mut self, slot: usize, idx: u16) -> RingEntry {
        self.rings[slot][usize::from(idx)]
    }

    fn taken(&mut self, slot: usize) -> u64 {
        self.slots[slot].map_or(0, |s| s.1)
    }

    fn send(&mut self, pkt: &Packet) -> Result<Packet, Packet> {
        for (slot, held) in self.slots.iter_mut().enumerate() {
            let Some((rec, taken, valid)) = held.as_mut() else {
                continue;
            };
            if !*valid || !same_flow(rec, pkt) {
                continue;
            }
            return match out_data(rec, pkt) {
                Some(t) => {
                    *taken += 1;
                    self.total += 1;
                    self.rings[slot][usize::from(t.idx)] = t.entry;
                    Ok(t.out)
                }
                None => {
                    *valid = false;
                    Err(pkt.clone())
                }
            };
        }
        Err(pkt.clone())
    }
}

/// The host's side of the offload: it owns every flow, loads the device with the record of each
/// flow that has one (while slots last), and takes a flow back before handling any segment of it.
pub struct Offload<E: Engine> {
    pub host: FrameSwitch,
    pub engine: E,
    /// The flow in each slot, with the record as loaded.
    loaded: Vec<Option<OutRecord>>,
}

impl<E: Engine> Offload<E> {
    pub fn new(host: FrameSwitch, engine: E) -> Offload<E> {
        let loaded = vec![None; engine.slots()];
        Offload {
            host,
            engine,
            loaded,
        }
    }

    /// One segment through the device, and the host when the device gives it back.
    pub fn receive(&mut self, pkt: &Packet) -> Vec<Packet> {
        let pkt = match self.engine.send(pkt) {
            Ok(out) => return vec![out],
            Err(pkt) => pkt,
        };
        let slot = self
            .loaded
            .iter()
            .position(|l| l.is_some_and(|r| same_flow(&r, &pkt)));
        if let Some(slot) = slot {
            self.take_back(slot);
        }
        let out = self.host.receive(&pkt);
        self.reload();
        out
    }

    /// A failed member leaves every connection (`FrameSwitch::remove_member`), the device's
    /// flows taken back first.
    pub fn remove_member(&mut self, id: u16) -> Vec<Packet> {
        self.sync();
        let out = self.host.remove_member(id);
        self.reload();
        out
    }

    /// Takes every flow back from the device: the host's state is then whole (its counters
    /// included), and the device holds nothing until the flow's next segment the host handles.
    pub fn sync(&mut self) {
        for slot in 0..self.loaded.len() {
            self.take_back(slot);
        }
    }

    /// Reads slot `slot` back into the host and frees it.
    fn take_back(&mut self, slot: usize) {
        let Some(loaded) = self.loaded[slot].take() else {
            return;
        };
        self.engine.unload(slot);
        let now = self.engine.read(slot);
        let n = now.out_next_fseq.wrapping_sub(loaded.out_next_fseq);
        let entries: Vec<RingEntry> = (0..n)
            .map(|k| {
                let idx = (u32::from(loaded.out_idx) + k) % u32::from(loaded.w);
                self.engine.ring(slot, idx as u16)
            })
            .collect();
        let taken = self.engine.taken(slot);
        self.host.absorb(&now, &entries, taken);
    }

    /// Every flow with a record and no slot gets a free one.
    fn reload(&mut self) {
        let mut peers: Vec<SocketAddrV4> = self.host.flows.keys().copied().collect();
        peers.sort();
        for peer in peers {
            if self
                .loaded
                .iter()
                .any(|l| l.is_some_and(|r| r.peer == peer))
            {
                continue;
            }
            let Some(slot) = self.loaded.iter().position(Option::is_none) else {
                return;
            };
            if let Some(rec) = self.host.out_record(peer) {
                self.engine.load(slot, &rec);
                self.loaded[slot] = Some(rec);
            }
        }
    }
}
