//! The hardware's share of frame switching (docs/frame-switching.md section 9a): the common case
//! of the members' direction, a member's ack or window update (`out_ack`) and its frame in
//! sequence (`out_data`), is handled by the device from a per-flow record and the flow's inbound
//! ring the host loads; everything else, and every segment of a flow the device gave back, goes
//! to the host. [`member_segment`] is the device's behaviour, bit for bit; [`Offload`] is the
//! host's side, and together with any [`Engine`] (the RTL, or [`SpecEngine`] here) it must equal
//! [`FrameSwitch`].

use std::net::{Ipv4Addr, SocketAddrV4};

use acp::conn::{seq_le, seq_lt};
use acp::wire::{self, Flags, FRAME_HEADER_LEN, HEADER_LEN};

use super::flow::{Flow, FlowState, InSlot, OutEntry};
use super::{FrameSwitch, Kind, Packet, MAX_ACTIVE};

/// Inbound ring entries a member's ack may retire on the device; more go to the host.
pub const MAX_RETIRE: u32 = 8;
/// Flow slots and ring entries per slot and direction of the device's engine
/// (`hw/rtl/anypoint_acp_out.sv`'s defaults): flows of a larger `frame_window` stay on the host.
pub const ENGINE_SLOTS: usize = 2;
pub const ENGINE_RING: usize = 512;

/// A member of the active set as the device holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FastLeg {
    /// The host allows this member's segments on the device ([`FrameSwitch::out_record`]).
    pub fast: bool,
    /// The member takes frames: its window counts in the peer's.
    pub takes: bool,
    pub member: SocketAddrV4,
    /// Next byte expected from the member (its space).
    pub out_next: u32,
    /// Inbound (the peer's data, the member's space): next byte sent to it, its ack and right
    /// edge.
    pub next: u32,
    pub una: u32,
    pub edge: u32,
    /// Scale of the member's window field.
    pub shift_from: u8,
}

impl Default for FastLeg {
    fn default() -> FastLeg {
        FastLeg {
            fast: false,
            takes: false,
            member: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
            out_next: 0,
            next: 0,
            una: 0,
            edge: 0,
            shift_from: 0,
        }
    }
}

/// The per-flow record of the device. The host writes it whole; the device advances the
/// outbound ring (`out_next_fseq`, `out_idx`, `out_next`, a leg's `out_next`, `min_out_frame`),
/// retires inbound ring entries (`in_left`, `in_idx`, `in_ack`), takes members' acks (a leg's
/// `una`, `edge`) and records what it advertised (`adv_*`); the host reads it back before it
/// handles the flow's next segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutRecord {
    pub peer: SocketAddrV4,
    pub vip: SocketAddrV4,
    /// Ring entries per direction (`frame_window`).
    pub w: u16,
    pub out_left: u32,
    pub out_next_fseq: u32,
    /// `out_next_fseq mod w`: the ring index, kept beside it so the device never divides.
    pub out_idx: u16,
    /// Next byte of the peer-facing space.
    pub out_next: u32,
    pub min_out_frame: u16,
    /// Inbound: the oldest frame not acked by its member, its ring index, the next frame, the
    /// peer's next byte and the ack owed to the peer.
    pub in_left: u32,
    pub in_idx: u16,
    pub in_next_fseq: u32,
    pub in_next: u32,
    pub in_ack: u32,
    /// Bytes a free inbound ring entry stands for in the peer's window (the smaller of the
    /// smallest peer frame and the MSS given to the peer).
    pub in_frame: u16,
    /// Window-aware policy: the peer's window is the sum of the members' open windows, each less
    /// `slack`; otherwise their minimum.
    pub offers_sum: bool,
    pub slack: u32,
    pub vip_shift: u8,
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

/// What the device did with a segment it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    /// The segment to the peer, if any (a member's ack that changes nothing for the peer sends
    /// none).
    pub out: Option<Packet>,
    /// The outbound ring entry written, and its index.
    pub entry: Option<(u16, RingEntry)>,
    pub kind: Kind,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn gap(a: u32, b: u32) -> u32 {
    if seq_lt(a, b) {
        b.wrapping_sub(a)
    } else {
        0
    }
}

