//! One switched connection: the state of docs/frame-switching.md section 2 and what all
//! directions share (set-up, windows, acks, membership). Inbound frames are in `inbound.rs`,
//! outbound frames in `outbound.rs`.

use acp::conn::{seq_le, seq_lt};
use acp::wire::{Flags, Header, Options};

use super::redirect::{FrameAlrm, LegView, MAX_ACTIVE};
use super::{Counters, Kind};

/// Where an emitted segment goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum To {
    Peer,
    Leg(usize),
}

/// A segment the flow sends; the switch fills in ports, addresses and the checksum.
pub(super) struct Emit {
    pub to: To,
    pub header: Header,
    pub payload: Vec<u8>,
}

pub(super) fn header(seq: u32, ack: u32, flags: Flags, window: u16) -> Header {
    Header {
        seq,
        ack,
        flags,
        window,
        ..Header::default()
    }
}

/// Bytes from `a` up to `b`, none when `b` is not beyond `a`.
pub(super) fn gap(a: u32, b: u32) -> u32 {
    if seq_lt(a, b) {
        b.wrapping_sub(a)
    } else {
        0
    }
}

/// The window field a member gets: from the ack we give it to the edge promised to it.
pub(super) fn member_window_field(ack: u32, promise: u32, shift_to: u8) -> u16 {
    (gap(ack, promise) >> shift_to).min(0xffff) as u16
}

/// The peer's window as the members' direction sees it, for sharing out.
pub(super) struct PeerWindow {
    pub out_next: u32,
    pub out_ack: u32,
    pub peer_edge: u32,
    /// Outbound ring entries, and those in flight.
    pub w: u32,
    pub in_flight: u32,
    pub min_out_frame: u16,
}

impl PeerWindow {
    /// Shares the peer's free window among the members still sending (`legs`: each one's next
    /// byte and promised right edge), raising promises, never taking one back, so the members
    /// together never send beyond the peer's right edge; no member holds more than its share of
    /// the peer's window (or of the ring, when that is smaller) unused, so an idle member cannot
    /// starve the others.
    pub fn share(&self, legs: &mut [(u32, u32)]) {
        if legs.is_empty() {
            return;
        }
        let n = legs.len() as u32;
        let unused = |&(out_next, promise): &(u32, u32)| gap(out_next, promise);
        let promised: u32 = legs.iter().map(unused).sum();
        let ring_room = (self.w - self.in_flight).saturating_mul(u32::from(self.min_out_frame));
        let free = gap(self.out_next, self.peer_edge)
            .min(ring_room)
            .saturating_sub(promised);
        let ring = self.w.saturating_mul(u32::from(self.min_out_frame));
        let cap = gap(self.out_ack, self.peer_edge).min(ring) / n;
        let share = free / n;
        for leg in legs {
            let give = share.min(cap.saturating_sub(unused(leg)));
            if give > 0 {
                let (out_next, promise) = leg;
                if seq_lt(*promise, *out_next) {
                    *promise = *out_next;
                }
                *promise = promise.wrapping_add(give);
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FlowState {
    /// SYNs sent to the members; waiting for their SYN-ACKs.
    Opening,
    /// SYN-ACK sent to the peer; waiting for its ack.
    SynAckSent,
    Established,
}

/// Where a connection is in its life, for the host's ageing (docs/frame-switching.md section 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Not yet established with the peer.
    Opening,
    /// Established, including half-closed.
    Established,
    /// Both FINs sent and acked: the switch lingers only to answer a FIN sent again.
    Closed,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Opening => "opening",
            Phase::Established => "established",
            Phase::Closed => "closed",
        }
    }
}

/// An inbound ring slot (one peer frame).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum InSlot {
    #[default]
    Free,
    /// Inside a reserved hole, not seen yet.
    Hole,
    /// Seen: `leg`, `member_seq` hold its first copy's decision.
    Assigned,
}

#[derive(Clone, Copy, Debug, Default)]
pub(super) struct InEntry {
    pub slot: InSlot,
    pub leg: u8,
    pub peer_seq: u32,
    pub member_seq: u32,
    pub len: u16,
}

/// An outbound ring slot (one frame in the peer's sequence space).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct OutEntry {
    pub used: bool,
    pub leg: u8,
    pub member_seq: u32,
    pub peer_seq: u32,
    pub len: u16,
}

