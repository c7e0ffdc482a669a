//! The hardware's share of frame switching (docs/frame-switching.md section 9a): the in-order
//! common case of both directions, one frame or none a segment. In the members' direction a
//! member's ack or window update (`out_ack`), its frame in sequence (`out_data`) and its
//! retransmission of the oldest frame in flight to the peer (`out_rtx`); in the peer's its ack
//! (`in_ack`), its next frame (`in_data`) and its retransmission of a frame in flight (`in_rtx`).
//! The device handles them from a per-flow record and the flow's two rings the host loads;
//! everything else, and every segment of a flow the device gave back, goes to the host.
//! [`member_segment`] and [`peer_segment`] are the device's behaviour, bit for bit; [`Offload`] is
//! the host's side, and together with any [`Engine`] (the RTL, or [`SpecEngine`] here) it must
//! equal [`FrameSwitch`].

use std::net::{Ipv4Addr, SocketAddrV4};

use acp::conn::{seq_le, seq_lt};
use acp::wire::{self, Flags, FRAME_HEADER_LEN, HEADER_LEN};

use super::flow::{
    gap, header, member_window_field, Emit, Flow, FlowState, InEntry, InSlot, OutEntry, PeerWindow,
    To,
};
use super::{packet, FrameAlrm, FrameSwitch, Kind, LegView, Packet, MAX_ACTIVE};

/// Inbound ring entries a member's ack may retire on the device; more go to the host.
pub const MAX_RETIRE: u32 = 8;
/// Flow slots and ring entries per slot and direction of the device's engine
/// (`hw/rtl/anypoint_acp_out.sv`'s defaults): flows of a larger `frame_window` stay on the host.
pub const ENGINE_SLOTS: usize = 2;
pub const ENGINE_RING: usize = 512;

/// A member of the active set as the device holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FastLeg {
    /// The host allows this member's segments on the device ([`FrameSwitch::flow_record`]).
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
    /// Outbound (the member's data): the ack we give it (what the peer acked of its frames), the
    /// right edge promised to it (its share of the peer's window), the ack and window field last
    /// sent to it, and the scale of the windows we send it.
    pub ack: u32,
    pub promise: u32,
    pub sent_ack: u32,
    pub sent_field: u16,
    pub shift_to: u8,
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
            ack: 0,
            promise: 0,
            sent_ack: 0,
            sent_field: 0,
            shift_to: 0,
        }
    }
}

/// The per-flow record of the device. The host writes it whole; in the members' direction the
/// device advances the outbound ring (`out_next_fseq`, `out_idx`, `out_next`, a leg's `out_next`,
/// `min_out_frame`), retires inbound ring entries (`in_left`, `in_idx`, `in_ack`), takes members'
/// acks (a leg's `una`, `edge`) and records what it advertised (`adv_*`); in the peer's it
/// retires outbound ring entries (`out_left`, `out_lidx`, a leg's `ack`), takes the peer's ack
/// and window (`out_ack`, `peer_edge`, `peer_wnd_field`), shares the window out (a leg's
/// `promise`), assigns inbound frames (`in_next_fseq`, `in_next_idx`, `in_next`, a leg's `next`,
/// `min_in_frame`, the ALRM's state) and records what it sent each member (`sent_*`). The host
/// reads it back before it handles the flow's next segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    pub peer: SocketAddrV4,
    pub vip: SocketAddrV4,
    /// Ring entries per direction (`frame_window`).
    pub w: u16,
    /// Outbound: the oldest frame the peer has not acked and its ring index, the next frame and
    /// its ring index, the next byte of the peer-facing space, the smallest member frame.
    pub out_left: u32,
    pub out_lidx: u16,
    pub out_next_fseq: u32,
    /// `out_next_fseq mod w`: the ring index, kept beside it so the device never divides.
    pub out_idx: u16,
    pub out_next: u32,
    pub min_out_frame: u16,
    /// The peer's ack and right edge, its window field and scale.
    pub out_ack: u32,
    pub peer_edge: u32,
    pub peer_wnd_field: u16,
    pub peer_shift: u8,
    /// Inbound: the oldest frame not acked by its member and its ring index, the next frame and
    /// its ring index, the peer's next byte and the ack owed to the peer.
    pub in_left: u32,
    pub in_idx: u16,
    pub in_next_fseq: u32,
    pub in_next_idx: u16,
    pub in_next: u32,
    pub in_ack: u32,
    /// The smallest peer frame seen, and the largest the peer may send (the MSS given to it).
    pub min_in_frame: u16,
    pub frame_max: u16,
    /// The connection's per-frame ALRM: policy, key and round-robin turn.
    pub alrm: FrameAlrm,
    pub vip_shift: u8,
    /// Ack, right edge and window field last advertised to the peer.
    pub adv_ack: u32,
    pub adv_edge: u32,
    pub adv_field: u16,
    /// Members of the active set (`legs` beyond are unused).
    pub nlegs: u8,
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

impl From<InEntry> for RingEntry {
    fn from(e: InEntry) -> RingEntry {
        RingEntry {
            leg: e.leg,
            member_seq: e.member_seq,
            peer_seq: e.peer_seq,
            len: e.len,
        }
    }
}

impl From<OutEntry> for RingEntry {
    fn from(e: OutEntry) -> RingEntry {
        RingEntry {
            leg: e.leg,
            member_seq: e.member_seq,
            peer_seq: e.peer_seq,
            len: e.len,
        }
    }
}

impl From<RingEntry> for InEntry {
    fn from(e: RingEntry) -> InEntry {
        InEntry {
            slot: InSlot::Assigned,
            leg: e.leg,
            member_seq: e.member_seq,
            peer_seq: e.peer_seq,
            len: e.len,
        }
    }
}

impl From<RingEntry> for OutEntry {
    fn from(e: RingEntry) -> OutEntry {
        OutEntry {
            used: true,
            leg: e.leg,
            member_seq: e.member_seq,
            peer_seq: e.peer_seq,
            len: e.len,
        }
    }
}