impl OutRecord {
    /// The window field for the peer (`Flow::peer_window_field` with no hole and no FIN): from
    /// the ack owed, to the peer's next byte plus the room the members' windows and the free
    /// inbound ring entries leave.
    fn peer_field(&self) -> u16 {
        let takes = self.legs.iter().filter(|l| l.takes);
        let open = |l: &FastLeg| gap(l.next, l.edge);
        let room = if self.offers_sum {
            takes
                .map(|l| open(l).saturating_sub(self.slack))
                .sum::<u32>()
        } else {
            takes.map(open).min().unwrap_or(0)
        };
        let free = u32::from(self.w) - self.in_next_fseq.wrapping_sub(self.in_left);
        let edge = self
            .in_next
            .wrapping_add(room.min(free * u32::from(self.in_frame)));
        (gap(self.in_ack, edge) >> self.vip_shift).min(0xffff) as u16
    }

    /// A segment to the peer from the VIP with the current ack and window; records them as
    /// advertised.
    fn send_peer(&mut self, seq: u32, payload: &[u8]) -> Packet {
        let field = self.peer_field();
        self.adv_ack = self.in_ack;
        self.adv_edge = self.in_ack.wrapping_add(u32::from(field) << self.vip_shift);
        self.adv_field = field;
        let header = wire::Header {
            src_port: self.vip.port(),
            dst_port: self.peer.port(),
            seq,
            ack: self.in_ack,
            flags: Flags::ACK,
            window: field,
            ..wire::Header::default()
        };
        let mut segment = Vec::with_capacity(HEADER_LEN + payload.len());
        wire::emit_segment(
            &header,
            payload,
            *self.vip.ip(),
            *self.peer.ip(),
            &mut segment,
        );
        Packet {
            src: *self.vip.ip(),
            dst: *self.peer.ip(),
            segment,
        }
    }
}

/// The device's path for `pkt` on the flow of `rec`, with the flow's inbound ring `in_ring`
/// (`w` entries): a segment from a fast member to the peer with a 20-byte header, flags ACK (PSH
/// ignored), a right checksum, no payload or exactly one frame starting at the member's next
/// byte, an ack within what the member was sent, at most [`MAX_RETIRE`] inbound frames retired
/// by it, and room in the outbound ring for a frame. The member's ack retires the inbound frames
/// every member has acked; a frame takes the next place of the peer's space and goes to the
/// peer renumbered; a pure ack goes to the peer when the ack or window it owes changed, or as a
/// duplicate ack when the member's is one. `None`: the host's (`rec` unchanged).
pub fn member_segment(rec: &mut OutRecord, in_ring: &[RingEntry], pkt: &Packet) -> Option<Taken> {
    let s = &pkt.segment;
    if pkt.dst != *rec.peer.ip()
        || s.len() < HEADER_LEN
        || be16(s, 2) != rec.peer.port()
        || s[12] >> 4 != (HEADER_LEN / 4) as u8
        || s[13] & 0x17 != Flags::ACK.0
        || !(s.len() == HEADER_LEN
            || (s.len() >= HEADER_LEN + FRAME_HEADER_LEN
                && usize::from(be16(s, HEADER_LEN)) == s.len() - HEADER_LEN))
        || !wire::verify_checksum(pkt.src, pkt.dst, s)
    {
        return None;
    }
    let from = SocketAddrV4::new(pkt.src, be16(s, 0));
    let li = rec.legs.iter().position(|l| l.fast && l.member == from)?;
    let (seq, ack, window) = (be32(s, 4), be32(s, 8), be16(s, 14));
    let data = s.len() > HEADER_LEN;
    let l = rec.legs[li];
    let full = rec.out_next_fseq.wrapping_sub(rec.out_left) >= u32::from(rec.w);
    if seq_lt(ack, l.una) || seq_lt(l.next, ack) || (data && (seq != l.out_next || full)) {
        return None;
    }
    // The member's ack: inbound frames every member acked retire, oldest first.
    let mut new = *rec;
    let edge = ack.wrapping_add(u32::from(window) << l.shift_from);
    let advanced = seq_lt(l.una, ack);
    let dup = !data && !advanced && edge == l.edge;
    new.legs[li].una = ack;
    new.legs[li].edge = edge;
    let mut retired = 0;
    while new.in_left != new.in_next_fseq {
        let e = in_ring[usize::from(new.in_idx)];
        let end = e.member_seq.wrapping_add(u32::from(e.len));
        if !seq_le(end, new.legs[usize::from(e.leg)].una) {
            break;
        }
        if retired == MAX_RETIRE {
            return None;
        }
        retired += 1;
        new.in_ack = e.peer_seq.wrapping_add(u32::from(e.len));
        new.in_left = new.in_left.wrapping_add(1);
        new.in_idx = if new.in_idx + 1 == new.w {
            0
        } else {
            new.in_idx + 1
        };
    }
    let taken = if data {
        let len = (s.len() - HEADER_LEN) as u16;
        let entry = RingEntry {
            leg: li as u8,
            member_seq: seq,
            peer_seq: new.out_next,
            len,
        };
        let mut payload = Vec::with_capacity(usize::from(len));
        let frame = &s[HEADER_LEN..];
        wire::emit_frame(
            new.out_next_fseq,
            frame[2],
            &frame[FRAME_HEADER_LEN..],
            &mut payload,
        );
        let out = new.send_peer(new.out_next, &payload);
        let idx = new.out_idx;
        new.out_next = new.out_next.wrapping_add(u32::from(len));
        new.out_next_fseq = new.out_next_fseq.wrapping_add(1);
        new.out_idx = if idx + 1 == new.w { 0 } else { idx + 1 };
        new.legs[li].out_next = seq.wrapping_add(u32::from(len));
        new.min_out_frame = new.min_out_frame.min(len);
        Taken {
            out: Some(out),
            entry: Some((idx, entry)),
            kind: Kind::OutData,
        }
    } else {
        // A duplicate ack while peer data is outstanding is the peer's duplicate ack too.
        let force = dup && new.in_left != new.in_next_fseq;
        let changed = new.in_ack != new.adv_ack || new.peer_field() != new.adv_field;
        let out = (changed || force).then(|| new.send_peer(new.out_next, &[]));
        Taken {
            out,
            entry: None,
            kind: Kind::OutAck,
        }
    };
    *rec = new;
    Some(taken)
}