/// A gap in the peer's stream, reserved at `base[leg]` in every member's space.
#[derive(Clone, Copy, Debug)]
pub(super) struct Hole {
    pub first_fseq: u32,
    pub frames: u32,
    pub filled: u32,
    pub peer_start: u32,
    pub len: u32,
    pub base: [u32; MAX_ACTIVE],
}

impl Hole {
    pub fn decided(&self) -> bool {
        self.filled == self.frames
    }
}

/// One member of the active set.
#[derive(Clone, Debug)]
pub(super) struct Leg {
    pub member: u16,
    pub live: bool,
    pub synced: bool,
    pub mss: u16,
    /// Units of the windows we advertise to the member, and of the member's windows.
    pub shift_to: u8,
    pub shift_from: u8,
    // Inbound (switch to member), member sequence space.
    pub next: u32,
    pub una: u32,
    pub edge: u32,
    pub fin: Option<u32>,
    pub patch_sent: Option<u32>,
    /// Duplicate acks since the patch was sent: the third sends it again (it was lost).
    pub patch_dups: u8,
    // Outbound (member to switch).
    pub isn: u32,
    pub out_next: u32,
    pub ack: u32,
    pub promise: u32,
    pub fin_out: Option<u32>,
    /// Ack and window field last sent to the member.
    pub sent: (u32, u16),
}

impl Leg {
    fn new(member: u16) -> Leg {
        Leg {
            member,
            live: true,
            synced: false,
            mss: 0,
            shift_to: 0,
            shift_from: 0,
            next: 0,
            una: 0,
            edge: 0,
            fin: None,
            patch_sent: None,
            patch_dups: 0,
            isn: 0,
            out_next: 0,
            ack: 0,
            promise: 0,
            fin_out: None,
            sent: (0, 0),
        }
    }

    pub fn takes_frames(&self) -> bool {
        self.live && self.synced
    }

    /// Bytes the member's window still has room for beyond what it was given.
    pub fn open(&self) -> u32 {
        if seq_lt(self.next, self.edge) {
            self.edge.wrapping_sub(self.next)
        } else {
            0
        }
    }

    pub fn window_field(&self) -> u16 {
        member_window_field(self.ack, self.promise, self.shift_to)
    }
}

/// Limits of a flow.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    pub w: usize,
    pub max_holes: usize,
}

pub(super) struct Flow {
    pub state: FlowState,
    pub limits: Limits,
    pub alrm: FrameAlrm,
    pub offers_sum: bool,
    pub legs: Vec<Leg>,
    // Set-up.
    pub peer_isn: u32,
    pub vip_isn: u32,
    pub peer_syn: Header,
    /// Units of the peer's windows, and of ours to the peer.
    pub peer_shift: u8,
    pub vip_shift: u8,
    // Inbound: the peer's sequence space.
    pub in_ring: Vec<InEntry>,
    pub in_left: u32,
    pub in_next_fseq: u32,
    pub in_next: u32,
    pub in_ack: u32,
    pub holes: Vec<Hole>,
    pub peer_fin: Option<u32>,
    /// Ack and right edge last advertised to the peer.
    pub adv: (u32, u32),
    pub adv_field: u16,
    // Outbound: the peer-facing sequence space.
    pub out_ring: Vec<OutEntry>,
    pub out_left: u32,
    pub out_next_fseq: u32,
    pub out_next: u32,
    pub out_ack: u32,
    pub peer_edge: u32,
    pub peer_wnd_field: u16,
    pub out_fin: Option<u32>,
    /// Smallest frame seen in each direction (initially the largest segment): windows are clamped
    /// to the free ring entries times it, so frames of that size or more never overflow a ring.
    pub min_in_frame: u16,
    pub min_out_frame: u16,
}

impl Flow {
    /// A flow for the peer's SYN with the active set `members`: SYNs go to every member with the
    /// peer's ISN and options.
    pub fn open(
        syn: &Header,
        members: &[u16],
        vip_isn: u32,
        alrm: FrameAlrm,
        offers_sum: bool,
        limits: Limits,
        out: &mut Vec<Emit>,
    ) -> Flow {
        let isn = syn.seq;
        let f = Flow {
            state: FlowState::Opening,
            limits,
            alrm,
            offers_sum,
            legs: members.iter().map(|&m| Leg::new(m)).collect(),
            peer_isn: isn,
            vip_isn,
            peer_syn: *syn,
            peer_shift: 0,
            vip_shift: 0,
            in_ring: vec![InEntry::default(); limits.w],
            in_left: 0,
            in_next_fseq: 0,
            in_next: isn.wrapping_add(1),
            in_ack: isn.wrapping_add(1),
            holes: Vec::new(),
            peer_fin: None,
            adv: (isn.wrapping_add(1), isn.wrapping_add(1)),
            adv_field: 0,
            out_ring: vec![OutEntry::default(); limits.w],
            out_left: 0,
            out_next_fseq: 0,
            out_next: vip_isn.wrapping_add(1),
            out_ack: vip_isn.wrapping_add(1),
            peer_edge: vip_isn.wrapping_add(1).wrapping_add(u32::from(syn.window)),
            peer_wnd_field: syn.window,
            out_fin: None,
            min_in_frame: u16::MAX,
            min_out_frame: syn
                .options
                .mss
                .unwrap_or(acp::wire::max_segment_payload(1500) as u16),
        };
        f.send_syns(out);
        f
    }