/// Puts `written`, the entries of the frames up to `next` (oldest first), into `ring`, skipping
/// those of frames below `left` (retired). `had`: the host's next frame before, which the entries
/// must reach back to unless `left` is past it.
fn put_written<T: From<RingEntry>>(
    ring: &mut [T],
    written: &[RingEntry],
    (had, next, left): (u32, u32, u32),
) {
    let from = next.wrapping_sub(written.len() as u32);
    debug_assert!(!seq_lt(had, from) || !seq_lt(left, from));
    for (k, e) in written.iter().enumerate() {
        let fseq = from.wrapping_add(k as u32);
        if !seq_lt(fseq, left) {
            let w = ring.len();
            ring[fseq as usize % w] = (*e).into();
        }
    }
}

/// What the device did with a segment it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    /// The segments sent, in order: to the peer at most one (a member's ack that changes nothing
    /// for the peer sends none), to the members at most one each.
    pub out: Vec<Packet>,
    /// The ring entry written, its ring and index.
    pub entry: Option<(Ring, u16, RingEntry)>,
    pub kind: Kind,
}

/// A flow's two rings on the device: the peer's frames (inbound) and the members' (outbound).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ring {
    In,
    Out,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The next index of a ring of `w` entries.
fn next_idx(idx: u16, w: u16) -> u16 {
    if idx + 1 == w {
        0
    } else {
        idx + 1
    }
}

/// A segment of the device's shape: a 20-byte header, flags ACK (PSH ignored: no FIN, SYN or
/// RST), no payload or exactly one frame, and a right checksum.
fn plain(pkt: &Packet) -> bool {
    let s = &pkt.segment;
    s.len() >= HEADER_LEN
        && s[12] >> 4 == (HEADER_LEN / 4) as u8
        && s[13] & 0x17 == Flags::ACK.0
        && (s.len() == HEADER_LEN
            || (s.len() >= HEADER_LEN + FRAME_HEADER_LEN
                && usize::from(be16(s, HEADER_LEN)) == s.len() - HEADER_LEN))
        && wire::verify_checksum(pkt.src, pkt.dst, s)
}

/// A segment of a flow from `src` to `dst` carrying ACK.
fn segment(
    src: SocketAddrV4,
    dst: SocketAddrV4,
    seq: u32,
    ack: u32,
    window: u16,
    payload: &[u8],
) -> Packet {
    let e = Emit {
        to: To::Peer,
        header: header(seq, ack, Flags::ACK, window),
        payload: payload.to_vec(),
    };
    packet(src, dst, e)
}

impl FlowRecord {
    /// Bytes a free inbound ring entry stands for in the peer's window: the smaller of the
    /// smallest peer frame and the largest.
    pub fn in_frame(&self) -> u16 {
        self.min_in_frame.min(self.frame_max)
    }

    /// What a member's window is offered less of, under a policy offering the sum of them: a
    /// frame of the largest size less a byte, so every frame fits the member it goes to.
    pub fn slack(&self) -> u32 {
        u32::from(self.frame_max).saturating_sub(1)
    }

    /// The window field for the peer (`Flow::peer_window_field` with no hole and no FIN): from
    /// the ack owed, to the peer's next byte plus the room the members' windows and the free
    /// inbound ring entries leave.
    fn peer_field(&self) -> u16 {
        let takes = self.legs.iter().filter(|l| l.takes);
        let open = |l: &FastLeg| gap(l.next, l.edge);
        let room = if self.alrm.policy().offers_sum() {
            takes
                .map(|l| open(l).saturating_sub(self.slack()))
                .sum::<u32>()
        } else {
            takes.map(open).min().unwrap_or(0)
        };
        let free = u32::from(self.w) - self.in_next_fseq.wrapping_sub(self.in_left);
        let edge = self
            .in_next
            .wrapping_add(room.min(free * u32::from(self.in_frame())));
        (gap(self.in_ack, edge) >> self.vip_shift).min(0xffff) as u16
    }

    /// A segment to the peer from the VIP with the current ack and window; records them as
    /// advertised.
    fn send_peer(&mut self, seq: u32, payload: &[u8]) -> Packet {
        let field = self.peer_field();
        self.adv_ack = self.in_ack;
        self.adv_edge = self.in_ack.wrapping_add(u32::from(field) << self.vip_shift);
        self.adv_field = field;
        segment(self.vip, self.peer, seq, self.in_ack, field, payload)
    }

    /// A segment from the peer to member `li` with its ack and window; records them as sent.
    fn send_member(&mut self, li: usize, seq: u32, payload: &[u8]) -> Packet {
        let l = &mut self.legs[li];
        let field = member_window_field(l.ack, l.promise, l.shift_to);
        (l.sent_ack, l.sent_field) = (l.ack, field);
        segment(self.peer, l.member, seq, l.ack, field, payload)
    }

    /// Whether member `li` is owed a pure ack: its ack or window moved since it was last sent.
    fn owes_ack(&self, li: usize) -> bool {
        let l = &self.legs[li];
        l.takes
            && (l.sent_ack, l.sent_field)
                != (l.ack, member_window_field(l.ack, l.promise, l.shift_to))
    }

    /// The peer acked up to `ack` with `window`: outbound frames below it retire (at most
    /// [`MAX_RETIRE`], else `None`), each member's ack moving to the end of its last retired
    /// frame, and the peer's new window is shared among the members (`Flow::on_peer_ack`).
    fn take_peer_ack(&mut self, out_ring: &[RingEntry], ack: u32, window: u16) -> Option<()> {
        let mut retired = 0;
        while self.out_left != self.out_next_fseq {
            let e = out_ring[usize::from(self.out_lidx)];
            if !seq_le(e.peer_seq.wrapping_add(u32::from(e.len)), ack) {
                break;
            }
            if retired == MAX_RETIRE {
                return None;
            }
            retired += 1;
            let l = &mut self.legs[usize::from(e.leg)];
            let end = e.member_seq.wrapping_add(u32::from(e.len));
            if seq_lt(l.ack, end) {
                l.ack = end;
            }
            self.out_left = self.out_left.wrapping_add(1);
            self.out_lidx = next_idx(self.out_lidx, self.w);
        }
        self.out_ack = ack;
        self.peer_edge = ack.wrapping_add(u32::from(window) << self.peer_shift);
        self.peer_wnd_field = window;
        let window = PeerWindow {
            out_next: self.out_next,
            out_ack: self.out_ack,
            peer_edge: self.peer_edge,
            w: self.w.into(),
            in_flight: self.out_next_fseq.wrapping_sub(self.out_left),
            min_out_frame: self.min_out_frame,
        };
        let live = self.legs.iter_mut().filter(|l| l.takes);
        window.share(live.map(|l| (l.out_next, &mut l.promise)));
        Some(())
    }