impl Flow {
    /// Whether member `li`'s segments may go through the device: the member live and still
    /// sending, and no other member owed an ack (the slow path would send it with this segment).
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

    /// Established with no hole and no FIN either way, every inbound frame in flight assigned.
    fn offloadable(&self) -> bool {
        let w = self.limits.w;
        self.state == FlowState::Established
            && self.holes.is_empty()
            && self.peer_fin.is_none()
            && self.out_fin.is_none()
            && (0..self.in_next_fseq.wrapping_sub(self.in_left)).all(|k| {
                self.in_ring[self.in_left.wrapping_add(k) as usize % w].slot == InSlot::Assigned
            })
    }
}

/// Segments the device took, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TakenCount {
    pub data: u64,
    pub acks: u64,
}

impl TakenCount {
    fn count(&mut self, k: Kind) {
        match k {
            Kind::OutData => self.data += 1,
            _ => self.acks += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.data + self.acks
    }
}

impl FrameSwitch {
    /// The device's record of the flow with `peer` and its inbound frames in flight (oldest
    /// first), when the flow can take segments on the device.
    pub fn out_record(&self, peer: SocketAddrV4) -> Option<(OutRecord, Vec<RingEntry>)> {
        let f = self.flows.get(&peer)?;
        if !f.offloadable() {
            return None;
        }
        let mut legs = [FastLeg::default(); MAX_ACTIVE];
        for (li, l) in f.legs.iter().enumerate() {
            legs[li] = FastLeg {
                fast: f.leg_fast(li),
                takes: l.takes_frames(),
                member: self.members[l.member as usize].addr,
                out_next: l.out_next,
                next: l.next,
                una: l.una,
                edge: l.edge,
                shift_from: l.shift_from,
            };
        }
        let w = f.limits.w as u32;
        let frame_max = f.peer_frame_max();
        let rec = OutRecord {
            peer,
            vip: self.cfg.vip,
            w: w as u16,
            out_left: f.out_left,
            out_next_fseq: f.out_next_fseq,
            out_idx: (f.out_next_fseq % w) as u16,
            out_next: f.out_next,
            min_out_frame: f.min_out_frame,
            in_left: f.in_left,
            in_idx: (f.in_left % w) as u16,
            in_next_fseq: f.in_next_fseq,
            in_next: f.in_next,
            in_ack: f.in_ack,
            in_frame: f.min_in_frame.min(frame_max as u16),
            offers_sum: f.offers_sum,
            slack: frame_max.saturating_sub(1),
            vip_shift: f.vip_shift,
            adv_ack: f.adv.0,
            adv_edge: f.adv.1,
            adv_field: f.adv_field,
            legs,
        };
        let inbound = (0..f.in_next_fseq.wrapping_sub(f.in_left))
            .map(|k| {
                let e = f.in_ring[f.in_left.wrapping_add(k) as usize % w as usize];
                RingEntry {
                    leg: e.leg,
                    member_seq: e.member_seq,
                    peer_seq: e.peer_seq,
                    len: e.len,
                }
            })
            .collect();
        Some((rec, inbound))
    }