    fn send_syns(&self, out: &mut Vec<Emit>) {
        for (i, leg) in self.legs.iter().enumerate() {
            if leg.live && !leg.synced {
                let mut h = header(self.peer_isn, 0, Flags::SYN, self.peer_syn.window);
                h.options = Options {
                    mss: self.peer_syn.options.mss,
                    window_shift: self.peer_syn.options.window_shift,
                    patch: None,
                };
                out.push(Emit {
                    to: To::Leg(i),
                    header: h,
                    payload: Vec::new(),
                });
            }
        }
    }

    /// A SYN from the peer again: the SYNs or the SYN-ACK were lost.
    pub fn on_peer_syn(&mut self, h: &Header, out: &mut Vec<Emit>) -> Kind {
        if h.seq != self.peer_isn || self.state == FlowState::Established {
            return Kind::Malformed;
        }
        self.send_syns(out);
        if self.state == FlowState::SynAckSent {
            self.send_syn_ack(out);
        }
        Kind::Setup
    }

    /// A member's SYN-ACK: take its ISN and options, ack it, and answer the peer once every live
    /// member has answered.
    pub fn on_member_syn_ack(&mut self, li: usize, h: &Header, out: &mut Vec<Emit>) -> Kind {
        if !h.flags.has(Flags::ACK) || h.ack != self.peer_isn.wrapping_add(1) {
            return Kind::Malformed;
        }
        let both_scale = self.peer_syn.options.window_shift.is_some();
        let leg = &mut self.legs[li];
        if !leg.synced {
            let scaled = both_scale && h.options.window_shift.is_some();
            leg.synced = true;
            leg.isn = h.seq;
            leg.mss = h
                .options
                .mss
                .unwrap_or(acp::wire::max_segment_payload(1500) as u16);
            leg.shift_to = if scaled {
                self.peer_syn.options.window_shift.unwrap_or(0)
            } else {
                0
            };
            leg.shift_from = if scaled {
                h.options.window_shift.unwrap_or(0)
            } else {
                0
            };
            let start = self.peer_isn.wrapping_add(1);
            leg.next = start;
            leg.una = start;
            leg.edge = start.wrapping_add(u32::from(h.window));
            leg.out_next = h.seq.wrapping_add(1);
            leg.ack = leg.out_next;
            leg.promise = leg.ack;
        } else if h.seq != leg.isn {
            return Kind::Malformed;
        }
        self.distribute_peer_window();
        self.ack_leg(li, out);
        self.answer_peer(out);
        Kind::Setup
    }

    /// Once every live member answered, the peer gets the SYN-ACK.
    fn answer_peer(&mut self, out: &mut Vec<Emit>) {
        if self.state != FlowState::Opening || !self.legs.iter().all(|l| l.synced || !l.live) {
            return;
        }
        self.state = FlowState::SynAckSent;
        if self.peer_syn.options.window_shift.is_some() {
            let widest = self.legs.iter().map(|l| l.shift_from).max().unwrap_or(0);
            self.peer_shift = self.peer_syn.options.window_shift.unwrap_or(0);
            // Room for the sum of up to eight member windows.
            self.vip_shift = (widest + 3).min(acp::wire::MAX_WINDOW_SHIFT);
        }
        self.send_syn_ack(out);
    }

    fn send_syn_ack(&mut self, out: &mut Vec<Emit>) {
        let mss = self
            .legs
            .iter()
            .filter(|l| l.synced)
            .map(|l| l.mss)
            .min()
            .unwrap_or(0);
        let room = self.inbound_edge().wrapping_sub(self.in_ack);
        let mut h = header(
            self.vip_isn,
            self.peer_isn.wrapping_add(1),
            Flags::SYN | Flags::ACK,
            room.min(0xffff) as u16,
        );
        h.options = Options {
            mss: Some(mss),
            window_shift: self.peer_syn.options.window_shift.map(|_| self.vip_shift),
            patch: None,
        };
        out.push(Emit {
            to: To::Peer,
            header: h,
            payload: Vec::new(),
        });
    }