    /// The member and member sequence number of the peer frame `frame` at peer byte `pseq`:
    /// a retransmission goes where its first copy went, a new frame in sequence to the member
    /// the ALRM picks (its inbound ring entry written). `None`: the host's.
    fn place_peer_frame(
        &mut self,
        in_ring: &[RingEntry],
        pseq: u32,
        frame: &[u8],
    ) -> Option<(usize, u32, Kind, Option<RingEntry>)> {
        let len = frame.len() as u16;
        let fseq = be32(frame, 4);
        self.min_in_frame = self.min_in_frame.min(len);
        if seq_lt(fseq, self.in_left) {
            return None;
        }
        if seq_lt(fseq, self.in_next_fseq) {
            let at = u32::from(self.in_idx) + fseq.wrapping_sub(self.in_left);
            let e = in_ring[(at % u32::from(self.w)) as usize];
            let li = usize::from(e.leg);
            let same = e.peer_seq == pseq && e.len == len;
            return (same && self.legs[li].takes).then_some((li, e.member_seq, Kind::InRtx, None));
        }
        let in_flight = self.in_next_fseq.wrapping_sub(self.in_left);
        if fseq != self.in_next_fseq || pseq != self.in_next || in_flight >= u32::from(self.w) {
            return None;
        }
        let views: Vec<LegView> = self.legs[..usize::from(self.nlegs)]
            .iter()
            .map(|l| LegView {
                live: l.takes,
                open: gap(l.next, l.edge),
            })
            .collect();
        let li = self.alrm.redirect(&frame[FRAME_HEADER_LEN..], &views)?;
        let l = &mut self.legs[li];
        let member_seq = l.next;
        l.next = l.next.wrapping_add(u32::from(len));
        self.in_next = pseq.wrapping_add(u32::from(len));
        self.in_next_fseq = fseq.wrapping_add(1);
        let entry = RingEntry {
            leg: li as u8,
            member_seq,
            peer_seq: pseq,
            len,
        };
        Some((li, member_seq, Kind::InData, Some(entry)))
    }
}

/// The device's path for `pkt`, a segment from the peer of `rec`'s flow, with the flow's rings:
/// a segment of the device's shape ([`member_segment`]'s) with an ack within what the peer was
/// sent, retiring at most [`MAX_RETIRE`] outbound frames, and either no frame or one that is a
/// retransmission of a frame in flight to a live member or the next frame in sequence with room in
/// the inbound ring. The peer's ack retires the outbound frames, moves the members' acks and
/// shares the peer's window out; the frame goes to its member (the first copy's, or the one the
/// flow's ALRM picks) renumbered; then every member whose ack or window moved gets a pure ack, in
/// member order. A duplicate ack (pure, same ack and window, frames in flight to the peer) then
/// goes once more as a pure ack to the member of the oldest frame in flight, the one the peer
/// misses (`Flow::answer_peer_dup`), when that member takes frames (a removed one's frame is
/// null-filled by the host). `None`: the host's (`rec` unchanged).
pub fn peer_segment(
    rec: &mut FlowRecord,
    rings: &[Vec<RingEntry>; 2],
    pkt: &Packet,
) -> Option<Taken> {
    let s = &pkt.segment;
    if pkt.src != *rec.peer.ip()
        || pkt.dst != *rec.vip.ip()
        || !plain(pkt)
        || be16(s, 0) != rec.peer.port()
        || be16(s, 2) != rec.vip.port()
    {
        return None;
    }
    let (seq, ack, window) = (be32(s, 4), be32(s, 8), be16(s, 14));
    let frame = &s[HEADER_LEN..];
    let dup = frame.is_empty()
        && ack == rec.out_ack
        && window == rec.peer_wnd_field
        && rec.out_left != rec.out_next_fseq;
    // The member of the frame the peer misses, which a duplicate ack is answered to.
    let missing =
        dup.then(|| usize::from(rings[Ring::Out as usize][usize::from(rec.out_lidx)].leg));
    if seq_lt(ack, rec.out_ack)
        || seq_lt(rec.out_next, ack)
        || missing.is_some_and(|li| !rec.legs[li].takes)
    {
        return None;
    }
    let mut new = *rec;
    new.take_peer_ack(&rings[Ring::Out as usize], ack, window)?;
    let mut out = Vec::new();
    let mut kind = Kind::InAck;
    let mut entry = None;
    let mut to = None;
    if !frame.is_empty() {
        let idx = new.in_next_idx;
        let (li, member_seq, k, written) =
            new.place_peer_frame(&rings[Ring::In as usize], seq, frame)?;
        if let Some(e) = written {
            entry = Some((Ring::In, idx, e));
            new.in_next_idx = next_idx(idx, new.w);
        }
        out.push(new.send_member(li, member_seq, frame));
        kind = k;
        to = Some(li);
    }
    for li in 0..MAX_ACTIVE {
        if to != Some(li) && new.owes_ack(li) {
            let next = new.legs[li].next;
            out.push(new.send_member(li, next, &[]));
        }
    }
    if let Some(li) = missing {
        let next = new.legs[li].next;
        out.push(new.send_member(li, next, &[]));
    }
    *rec = new;
    Some(Taken { out, entry, kind })
}