    /// Takes back what the device did with the flow of `rec` since it was loaded: `entries` are
    /// the outbound ring entries it wrote, oldest first, and `taken` the segments it took.
    pub fn absorb(&mut self, rec: &OutRecord, entries: &[RingEntry], taken: TakenCount) {
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
        while f.in_left != rec.in_left {
            f.in_ring[f.in_left as usize % w].slot = InSlot::Free;
            f.in_left = f.in_left.wrapping_add(1);
        }
        f.in_ack = rec.in_ack;
        f.out_next = rec.out_next;
        for (l, r) in f.legs.iter_mut().zip(&rec.legs) {
            l.out_next = r.out_next;
            l.una = r.una;
            l.edge = r.edge;
        }
        f.min_out_frame = rec.min_out_frame;
        f.adv = (rec.adv_ack, rec.adv_edge);
        f.adv_field = rec.adv_field;
        self.counters.add(Kind::OutData, taken.data);
        self.counters.add(Kind::OutAck, taken.acks);
    }
}

/// A device holding flow records in slots: the RTL under Verilator, or [`SpecEngine`].
pub trait Engine {
    fn slots(&self) -> usize;
    /// Ring entries per slot and direction: the largest `w` it holds.
    fn ring_entries(&self) -> usize;
    /// Writes slot `slot` whole, with the flow's inbound frames in flight (oldest first, from
    /// ring index `rec.in_idx`), and makes it valid.
    fn load(&mut self, slot: usize, rec: &OutRecord, inbound: &[RingEntry]);
    /// Makes slot `slot` invalid: the device gives back its flow's segments.
    fn unload(&mut self, slot: usize);
    /// The slot's record as the device holds it now (valid or not).
    fn read(&mut self, slot: usize) -> OutRecord;
    /// Outbound ring entry `idx` of slot `slot`.
    fn ring(&mut self, slot: usize, idx: u16) -> RingEntry;
    /// Segments the device took on slot `slot` since it was loaded.
    fn taken(&mut self, slot: usize) -> TakenCount;
    /// One segment in: `Ok` what the device sent (if anything), `Err` the segment back to the
    /// host. A segment of a valid slot's flow in either direction that the device gives back
    /// invalidates the slot, so the flow's later segments follow it to the host in order.
    fn send(&mut self, pkt: &Packet) -> Result<Option<Packet>, Packet>;
}

impl<E: Engine + ?Sized> Engine for Box<E> {
    fn slots(&self) -> usize {
        (**self).slots()
    }
    fn ring_entries(&self) -> usize {
        (**self).ring_entries()
    }
    fn load(&mut self, slot: usize, rec: &OutRecord, inbound: &[RingEntry]) {
        (**self).load(slot, rec, inbound)
    }
    fn unload(&mut self, slot: usize) {
        (**self).unload(slot)
    }
    fn read(&mut self, slot: usize) -> OutRecord {
        (**self).read(slot)
    }
    fn ring(&mut self, slot: usize, idx: u16) -> RingEntry {
        (**self).ring(slot, idx)
    }
    fn taken(&mut self, slot: usize) -> TakenCount {
        (**self).taken(slot)
    }
    fn send(&mut self, pkt: &Packet) -> Result<Option<Packet>, Packet> {
        (**self).send(pkt)
    }
}

/// A slot of [`SpecEngine`].
#[derive(Clone)]
struct Slot {
    rec: OutRecord,
    valid: bool,
    taken: TakenCount,
    in_ring: Vec<RingEntry>,
    out_ring: Vec<RingEntry>,
}

/// [`member_segment`] in slots: the device as the model specifies it.
pub struct SpecEngine {
    slots: Vec<Option<Slot>>,
    ring: usize,
    total: TakenCount,
}

impl SpecEngine {
    /// `slots` flow slots of rings of `ring` entries.
    pub fn new(slots: usize, ring: usize) -> SpecEngine {
        SpecEngine {
            slots: vec![None; slots],
            ring,
            total: TakenCount::default(),
        }
    }

    /// Segments taken since it was made.
    pub fn taken_total(&self) -> TakenCount {
        self.total
    }