    /// The peer's ack of our SYN-ACK.
    pub fn on_peer_handshake_ack(&mut self, h: &Header) -> bool {
        if self.state == FlowState::SynAckSent
            && h.flags.has(Flags::ACK)
            && h.ack == self.vip_isn.wrapping_add(1)
        {
            self.state = FlowState::Established;
            true
        } else {
            self.state == FlowState::Established
        }
    }

    pub fn leg_views(&self) -> Vec<LegView> {
        self.legs
            .iter()
            .map(|l| LegView {
                live: l.takes_frames(),
                open: l.open(),
            })
            .collect()
    }

    /// Largest frame the peer sends us: the MSS we gave it.
    pub(super) fn peer_frame_max(&self) -> u32 {
        let mss = self.legs.iter().filter(|l| l.synced).map(|l| l.mss).min();
        u32::from(mss.unwrap_or(0))
    }

    /// The right edge the peer may send up to: every frame beyond `in_next` fits the member it
    /// goes to. Minimum of the members' open windows, or with a window-aware policy the sum of
    /// what each can take whatever the frame sizes.
    fn inbound_edge(&self) -> u32 {
        let live = self.legs.iter().filter(|l| l.takes_frames());
        let free_slots = self.limits.w as u32 - self.in_next_fseq.wrapping_sub(self.in_left);
        let ring_room = free_slots.saturating_mul(u32::from(
            self.min_in_frame.min(self.peer_frame_max() as u16),
        ));
        let room = if self.offers_sum {
            let slack = self.peer_frame_max().saturating_sub(1);
            live.map(|l| l.open().saturating_sub(slack)).sum::<u32>()
        } else {
            live.map(Leg::open).min().unwrap_or(0)
        };
        self.in_next.wrapping_add(room.min(ring_room))
    }

    /// The ack we owe the peer: its bytes every member acked, then its FIN once every live member
    /// acked ours.
    pub fn peer_ack(&self) -> u32 {
        match self.peer_fin {
            Some(f)
                if self.in_ack == f
                    && self
                        .legs
                        .iter()
                        .filter(|l| l.live)
                        .all(|l| l.fin.is_some_and(|lf| seq_lt(lf, l.una))) =>
            {
                f.wrapping_add(1)
            }
            _ => self.in_ack,
        }
    }

    /// Window field for the peer. While a hole keeps the ack in place the edge stays where it
    /// was, so the acks members send meanwhile reach the peer as duplicate acks (its fast
    /// retransmit counts only acks with an unchanged window).
    pub fn peer_window_field(&self) -> u16 {
        let ack = self.peer_ack();
        let mut edge = self.inbound_edge();
        if !self.holes.is_empty() && ack == self.adv.0 && seq_lt(self.adv.1, edge) {
            edge = self.adv.1;
        }
        let w = if seq_lt(ack, edge) {
            edge.wrapping_sub(ack)
        } else {
            0
        };
        (w >> self.vip_shift).min(0xffff) as u16
    }

    /// A segment to the peer carrying the current ack and window.
    pub fn send_peer(&mut self, seq: u32, flags: Flags, payload: Vec<u8>, out: &mut Vec<Emit>) {
        let ack = self.peer_ack();
        let field = self.peer_window_field();
        self.adv = (ack, ack.wrapping_add(u32::from(field) << self.vip_shift));
        self.adv_field = field;
        out.push(Emit {
            to: To::Peer,
            header: header(seq, ack, flags | Flags::ACK, field),
            payload,
        });
    }

    /// A pure ack to the peer if its ack or window changed, or `force` (a duplicate ack).
    pub fn ack_peer(&mut self, force: bool, out: &mut Vec<Emit>) {
        if self.state != FlowState::Established {
            return;
        }
        let changed = self.peer_ack() != self.adv.0 || self.peer_window_field() != self.adv_field;
        if changed || force {
            let seq = self.out_seq_now();
            self.send_peer(seq, Flags::ACK, Vec::new(), out);
        }
    }

    /// Sequence number of a segment to the peer carrying no data.
    fn out_seq_now(&self) -> u32 {
        match self.out_fin {
            Some(f) if seq_lt(f, self.out_ack) => f.wrapping_add(1),
            _ => self.out_next,
        }
    }