/// The device's path for `pkt` on the flow of `rec`, with the flow's rings (`w` entries each): a
/// segment from a fast member to the peer with a 20-byte header, flags ACK (PSH ignored), a right
/// checksum, an ack within what the member was sent, at most [`MAX_RETIRE`] inbound frames
/// retired by it, and no payload or exactly one frame that is either the member's next with room
/// in the outbound ring (`out_data`) or a retransmission of the oldest frame in flight to the peer
/// (`out_rtx`: the outbound entry at `out_left` is this member's, at this member sequence number
/// and of this length; being the oldest in flight it is the member's oldest the peer has not
/// acked). The member's ack retires the inbound frames every member has acked; a new frame takes
/// the next place of the peer's space, a retransmission its first copy's place and frame number,
/// and goes to the peer renumbered; a pure ack goes to the peer when the ack or window it owes
/// changed, or as a duplicate ack when the member's is one. `None`: the host's (`rec` unchanged).
pub fn member_segment(
    rec: &mut FlowRecord,
    rings: &[Vec<RingEntry>; 2],
    pkt: &Packet,
) -> Option<Taken> {
    let s = &pkt.segment;
    if pkt.dst != *rec.peer.ip() || !plain(pkt) || be16(s, 2) != rec.peer.port() {
        return None;
    }
    let from = SocketAddrV4::new(pkt.src, be16(s, 0));
    let li = rec.legs.iter().position(|l| l.fast && l.member == from)?;
    let (seq, ack, window) = (be32(s, 4), be32(s, 8), be16(s, 14));
    let data = s.len() > HEADER_LEN;
    let len = s.len().saturating_sub(HEADER_LEN) as u16;
    let l = rec.legs[li];
    let full = rec.out_next_fseq.wrapping_sub(rec.out_left) >= u32::from(rec.w);
    let oldest = rings[Ring::Out as usize][usize::from(rec.out_lidx)];
    let rtx = data && seq != l.out_next;
    let rtx_ok = rec.out_left != rec.out_next_fseq
        && seq_lt(seq, l.out_next)
        && usize::from(oldest.leg) == li
        && oldest.member_seq == seq
        && oldest.len == len;
    if seq_lt(ack, l.una) || seq_lt(l.next, ack) || (rtx && !rtx_ok) || (data && !rtx && full) {
        return None;
    }
    let in_ring = &rings[Ring::In as usize];
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
        new.in_idx = next_idx(new.in_idx, new.w);
    }
    let taken = if data {
        // A new frame takes the peer's next place and frame number and a ring entry; a
        // retransmission its first copy's, with nothing new in the ring.
        let (peer_seq, fseq) = if rtx {
            (oldest.peer_seq, new.out_left)
        } else {
            (new.out_next, new.out_next_fseq)
        };
        let mut payload = Vec::with_capacity(usize::from(len));
        let frame = &s[HEADER_LEN..];
        wire::emit_frame(fseq, frame[2], &frame[FRAME_HEADER_LEN..], &mut payload);
        let out = new.send_peer(peer_seq, &payload);
        new.min_out_frame = new.min_out_frame.min(len);
        let entry = (!rtx).then(|| {
            let idx = new.out_idx;
            new.out_next = new.out_next.wrapping_add(u32::from(len));
            new.out_next_fseq = new.out_next_fseq.wrapping_add(1);
            new.out_idx = next_idx(idx, new.w);
            new.legs[li].out_next = seq.wrapping_add(u32::from(len));
            let e = RingEntry {
                leg: li as u8,
                member_seq: seq,
                peer_seq,
                len,
            };
            (Ring::Out, idx, e)
        });
        Taken {
            out: vec![out],
            entry,
            kind: if rtx { Kind::OutRtx } else { Kind::OutData },
        }
    } else {
        // A duplicate ack while peer data is outstanding is the peer's duplicate ack too.
        let force = dup && new.in_left != new.in_next_fseq;
        let changed = new.in_ack != new.adv_ack || new.peer_field() != new.adv_field;
        let out = (changed || force).then(|| new.send_peer(new.out_next, &[]));
        Taken {
            out: out.into_iter().collect(),
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
            && self
                .legs
                .iter()
                .enumerate()
                .all(|(j, o)| j == li || !o.takes_frames() || o.sent == (o.ack, o.window_field()))
    }

    /// Established with no hole and no FIN either way (a member's included), every inbound frame
    /// in flight assigned.
    fn offloadable(&self) -> bool {
        let w = self.limits.w;
        self.state == FlowState::Established
            && self.holes.is_empty()
            && self.peer_fin.is_none()
            && self.out_fin.is_none()
            && self.legs.iter().all(|l| l.fin_out.is_none())
            && (0..self.in_next_fseq.wrapping_sub(self.in_left)).all(|k| {
                self.in_ring[self.in_left.wrapping_add(k) as usize % w].slot == InSlot::Assigned
            })
    }
}

/// Segments the device took, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TakenCount {
    pub out_data: u64,
    pub out_ack: u64,
    pub in_data: u64,
    pub in_rtx: u64,
    pub in_ack: u64,
    pub out_rtx: u64,
}

impl TakenCount {
    fn count(&mut self, k: Kind) {
        self.count_n(k, 1)
    }

    fn count_n(&mut self, k: Kind, n: u64) {
        match k {
            Kind::OutData => self.out_data += n,
            Kind::OutAck => self.out_ack += n,
            Kind::InData => self.in_data += n,
            Kind::InRtx => self.in_rtx += n,
            Kind::InAck => self.in_ack += n,
            Kind::OutRtx => self.out_rtx += n,
            _ => unreachable!("the device takes no {} segment", k.name()),
        }
    }

    /// The counts of a device's 32-bit registers (`ACP_TAKEN`, the engine's `rec_taken_*`), in
    /// the order of [`TakenCount::by_kind`].
    pub fn from_device(words: [u32; 6]) -> TakenCount {
        let [out_data, out_ack, in_data, in_rtx, in_ack, out_rtx] = words.map(u64::from);
        TakenCount {
            out_data,
            out_ack,
            in_data,
            in_rtx,
            in_ack,
            out_rtx,
        }
    }

