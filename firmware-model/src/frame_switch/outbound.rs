//! Ensemble to peer (docs/frame-switching.md section 6): member frames are merged into the peer's
//! sequence space and renumbered; retransmissions find their first copy's place in the ring.

use acp::conn::{seq_le, seq_lt};
use acp::wire::{self, Flags, Segment, FRAME_NULL};

use super::flow::{Emit, Flow, FlowState, OutEntry};
use super::{Counters, Kind};

/// A frame to the peer: its place in the peer's space and its bytes.
struct Placed {
    peer_seq: u32,
    fseq: u32,
    flags: u8,
    data: std::ops::Range<usize>,
}

impl Flow {
    /// A segment from leg `li` (not a SYN): its ack and window, frames and FIN.
    pub fn on_member_segment(
        &mut self,
        li: usize,
        seg: &Segment,
        c: &mut Counters,
        out: &mut Vec<Emit>,
    ) -> Kind {
        let h = seg.header;
        if h.flags.has(Flags::RST) {
            self.reset_all(false, out);
            return Kind::Close;
        }
        if self.state != FlowState::Established {
            // Members speak after the peer's first ack; a member's early segment comes again.
            return Kind::Setup;
        }
        let pure = seg.payload.is_empty() && !h.flags.has(Flags::FIN);
        let edge_before = self.legs[li].edge;
        let advanced = self.on_member_ack(li, &h);
        // A duplicate ack as RFC 5681 counts one: pure, same ack and same window. A window update
        // (the member's application read) is not one, and must not reach the peer as one.
        let member_dup = pure && !advanced && self.legs[li].edge == edge_before;
        let mut kind = if seg.payload.is_empty() {
            Kind::OutAck
        } else {
            Kind::OutData
        };
        let mut placed = Vec::new();
        let mut chain = None;
        let new_from = self.out_next_fseq;
        for f in seg.frames() {
            let ms = h.seq.wrapping_add(f.offset as u32);
            let k = self.place(li, ms, &f, &mut chain, &mut placed, c);
            kind = kind.max(k);
            if k == Kind::Dropped {
                break;
            }
        }
        if h.flags.has(Flags::FIN) {
            let fin = h.seq.wrapping_add(seg.payload.len() as u32);
            let l = &mut self.legs[li];
            if fin == l.out_next && l.fin_out.is_none() {
                l.fin_out = Some(fin);
            }
            self.ack_early_fins();
            kind = kind.max(Kind::Close);
        }
        let segments = self.send_placed(seg.payload, &placed, out);
        if segments > 1 {
            kind = kind.max(Kind::OutSplit);
        }
        if h.flags.has(Flags::FIN) {
            self.finish_out(out);
        }
        // A member waiting at a decided hole gets its patch (again, if it keeps waiting).
        if self.send_patch(li, member_dup, c, out) {
            kind = kind.max(Kind::Patch);
        }
        if segments == 0 {
            // A member's duplicate ack while peer data is outstanding is the peer's duplicate ack.
            let dup = member_dup && self.in_left != self.in_next_fseq;
            self.ack_peer(dup, out);
        }
        if !seg.payload.is_empty() && segments == 0 {
            // Nothing went on (the peer had it, or no room): the member still gets the ack a
            // receiver sends for every data segment.
            self.ack_leg(li, out);
        } else if self.fin_sent_again(li, &h) {
            // Our ack of its FIN was lost: without it again the member retries until it gives up
            // (the switch has no timers to resend it).
            self.ack_leg(li, out);
        } else if self.waits_behind_another(li, &placed, new_from) {
            // The ack a receiver sends for data beyond a hole: the connection is alive.
            self.ack_leg(li, out);
        } else if !pure {
            // The peer's ack of these frames answers them; a change of ours goes at once.
            self.ack_leg_if_changed(li, out);
        }
        kind
    }

    /// Whether leg `li` sent frames again (placed below `new_from`) that wait in the peer's stream
    /// behind another member's frame the peer has not acked: the peer's duplicate acks go to that
    /// member (section 6), so this one would hear nothing until that frame got through, and time
    /// out until it gave up.
    fn waits_behind_another(&self, li: usize, placed: &[Placed], new_from: u32) -> bool {
        placed.iter().any(|p| seq_lt(p.fseq, new_from))
            && self.out_left != self.out_next_fseq
            && usize::from(self.out_ring[self.out_left as usize % self.limits.w].leg) != li
    }

    /// A FIN from leg `li` that we acked already, and told the member so.
    fn fin_sent_again(&self, li: usize, h: &wire::Header) -> bool {
        let l = &self.legs[li];
        h.flags.has(Flags::FIN)
            && l.fin_out.is_some_and(|f| seq_lt(f, l.ack))
            && l.sent == (l.ack, l.window_field())
    }

    fn ack_leg_if_changed(&mut self, li: usize, out: &mut Vec<Emit>) {
        let mut served = vec![true; self.legs.len()];
        served[li] = false;
        self.ack_legs(&served, out);
    }