    /// Shares the peer's free window among the live members ([`PeerWindow::share`]). A member
    /// whose FIN is in sends nothing more: its unused promise is free again.
    pub fn distribute_peer_window(&mut self) {
        let live: Vec<usize> = (0..self.legs.len())
            .filter(|&i| self.legs[i].takes_frames() && self.legs[i].fin_out.is_none())
            .collect();
        let mut legs: Vec<(u32, u32)> = live
            .iter()
            .map(|&i| (self.legs[i].out_next, self.legs[i].promise))
            .collect();
        self.peer_window().share(&mut legs);
        for (&i, (_, promise)) in live.iter().zip(legs) {
            self.legs[i].promise = promise;
        }
    }

    fn peer_window(&self) -> PeerWindow {
        PeerWindow {
            out_next: self.out_next,
            out_ack: self.out_ack,
            peer_edge: self.peer_edge,
            w: self.limits.w as u32,
            in_flight: self.out_next_fseq.wrapping_sub(self.out_left),
            min_out_frame: self.min_out_frame,
        }
    }

    /// The sequence number of a segment to a member carrying no data.
    fn leg_seq_now(&self, li: usize) -> u32 {
        let l = &self.legs[li];
        match l.fin {
            Some(f) => f.wrapping_add(1),
            None => l.next,
        }
    }

    /// A segment to a member carrying its current ack, window and `patch`.
    pub fn send_leg(
        &mut self,
        li: usize,
        seq: Option<u32>,
        flags: Flags,
        payload: Vec<u8>,
        patch: Option<u32>,
        out: &mut Vec<Emit>,
    ) {
        let seq = seq.unwrap_or_else(|| self.leg_seq_now(li));
        let l = &mut self.legs[li];
        let field = l.window_field();
        l.sent = (l.ack, field);
        let mut h = header(seq, l.ack, flags | Flags::ACK, field);
        h.options.patch = patch;
        out.push(Emit {
            to: To::Leg(li),
            header: h,
            payload,
        });
    }

    /// A pure ack to a member, whatever changed.
    pub fn ack_leg(&mut self, li: usize, out: &mut Vec<Emit>) {
        self.send_leg(li, None, Flags::ACK, Vec::new(), None, out);
    }

    /// Pure acks to the members whose ack or window changed and that got no segment in `served`.
    pub fn ack_legs(&mut self, served: &[bool], out: &mut Vec<Emit>) {
        for (li, &done) in served.iter().enumerate() {
            let l = &self.legs[li];
            if l.takes_frames() && !done && l.sent != (l.ack, l.window_field()) {
                self.ack_leg(li, out);
            }
        }
    }

    /// The peer acked up to `h.ack` in the peer-facing space: frames below it are retired and each
    /// member's ack moves to the end of its last retired frame. Returns whether it was a duplicate
    /// ack (same ack and window, data outstanding).
    pub fn on_peer_ack(&mut self, h: &Header, pure: bool) -> bool {
        if !h.flags.has(Flags::ACK) {
            return false;
        }
        let a = h.ack;
        let top = self.out_fin.map_or(self.out_next, |f| f.wrapping_add(1));
        if seq_lt(a, self.out_ack) || seq_lt(top, a) {
            return false;
        }
        let dup = pure
            && a == self.out_ack
            && h.window == self.peer_wnd_field
            && self.out_left != self.out_next_fseq;
        let w = self.limits.w;
        while self.out_left != self.out_next_fseq {
            let e = self.out_ring[self.out_left as usize % w];
            if !seq_le(e.peer_seq.wrapping_add(u32::from(e.len)), a) {
                break;
            }
            let l = &mut self.legs[e.leg as usize];
            let end = e.member_seq.wrapping_add(u32::from(e.len));
            if seq_lt(l.ack, end) {
                l.ack = end;
            }
            self.out_ring[self.out_left as usize % w].used = false;
            self.out_left = self.out_left.wrapping_add(1);
        }
        if self.out_fin.is_some_and(|f| seq_lt(f, a)) {
            for l in &mut self.legs {
                if let Some(f) = l.fin_out {
                    l.ack = f.wrapping_add(1);
                }
            }
        }
        self.ack_early_fins();
        self.out_ack = a;
        self.peer_edge = a.wrapping_add(u32::from(h.window) << self.peer_shift);
        self.peer_wnd_field = h.window;
        self.distribute_peer_window();
        dup
    }