    /// The counts with their kinds.
    pub fn by_kind(&self) -> [(Kind, u64); 6] {
        [
            (Kind::OutData, self.out_data),
            (Kind::OutAck, self.out_ack),
            (Kind::InData, self.in_data),
            (Kind::InRtx, self.in_rtx),
            (Kind::InAck, self.in_ack),
            (Kind::OutRtx, self.out_rtx),
        ]
    }

    pub fn add(&mut self, o: &TakenCount) {
        for (k, n) in o.by_kind() {
            self.count_n(k, n);
        }
    }

    pub fn total(&self) -> u64 {
        self.by_kind().iter().map(|(_, n)| n).sum()
    }
}

/// Ring entries of a flow, oldest first: the frames in flight the host loads with a record, or
/// those the device wrote since, read back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entries {
    pub inbound: Vec<RingEntry>,
    pub outbound: Vec<RingEntry>,
}

impl FrameSwitch {
    /// The device's record of the flow with `peer` and its frames in flight, when the flow can
    /// take segments on the device.
    pub fn flow_record(&self, peer: SocketAddrV4) -> Option<(FlowRecord, Entries)> {
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
                ack: l.ack,
                promise: l.promise,
                sent_ack: l.sent.0,
                sent_field: l.sent.1,
                shift_to: l.shift_to,
            };
        }
        let w = f.limits.w as u32;
        let rec = FlowRecord {
            peer,
            vip: self.cfg.vip,
            w: w as u16,
            out_left: f.out_left,
            out_lidx: (f.out_left % w) as u16,
            out_next_fseq: f.out_next_fseq,
            out_idx: (f.out_next_fseq % w) as u16,
            out_next: f.out_next,
            min_out_frame: f.min_out_frame,
            out_ack: f.out_ack,
            peer_edge: f.peer_edge,
            peer_wnd_field: f.peer_wnd_field,
            peer_shift: f.peer_shift,
            in_left: f.in_left,
            in_idx: (f.in_left % w) as u16,
            in_next_fseq: f.in_next_fseq,
            in_next_idx: (f.in_next_fseq % w) as u16,
            in_next: f.in_next,
            in_ack: f.in_ack,
            min_in_frame: f.min_in_frame,
            frame_max: f.peer_frame_max() as u16,
            alrm: f.alrm,
            vip_shift: f.vip_shift,
            adv_ack: f.adv.0,
            adv_edge: f.adv.1,
            adv_field: f.adv_field,
            nlegs: f.legs.len() as u8,
            legs,
        };
        let entries = Entries {
            inbound: (0..f.in_next_fseq.wrapping_sub(f.in_left))
                .map(|k| f.in_ring[f.in_left.wrapping_add(k) as usize % w as usize].into())
                .collect(),
            outbound: (0..f.out_next_fseq.wrapping_sub(f.out_left))
                .map(|k| f.out_ring[f.out_left.wrapping_add(k) as usize % w as usize].into())
                .collect(),
        };
        Some((rec, entries))
    }

    /// Takes back what the device did with the flow of `rec` since it was loaded: `written` are
    /// the last ring entries it wrote (up to `rec`'s next frame numbers), oldest first, at least
    /// those of the frames still in flight, and `taken` the segments it took.
    pub fn absorb(&mut self, rec: &FlowRecord, written: &Entries, taken: TakenCount) {
        let Some(f) = self.flows.get_mut(&rec.peer) else {
            return;
        };
        let w = f.limits.w;
        // Retired frames first: the device may have gone round the ring since the load, so an
        // entry it wrote can sit in the slot of a frame retired since. Written entries of frames
        // already retired are skipped.
        while f.in_left != rec.in_left {
            f.in_ring[f.in_left as usize % w].slot = InSlot::Free;
            f.in_left = f.in_left.wrapping_add(1);
        }
        while f.out_left != rec.out_left {
            f.out_ring[f.out_left as usize % w].used = false;
            f.out_left = f.out_left.wrapping_add(1);
        }
        let out = (f.out_next_fseq, rec.out_next_fseq, f.out_left);
        put_written(&mut f.out_ring, &written.outbound, out);
        let inb = (f.in_next_fseq, rec.in_next_fseq, f.in_left);
        put_written(&mut f.in_ring, &written.inbound, inb);
        f.out_next_fseq = rec.out_next_fseq;
        f.in_next_fseq = rec.in_next_fseq;
        f.out_next = rec.out_next;
        f.min_out_frame = rec.min_out_frame;
        f.out_ack = rec.out_ack;
        f.peer_edge = rec.peer_edge;
        f.peer_wnd_field = rec.peer_wnd_field;
        f.in_next = rec.in_next;
        f.in_ack = rec.in_ack;
        f.min_in_frame = rec.min_in_frame;
        f.alrm = rec.alrm;
        f.adv = (rec.adv_ack, rec.adv_edge);
        f.adv_field = rec.adv_field;
        for (l, r) in f.legs.iter_mut().zip(&rec.legs) {
            l.out_next = r.out_next;
            l.next = r.next;
            l.una = r.una;
            l.edge = r.edge;
            l.ack = r.ack;
            l.promise = r.promise;
            l.sent = (r.sent_ack, r.sent_field);
        }
        self.count_taken(&taken);
    }

    /// Counts segments the device took (absorbed, or read before the device lost the flow).
    pub fn count_taken(&mut self, taken: &TakenCount) {
        for (k, n) in taken.by_kind() {
            self.counters.add(k, n);
        }
    }
}