    /// Places one member frame in the peer's space. `chain`: the ring entry of the segment's
    /// previous retransmitted frame; the next one is looked up from there.
    fn place(
        &mut self,
        li: usize,
        ms: u32,
        f: &wire::Frame,
        chain: &mut Option<u32>,
        placed: &mut Vec<Placed>,
        c: &mut Counters,
    ) -> Kind {
        let len = f.wire_len() as u32;
        self.min_out_frame = self.min_out_frame.min(len as u16);
        let w = self.limits.w;
        let data = f.offset..f.offset + f.wire_len();
        let l = &self.legs[li];
        if ms == l.out_next {
            if self.out_next_fseq.wrapping_sub(self.out_left) as usize >= w {
                c.ring_full_frames += 1;
                return Kind::Dropped;
            }
            let fseq = self.out_next_fseq;
            self.out_ring[fseq as usize % w] = OutEntry {
                used: true,
                leg: li as u8,
                member_seq: ms,
                peer_seq: self.out_next,
                len: len as u16,
            };
            placed.push(Placed {
                peer_seq: self.out_next,
                fseq,
                flags: f.flags,
                data,
            });
            self.out_next = self.out_next.wrapping_add(len);
            self.out_next_fseq = fseq.wrapping_add(1);
            self.legs[li].out_next = ms.wrapping_add(len);
            return Kind::OutData;
        }
        if seq_lt(l.out_next, ms) {
            c.member_gap_frames += 1;
            return Kind::Dropped;
        }
        // A retransmission starts at the member's oldest entry and follows its chain: the entry
        // found is then the first of this member from where the search starts.
        let mut first_of_leg = true;
        let mut fseq = chain.map_or(self.out_left, |f| f.wrapping_add(1));
        while fseq != self.out_next_fseq {
            let e = self.out_ring[fseq as usize % w];
            if e.leg as usize == li {
                if e.member_seq == ms && u32::from(e.len) == len {
                    *chain = Some(fseq);
                    placed.push(Placed {
                        peer_seq: e.peer_seq,
                        fseq,
                        flags: f.flags,
                        data,
                    });
                    return if first_of_leg {
                        Kind::OutRtx
                    } else {
                        Kind::OutWalk
                    };
                }
                first_of_leg = false;
            }
            fseq = fseq.wrapping_add(1);
        }
        // The peer acked it already.
        Kind::Stale
    }

    /// Sends placed frames to the peer, one segment per run contiguous in the peer's space, each
    /// frame renumbered. Returns the number of segments.
    fn send_placed(&mut self, payload: &[u8], placed: &[Placed], out: &mut Vec<Emit>) -> usize {
        let mut n = 0;
        let mut i = 0;
        while i < placed.len() {
            let seq = placed[i].peer_seq;
            let mut end = seq;
            let mut bytes = Vec::new();
            while i < placed.len() && placed[i].peer_seq == end {
                let p = &placed[i];
                let data = &payload[p.data.clone()][wire::FRAME_HEADER_LEN..];
                wire::emit_frame(p.fseq, p.flags, data, &mut bytes);
                end = end.wrapping_add(p.data.len() as u32);
                i += 1;
            }
            let flags = if self.out_fin == Some(end) {
                Flags::FIN
            } else {
                Flags::ACK
            };
            self.send_peer(seq, flags, bytes, out);
            n += 1;
        }
        n
    }

    /// The peer's FIN once every live member's FIN and frames are in; sent again while unacked.
    pub fn finish_out(&mut self, out: &mut Vec<Emit>) {
        let all = self
            .legs
            .iter()
            .filter(|l| l.live)
            .all(|l| l.fin_out.is_some_and(|f| f == l.out_next));
        if !all || self.state != FlowState::Established {
            return;
        }
        let fin = *self.out_fin.get_or_insert(self.out_next);
        if !seq_lt(fin, self.out_ack) {
            self.send_peer(fin, Flags::FIN, Vec::new(), out);
        }
    }

    /// Null frames in place of leg `li`'s frames the peer has not acked, up to `count` of them.
    pub fn null_fill(&mut self, li: usize, count: u32, c: &mut Counters, out: &mut Vec<Emit>) {
        let w = self.limits.w;
        let mut fseq = self.out_left;
        let mut left = count;
        while fseq != self.out_next_fseq && left > 0 {
            let e = self.out_ring[fseq as usize % w];
            if e.leg as usize == li && seq_le(self.out_ack, e.peer_seq) {
                let mut bytes = Vec::new();
                let zeros = vec![0; e.len as usize - wire::FRAME_HEADER_LEN];
                wire::emit_frame(fseq, FRAME_NULL, &zeros, &mut bytes);
                self.send_peer(e.peer_seq, Flags::ACK, bytes, out);
                c.null_frames_sent += 1;
                left -= 1;
            }
            fseq = fseq.wrapping_add(1);
        }
    }

    /// The peer's ack (duplicate or not) stopped at the frame `out_left`: its member gets the
    /// duplicate ack that makes it retransmit, or, when removed, the peer gets a null frame.
    /// Returns whether a null frame went out.
    pub fn answer_peer_dup(&mut self, c: &mut Counters, out: &mut Vec<Emit>) -> bool {
        if self.out_left == self.out_next_fseq {
            return false;
        }
        let e = self.out_ring[self.out_left as usize % self.limits.w];
        let li = e.leg as usize;
        if self.legs[li].live {
            self.ack_leg(li, out);
            false
        } else {
            self.null_fill(li, 1, c, out);
            true
        }
    }
}