    fn slot(&mut self, slot: usize) -> &mut Slot {
        self.slots[slot].as_mut().expect("slot loaded")
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

    fn ring_entries(&self) -> usize {
        self.ring
    }

    fn load(&mut self, slot: usize, rec: &OutRecord, inbound: &[RingEntry]) {
        assert!(usize::from(rec.w) <= self.ring, "ring of {} entries", rec.w);
        let mut in_ring = vec![RingEntry::default(); self.ring];
        for (k, e) in inbound.iter().enumerate() {
            in_ring[(usize::from(rec.in_idx) + k) % usize::from(rec.w)] = *e;
        }
        self.slots[slot] = Some(Slot {
            rec: *rec,
            valid: true,
            taken: TakenCount::default(),
            in_ring,
            out_ring: vec![RingEntry::default(); self.ring],
        });
    }

    fn unload(&mut self, slot: usize) {
        if let Some(s) = self.slots[slot].as_mut() {
            s.valid = false;
        }
    }

    fn read(&mut self, slot: usize) -> OutRecord {
        self.slot(slot).rec
    }

    fn ring(&mut self, slot: usize, idx: u16) -> RingEntry {
        self.slot(slot).out_ring[usize::from(idx)]
    }

    fn taken(&mut self, slot: usize) -> TakenCount {
        self.slot(slot).taken
    }

    fn send(&mut self, pkt: &Packet) -> Result<Option<Packet>, Packet> {
        let total = &mut self.total;
        for s in self.slots.iter_mut().flatten() {
            if !s.valid || !same_flow(&s.rec, pkt) {
                continue;
            }
            return match member_segment(&mut s.rec, &s.in_ring, pkt) {
                Some(t) => {
                    s.taken.count(t.kind);
                    total.count(t.kind);
                    if let Some((idx, e)) = t.entry {
                        s.out_ring[usize::from(idx)] = e;
                    }
                    Ok(t.out)
                }
                None => {
                    s.valid = false;
                    Err(pkt.clone())
                }
            };
        }
        Err(pkt.clone())
    }
}

/// The host's side of the offload: it owns every flow, loads the device with a flow's record after
/// handling a segment of it (while slots last), and takes a flow back before handling any segment
/// of it.
pub struct Offload<E: Engine> {
    pub host: FrameSwitch,
    pub engine: E,
    /// The flow in each slot, with the record as loaded.
    loaded: Vec<Option<OutRecord>>,
    /// Segments the device took, as far as taken back.
    pub device: TakenCount,
}

impl<E: Engine> Offload<E> {
    pub fn new(host: FrameSwitch, engine: E) -> Offload<E> {
        let loaded = vec![None; engine.slots()];
        Offload {
            host,
            engine,
            loaded,
            device: TakenCount::default(),
        }
    }

    /// One segment through the device, and the host when the device gives it back.
    pub fn receive(&mut self, pkt: &Packet) -> Vec<Packet> {
        let pkt = match self.engine.send(pkt) {
            Ok(out) => return out.into_iter().collect(),
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
        if let Some(peer) = self.peer_of(&pkt) {
            self.load(peer);
        }
        out
    }

    /// A failed member leaves every connection (`FrameSwitch::remove_member`), the device's
    /// flows taken back first.
    pub fn remove_member(&mut self, id: u16) -> Vec<Packet> {
        self.sync();
        self.host.remove_member(id)
    }

    /// Forgets the connection with `peer` (`FrameSwitch::expire`), taken back first.
    pub fn expire(&mut self, peer: SocketAddrV4) -> Vec<Packet> {
        if let Some(slot) = self
            .loaded
            .iter()
            .position(|l| l.is_some_and(|r| r.peer == peer))
        {
            self.take_back(slot);
        }
        self.host.expire(peer)
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
        self.device.data += taken.data;
        self.device.acks += taken.acks;
        self.host.absorb(&now, &entries, taken);
    }

    /// The peer of the connection `pkt` belongs to: its source when it is to the VIP, else its
    /// destination.
    fn peer_of(&self, pkt: &Packet) -> Option<SocketAddrV4> {
        let p = pkt.segment.get(..4)?;
        let (src, dst) = (
            SocketAddrV4::new(pkt.src, be16(p, 0)),
            SocketAddrV4::new(pkt.dst, be16(p, 2)),
        );
        Some(if dst == self.host.cfg.vip { src } else { dst })
    }

    /// Loads the flow with `peer` into a free slot when it has a record the engine holds and no
    /// slot yet. Flows are loaded as the host handles their segments, so a flow left out for want
    /// of a slot gets one at its next segment after a slot frees.
    fn load(&mut self, peer: SocketAddrV4) {
        if self
            .loaded
            .iter()
            .any(|l| l.is_some_and(|r| r.peer == peer))
        {
            return;
        }
        let Some(slot) = self.loaded.iter().position(Option::is_none) else {
            return;
        };
        let fits = |rec: &OutRecord| usize::from(rec.w) <= self.engine.ring_entries();
        if let Some((rec, inbound)) = self.host.out_record(peer).filter(|(r, _)| fits(r)) {
            self.engine.load(slot, &rec, &inbound);
            self.loaded[slot] = Some(rec);
        }
    }
}