/// A device holding flow records in slots: the RTL under Verilator, or [`SpecEngine`].
pub trait Engine {
    fn slots(&self) -> usize;
    /// Ring entries per slot and direction: the largest `w` it holds.
    fn ring_entries(&self) -> usize;
    /// Writes slot `slot` whole, with the flow's frames in flight (oldest first, from ring index
    /// `rec.in_idx` inbound and `rec.out_lidx` outbound), and makes it valid. False when the
    /// device refused it (a device whose segments reach the host behind a queue holds a load while
    /// records it gave back are on their way: `anypoint_driver::acp::load_fenced`); the slot is
    /// then invalid.
    fn load(&mut self, slot: usize, rec: &FlowRecord, in_flight: &Entries) -> bool;
    /// Makes slot `slot` invalid: the device gives back its flow's segments.
    fn unload(&mut self, slot: usize);
    /// The slot's record as the device holds it now (valid or not).
    fn read(&mut self, slot: usize) -> FlowRecord;
    /// Entry `idx` of slot `slot`'s ring `ring`.
    fn ring(&mut self, slot: usize, ring: Ring, idx: u16) -> RingEntry;
    /// Segments the device took on slot `slot` since it was loaded.
    fn taken(&mut self, slot: usize) -> TakenCount;
    /// One segment in: `Ok` what the device sent, in order, `Err` the segment back to the host. A segment of a valid slot's flow in either direction that the device gives back
    /// invalidates the slot, so the flow's later segments follow it to the host in order.
    fn send(&mut self, pkt: &Packet) -> Result<Vec<Packet>, Packet>;
    /// Where the device's frames to `addr` go: out of `port` to `mac` (a device that frames what
    /// it sends itself, the ACP block's neighbour table); an engine that returns its segments
    /// ignores it.
    fn route(&mut self, _addr: Ipv4Addr, _port: u8, _mac: [u8; 6]) {}
}

impl<E: Engine + ?Sized> Engine for Box<E> {
    fn slots(&self) -> usize {
        (**self).slots()
    }
    fn ring_entries(&self) -> usize {
        (**self).ring_entries()
    }
    fn load(&mut self, slot: usize, rec: &FlowRecord, in_flight: &Entries) -> bool {
        (**self).load(slot, rec, in_flight)
    }
    fn unload(&mut self, slot: usize) {
        (**self).unload(slot)
    }
    fn read(&mut self, slot: usize) -> FlowRecord {
        (**self).read(slot)
    }
    fn ring(&mut self, slot: usize, ring: Ring, idx: u16) -> RingEntry {
        (**self).ring(slot, ring, idx)
    }
    fn taken(&mut self, slot: usize) -> TakenCount {
        (**self).taken(slot)
    }
    fn send(&mut self, pkt: &Packet) -> Result<Vec<Packet>, Packet> {
        (**self).send(pkt)
    }
    fn route(&mut self, addr: Ipv4Addr, port: u8, mac: [u8; 6]) {
        (**self).route(addr, port, mac)
    }
}

/// A slot of [`SpecEngine`].
#[derive(Clone)]
struct Slot {
    rec: FlowRecord,
    valid: bool,
    taken: TakenCount,
    rings: [Vec<RingEntry>; 2],
}

/// [`member_segment`] and [`peer_segment`] in slots: the device as the model specifies it.
pub struct SpecEngine {
    slots: Vec<Slot>,
    ring: usize,
    total: TakenCount,
}

impl SpecEngine {
    /// `slots` flow slots of rings of `ring` entries.
    /// Each slot starts invalid, its record and rings zero.
    pub fn new(slots: usize, ring: usize) -> SpecEngine {
        let empty = Slot {
            rec: super::layout::unpack(&[0; super::layout::RECORD_WORDS]),
            valid: false,
            taken: TakenCount::default(),
            rings: [
                vec![RingEntry::default(); ring],
                vec![RingEntry::default(); ring],
            ],
        };
        SpecEngine {
            slots: vec![empty; slots],
            ring,
            total: TakenCount::default(),
        }
    }

    /// A reset: every slot invalid and its taken counts zero; records and rings, block RAM in the
    /// device, keep what they held.
    pub fn reset(&mut self) {
        for s in &mut self.slots {
            s.valid = false;
            s.taken = TakenCount::default();
        }
    }

    /// Whether slot `slot` is valid (its flow's segments are taken).
    pub fn valid(&self, slot: usize) -> bool {
        self.slots[slot].valid
    }

    /// Writes entry `idx` of slot `slot`'s ring `ring`, as the host does before a load.
    pub fn write_ring(&mut self, slot: usize, ring: Ring, idx: u16, e: RingEntry) {
        self.slots[slot].rings[ring as usize][usize::from(idx)] = e;
    }

    /// Makes slot `slot` hold `rec`, valid, its taken counts zero; its rings as they are.
    pub fn set_record(&mut self, slot: usize, rec: &FlowRecord) {
        let s = &mut self.slots[slot];
        s.rec = *rec;
        s.valid = true;
        s.taken = TakenCount::default();
    }

    /// Segments taken since it was made.
    pub fn taken_total(&self) -> TakenCount {
        self.total
    }

    fn slot(&mut self, slot: usize) -> &mut Slot {
        &mut self.slots[slot]
    }
}