    /// A member whose FIN is in and whose frames the peer all acked gets its FIN acked while
    /// another member still sends: it would otherwise wait for the slowest member and time out.
    /// The last member's FIN stays unacked until the peer acks the merged FIN, so its
    /// retransmissions bring that FIN again if it is lost (the switch has no timers).
    pub fn ack_early_fins(&mut self) {
        let sending = self
            .legs
            .iter()
            .filter(|l| l.takes_frames() && l.fin_out.is_none())
            .count();
        if sending == 0 {
            return;
        }
        for l in &mut self.legs {
            if let Some(f) = l.fin_out {
                if l.ack == f {
                    l.ack = f.wrapping_add(1);
                }
            }
        }
    }

    /// A member acked up to `h.ack` in its space, with its window.
    pub fn on_member_ack(&mut self, li: usize, h: &Header) -> bool {
        let l = &mut self.legs[li];
        if !h.flags.has(Flags::ACK) {
            return false;
        }
        let top = l.fin.map_or(l.next, |f| f.wrapping_add(1));
        if seq_lt(h.ack, l.una) || seq_lt(top, h.ack) {
            return false;
        }
        let advanced = seq_lt(l.una, h.ack);
        l.una = h.ack;
        l.edge = h.ack.wrapping_add(u32::from(h.window) << l.shift_from);
        self.advance_in();
        advanced
    }

    /// Retires inbound frames every member acked; frees holes all members are past.
    pub fn advance_in(&mut self) {
        let w = self.limits.w;
        while self.in_left != self.in_next_fseq {
            let e = self.in_ring[self.in_left as usize % w];
            let l = &self.legs[e.leg as usize];
            let end = e.member_seq.wrapping_add(u32::from(e.len));
            // A removed member's acks still count: what it acked was delivered.
            if e.slot != InSlot::Assigned || !seq_le(end, l.una) {
                break;
            }
            self.in_ack = e.peer_seq.wrapping_add(u32::from(e.len));
            self.in_ring[self.in_left as usize % w].slot = InSlot::Free;
            self.in_left = self.in_left.wrapping_add(1);
        }
        let (in_left, legs) = (self.in_left, &self.legs);
        self.holes.retain(|h| {
            let retired = in_left.wrapping_sub(h.first_fseq) >= h.frames;
            let passed = legs
                .iter()
                .enumerate()
                .all(|(i, l)| !l.live || seq_le(h.base[i].wrapping_add(h.len), l.una));
            !(retired && passed)
        });
    }

    pub fn phase(&self) -> Phase {
        if self.state != FlowState::Established {
            return Phase::Opening;
        }
        let peer_fin_acked = self
            .peer_fin
            .is_some_and(|f| self.peer_ack() == f.wrapping_add(1));
        let our_fin_acked = self.out_fin.is_some_and(|f| seq_lt(f, self.out_ack));
        if peer_fin_acked && our_fin_acked {
            Phase::Closed
        } else {
            Phase::Established
        }
    }

    /// RST to the peer and every live member; the flow is over.
    pub fn reset_all(&mut self, from_peer: bool, out: &mut Vec<Emit>) {
        for li in 0..self.legs.len() {
            if self.legs[li].live && self.legs[li].synced {
                let seq = self.leg_seq_now(li);
                out.push(Emit {
                    to: To::Leg(li),
                    header: header(seq, 0, Flags::RST, 0),
                    payload: Vec::new(),
                });
            }
        }
        if !from_peer {
            let seq = self.out_seq_now();
            out.push(Emit {
                to: To::Peer,
                header: header(seq, 0, Flags::RST, 0),
                payload: Vec::new(),
            });
        }
    }

    /// The member of leg `li` failed: it takes no more frames, its frames the peer has not acked
    /// are replaced by null frames, and its unacked inbound frames go to other members when the
    /// peer sends them again. Returns false when no member is left (the flow was reset).
    pub fn remove_leg(&mut self, li: usize, c: &mut Counters, out: &mut Vec<Emit>) -> bool {
        self.legs[li].live = false;
        if !self.legs.iter().any(|l| l.live) {
            self.reset_all(false, out);
            return false;
        }
        if self.state == FlowState::Opening {
            // Its SYN-ACK may have been the one missing.
            self.answer_peer(out);
            return true;
        }
        self.null_fill(li, u32::MAX, c, out);
        self.advance_in();
        self.finish_out(out);
        self.ack_peer(false, out);
        true
    }
}