/// Whether `pkt` belongs to the flow of `rec`, either way.
pub fn same_flow(rec: &FlowRecord, pkt: &Packet) -> bool {
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

    fn load(&mut self, slot: usize, rec: &FlowRecord, in_flight: &Entries) -> bool {
        assert!(usize::from(rec.w) <= self.ring, "ring of {} entries", rec.w);
        let rings = [
            (Ring::In, rec.in_idx, &in_flight.inbound),
            (Ring::Out, rec.out_lidx, &in_flight.outbound),
        ];
        for (ring, from, entries) in rings {
            for (k, e) in entries.iter().enumerate() {
                let idx = (usize::from(from) + k) % usize::from(rec.w);
                self.write_ring(slot, ring, idx as u16, *e);
            }
        }
        self.set_record(slot, rec);
        true
    }

    fn unload(&mut self, slot: usize) {
        self.slots[slot].valid = false;
    }

    fn read(&mut self, slot: usize) -> FlowRecord {
        self.slot(slot).rec
    }

    fn ring(&mut self, slot: usize, ring: Ring, idx: u16) -> RingEntry {
        self.slot(slot).rings[ring as usize][usize::from(idx)]
    }

    fn taken(&mut self, slot: usize) -> TakenCount {
        self.slot(slot).taken
    }

    fn send(&mut self, pkt: &Packet) -> Result<Vec<Packet>, Packet> {
        let total = &mut self.total;
        for s in self.slots.iter_mut() {
            if !s.valid || !same_flow(&s.rec, pkt) {
                continue;
            }
            let taken = if pkt.dst == *s.rec.vip.ip() {
                peer_segment(&mut s.rec, &s.rings, pkt)
            } else {
                member_segment(&mut s.rec, &s.rings, pkt)
            };
            return match taken {
                Some(t) => {
                    s.taken.count(t.kind);
                    total.count(t.kind);
                    if let Some((ring, idx, e)) = t.entry {
                        s.rings[ring as usize][usize::from(idx)] = e;
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
    loaded: Vec<Option<FlowRecord>>,
    /// Segments the device took, as far as taken back.
    pub device: TakenCount,
    /// Loads the device refused (`Engine::load`).
    pub loads_refused: u64,
    /// Peers of the flows the device took segments of, as taken back, since the last
    /// [`Offload::active`].
    device_active: Vec<SocketAddrV4>,
    /// Each loaded slot's segments taken, as last read: what is known of them should a reset
    /// zero the device's count.
    slot_taken: Vec<TakenCount>,
    /// Each loaded slot's total count as [`Offload::active`] last saw it.
    active_seen: Vec<u64>,
    /// Flows whose slot the device lost (its block RAM cleared by a power cycle): forgotten.
    pub lost: u64,
    /// Peers of the flows the host handled a segment of since their last load.
    wanted: Vec<SocketAddrV4>,
    /// Flows [`Offload::load_wanted`] tries less often, since each load writes the record and
    /// rings again: the device gave a segment back (one it does not take) before it took any
    /// since their load, or refused their load with many frames in flight.
    held: Vec<Held>,
}

/// A flow [`Offload::load_wanted`] holds back: the calls it sits out before its next try, and
/// how many after that (doubling, to [`MAX_HOLD`]).
#[derive(Clone, Copy)]
struct Held {
    peer: SocketAddrV4,
    wait: u32,
    next: u32,
}

/// The most calls of [`Offload::load_wanted`] a held flow sits out.
const MAX_HOLD: u32 = 64;

/// Ring entries in flight per call of [`Offload::load_wanted`] a flow whose load was refused
/// sits out: a load writes each entry (two register blocks each), and a call follows a segment
/// the host handled (a few register accesses on a device).
pub const ENTRIES_PER_CALL: usize = 8;

impl<E: Engine> Offload<E> {
    pub fn new(host: FrameSwitch, engine: E) -> Offload<E> {
        let slots = engine.slots();
        Offload {
            host,
            engine,
            loaded: vec![None; slots],
            device: TakenCount::default(),
            loads_refused: 0,
            device_active: Vec::new(),
            slot_taken: vec![TakenCount::default(); slots],
            active_seen: vec![0; slots],
            lost: 0,
            wanted: Vec::new(),
            held: Vec::new(),
        }
    }

    /// One segment through the device, and the host when the device gives it back; then the flow
    /// is loaded ([`Offload::handle`], [`Offload::load_all_wanted`]).
    pub fn receive(&mut self, pkt: &Packet) -> Vec<Packet> {
        let out = self.handle(pkt);
        self.load_all_wanted();
        out
    }

    /// [`Offload::receive`] without the load: a host that reads the device's given-back segments
    /// from a queue loads after each ([`Offload::load_wanted`]) and once it has read the queue
    /// empty ([`Offload::load_all_wanted`]); the device's fence refuses a load while a segment it
    /// gave back that may be of the flow is queued.
    pub fn handle(&mut self, pkt: &Packet) -> Vec<Packet> {
        let pkt = match self.engine.send(pkt) {
            Ok(out) => return out,
            Err(pkt) => pkt,
        };
        let slot = self
            .loaded
            .iter()
            .position(|l| l.is_some_and(|r| same_flow(&r, &pkt)));
        if let Some(slot) = slot {
            let peer = self.loaded[slot].map(|r| r.peer);
            self.take_back(slot);
            // A load that took nothing before a segment came back cost its record for nothing.
            match peer {
                Some(peer) if self.slot_taken[slot].total() == 0 => self.hold(peer),
                Some(peer) => self.held.retain(|h| h.peer != peer),
                None => {}
            }
        }
        let out = self.host.receive(&pkt);
        if let Some(peer) = self.peer_of(&pkt) {
            if !self.wanted.contains(&peer) {
                self.wanted.push(peer);
            }
        }
        out
    }

    /// Loads the flows handled since their last load, while slots last; a load the device refused
    /// (a segment of the flow queued) is tried again at the next call, or, for a flow with many
    /// frames in flight, after one call per [`ENTRIES_PER_CALL`] of them. A flow the device gave a
    /// segment back of with none taken since its load sits out the next 1, 2, 4 ... up to
    /// [`MAX_HOLD`] calls, in a row of such loads: a host calls this after each segment it
    /// handles, and a flow whose segments the device never takes would be loaded, at the cost of
    /// its record, after each.
    pub fn load_wanted(&mut self) {
        for peer in std::mem::take(&mut self.wanted) {
            if let Some(h) = self.held.iter_mut().find(|h| h.peer == peer && h.wait > 0) {
                h.wait -= 1;
                self.wanted.push(peer);
            } else if let Load::Refused { entries } = self.load(peer) {
                // Each try may write every entry in flight again: a flow with many sits out
                // calls in proportion.
                self.hold_for(peer, (entries / ENTRIES_PER_CALL) as u32);
                self.wanted.push(peer);
            }
        }
    }

    /// [`Offload::load_wanted`] with every wanted flow tried, for a host that has read the
    /// device's queue empty (a load then seldom loses); flows the host no longer has are let go.
    pub fn load_all_wanted(&mut self) {
        let host = &self.host;
        self.held.retain(|h| host.has_flow(h.peer));
        for h in &mut self.held {
            h.wait = 0;
        }
        self.load_wanted();
    }

    /// Holds `peer` back from the next `calls` calls of [`Offload::load_wanted`] at least.
    fn hold_for(&mut self, peer: SocketAddrV4, calls: u32) {
        let calls = calls.min(MAX_HOLD);
        match self.held.iter_mut().find(|h| h.peer == peer) {
            Some(h) => h.wait = h.wait.max(calls),
            None if calls > 0 => self.held.push(Held {
                peer,
                wait: calls,
                next: 0,
            }),
            None => {}
        }
    }

    /// Holds `peer` back from [`Offload::load_wanted`], twice as long as last time.
    fn hold(&mut self, peer: SocketAddrV4) {
        match self.held.iter_mut().find(|h| h.peer == peer) {
            Some(h) => {
                h.next = (h.next * 2).clamp(1, MAX_HOLD);
                h.wait = h.next;
            }
            None => self.held.push(Held {
                peer,
                wait: 1,
                next: 1,
            }),
        }
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

    /// Segments the device took on the flows it holds now, since their loads (not yet in
    /// [`Offload::device`] or the host's counters). Read without taking the flows back, so that
    /// looking does not move flows off the device.
    pub fn taken_in_slots(&mut self) -> TakenCount {
        let mut t = TakenCount::default();
        for slot in 0..self.loaded.len() {
            if self.loaded[slot].is_some() {
                t.add(&self.read_taken(slot));
            }
        }
        t
    }

    /// Slot `slot`'s count of segments taken since its load. A reset zeroes the device's count:
    /// what was read of it before is then the better figure.
    fn read_taken(&mut self, slot: usize) -> TakenCount {
        let t = self.engine.taken(slot);
        if t.total() >= self.slot_taken[slot].total() {
            self.slot_taken[slot] = t;
        }
        self.slot_taken[slot]
    }

    /// Peers of the flows the device took segments of since the last call (the host saw none of
    /// those segments): flows it holds whose count moved, and flows taken back since.
    pub fn active(&mut self) -> Vec<SocketAddrV4> {
        for slot in 0..self.loaded.len() {
            let Some(rec) = self.loaded[slot] else {
                continue;
            };
            let n = self.read_taken(slot).total();
            if n != self.active_seen[slot] {
                self.active_seen[slot] = n;
                self.device_active.push(rec.peer);
            }
        }
        std::mem::take(&mut self.device_active)
    }

    /// Takes every flow back from the device: the host's state is then whole (its counters
    /// included), and the device holds nothing until the flow's next segment the host handles.
    pub fn sync(&mut self) {
        for slot in 0..self.loaded.len() {
            self.take_back(slot);
        }
    }

    /// Reads slot `slot` back into the host and frees it. A reset keeps the device's records (block
    /// RAM), so a flow survives one; a slot that no longer holds its flow's record was lost with
    /// what the device took since the load, and the flow is forgotten: no one knows its state, and
    /// its next segment either way is answered with a reset (`no_flow`).
    fn take_back(&mut self, slot: usize) {
        let Some(loaded) = self.loaded[slot].take() else {
            return;
        };
        self.engine.unload(slot);
        let now = self.engine.read(slot);
        let seen = self.slot_taken[slot];
        if (now.peer, now.vip) != (loaded.peer, loaded.vip) {
            self.lost += 1;
            self.device.add(&seen);
            self.host.count_taken(&seen);
            self.host.forget(loaded.peer);
            return;
        }
        let taken = self.read_taken(slot);
        if taken.total() != self.active_seen[slot] {
            self.device_active.push(loaded.peer);
        }
        // The entries written since the load of the frames still in flight: the device may have
        // gone round the ring, and retired frames need nothing.
        let mut written = |ring: Ring, idx: u16, next: (u32, u32), left: u32| {
            let skip = if seq_lt(next.0, left) {
                left.wrapping_sub(next.0)
            } else {
                0
            };
            (skip..next.1.wrapping_sub(next.0))
                .map(|k| {
                    let idx = (u32::from(idx) + k) % u32::from(loaded.w);
                    self.engine.ring(slot, ring, idx as u16)
                })
                .collect()
        };
        let written = Entries {
            inbound: written(
                Ring::In,
                loaded.in_next_idx,
                (loaded.in_next_fseq, now.in_next_fseq),
                now.in_left,
            ),
            outbound: written(
                Ring::Out,
                loaded.out_idx,
                (loaded.out_next_fseq, now.out_next_fseq),
                now.out_left,
            ),
        };
        self.device.add(&taken);
        self.host.absorb(&now, &written, taken);
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
    fn load(&mut self, peer: SocketAddrV4) -> Load {
        if self
            .loaded
            .iter()
            .any(|l| l.is_some_and(|r| r.peer == peer))
        {
            return Load::NotWanted;
        }
        let Some(slot) = self.loaded.iter().position(Option::is_none) else {
            return Load::NotWanted;
        };
        let fits = |rec: &FlowRecord| usize::from(rec.w) <= self.engine.ring_entries();
        let Some((rec, in_flight)) = self.host.flow_record(peer).filter(|(r, _)| fits(r)) else {
            return Load::NotWanted;
        };
        if self.engine.load(slot, &rec, &in_flight) {
            self.loaded[slot] = Some(rec);
            self.slot_taken[slot] = TakenCount::default();
            self.active_seen[slot] = 0;
            Load::Loaded
        } else {
            self.loads_refused += 1;
            Load::Refused {
                entries: in_flight.inbound.len() + in_flight.outbound.len(),
            }
        }
    }
}

/// What became of a load.
enum Load {
    Loaded,
    /// Loaded already, no free slot, or a flow the device cannot hold.
    NotWanted,
    /// With the ring entries the load wrote, or would have.
    Refused {
        entries: usize,
    },
}
