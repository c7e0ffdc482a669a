//! Peer to ensemble (docs/frame-switching.md section 5): each peer frame gets a member and that
//! member's next sequence number; gaps are reserved in every member's space and released with
//! redirect patches once decided.

use acp::conn::{seq_le, seq_lt};
use acp::wire::{Flags, Frame, Segment, FRAME_HEADER_LEN};

use super::flow::{Emit, Flow, Hole, InEntry, InSlot};
use super::redirect::MAX_ACTIVE;
use super::{Counters, Kind};

/// Duplicate acks of a leg that send its patch again. A peer retransmission counts as many: a patch
/// lost on the way to a leg with nothing more to receive leaves the leg without duplicate acks to
/// send, and then only the peer, which keeps resending at its ack, says the leg is still waiting.
pub const PATCH_AGAIN: u8 = 3;

/// A frame to forward: its leg, member sequence number and bytes in the peer's payload.
struct Item {
    leg: usize,
    member_seq: u32,
    bytes: std::ops::Range<usize>,
}

impl Flow {
    /// The frames and FIN of a peer segment in an established flow (its ack already taken).
    pub fn on_peer_data(&mut self, seg: &Segment, c: &mut Counters, out: &mut Vec<Emit>) -> Kind {
        let h = seg.header;
        let mut kind = if seg.payload.is_empty() {
            Kind::InAck
        } else {
            Kind::InData
        };
        // Data below the newest: resent by the peer, whose ack is held (or a late copy).
        let peer_rtx = !seg.payload.is_empty() && seq_lt(h.seq, self.in_next);
        let mut items = Vec::new();
        for f in seg.frames() {
            let pseq = h.seq.wrapping_add(f.offset as u32);
            let (k, item) = self.take_frame(pseq, &f, c);
            kind = kind.max(k);
            if k == Kind::Malformed {
                return k;
            }
            items.extend(item);
        }
        let mut fin_legs = Vec::new();
        if h.flags.has(Flags::FIN) {
            let fin = h.seq.wrapping_add(seg.payload.len() as u32);
            if self.peer_fin.is_none() && fin == self.in_next {
                self.peer_fin = Some(fin);
                for l in self.legs.iter_mut().filter(|l| l.takes_frames()) {
                    l.fin = Some(l.next);
                }
            }
            if self.peer_fin == Some(fin) {
                fin_legs = (0..self.legs.len())
                    .filter(|&i| {
                        let l = &self.legs[i];
                        l.takes_frames() && l.fin.is_some_and(|f| seq_le(l.una, f))
                    })
                    .collect();
            }
            kind = kind.max(Kind::Close);
        }
        let patches: Vec<Option<u32>> = (0..self.legs.len())
            .map(|li| self.new_patch(li, if peer_rtx { PATCH_AGAIN } else { 0 }))
            .collect();
        let mut served = vec![false; self.legs.len()];
        let mut segments = 0;
        for li in 0..self.legs.len() {
            let mut patch = patches[li];
            let mut run: Option<(u32, u32, Vec<u8>)> = None;
            for it in items.iter().filter(|it| it.leg == li) {
                let len = it.bytes.len() as u32;
                match &mut run {
                    Some((_, end, bytes)) if *end == it.member_seq => {
                        bytes.extend_from_slice(&seg.payload[it.bytes.clone()]);
                        *end = end.wrapping_add(len);
                    }
                    _ => {
                        if let Some((seq, _, bytes)) = run.take() {
                            self.send_leg(li, Some(seq), Flags::ACK, bytes, patch.take(), out);
                            segments += 1;
                        }
                        run = Some((
                            it.member_seq,
                            it.member_seq.wrapping_add(len),
                            seg.payload[it.bytes.clone()].to_vec(),
                        ));
                    }
                }
            }
            let fin = fin_legs.contains(&li);
            if let Some((seq, end, bytes)) = run.take() {
                let flags = if fin && self.legs[li].fin == Some(end) {
                    Flags::FIN
                } else {
                    Flags::ACK
                };
                self.send_leg(li, Some(seq), flags, bytes, patch.take(), out);
                segments += 1;
                served[li] = true;
                if flags == Flags::FIN {
                    continue;
                }
            }
            if fin {
                let seq = self.legs[li].fin;
                self.send_leg(li, seq, Flags::FIN, Vec::new(), patch.take(), out);
                served[li] = true;
            } else if patch.is_some() {
                self.send_leg(li, None, Flags::ACK, Vec::new(), patch.take(), out);
                served[li] = true;
            }
        }
        if segments > 1 {
            kind = kind.max(Kind::Split);
        }
        if patches.iter().any(Option::is_some) {
            c.patches_sent += patches.iter().flatten().count() as u64;
            kind = kind.max(Kind::Patch);
        }
        self.ack_legs(&served, out);
        if items.is_empty() && !seg.payload.is_empty() {
            // Nothing went on (duplicates, or dropped): the peer still gets the ack a receiver sends.
            self.ack_peer(true, out);
        }
        kind
    }

    /// Where the frame at peer byte `pseq` goes, and how it was decided.
    fn take_frame(&mut self, pseq: u32, f: &Frame, c: &mut Counters) -> (Kind, Option<Item>) {
        let len = f.wire_len() as u32;
        self.min_in_frame = self.min_in_frame.min(len as u16);
        let bytes = f.offset..f.offset + f.wire_len();
        let w = self.limits.w;
        let fseq = f.fseq;
        if seq_lt(fseq, self.in_left) {
            return (Kind::Stale, None);
        }
        let item = |leg: usize, member_seq: u32| Item {
            leg,
            member_seq,
            bytes: bytes.clone(),
        };
        if seq_lt(fseq, self.in_next_fseq) {
            let e = self.in_ring[fseq as usize % w];
            return match e.slot {
                InSlot::Assigned if e.peer_seq != pseq || u32::from(e.len) != len => {
                    (Kind::Malformed, None)
                }
                InSlot::Assigned if self.legs[e.leg as usize].takes_frames() => {
                    (Kind::InRtx, Some(item(e.leg as usize, e.member_seq)))
                }
                // A removed member acked it: it was delivered, and must not be delivered twice.
                InSlot::Assigned
                    if seq_le(
                        e.member_seq.wrapping_add(len),
                        self.legs[e.leg as usize].una,
                    ) =>
                {
                    (Kind::Stale, None)
                }
                InSlot::Assigned => {
                    let Some(li) = self.alrm.redirect(f.data, &self.leg_views()) else {
                        return (Kind::Dropped, None);
                    };
                    let ms = self.assign_next(li, len);
                    let slot = &mut self.in_ring[fseq as usize % w];
                    slot.leg = li as u8;
                    slot.member_seq = ms;
                    c.frames_resteered += 1;
                    (Kind::Resteer, Some(item(li, ms)))
                }
                InSlot::Hole => self
                    .fill_hole(fseq, pseq, len, f)
                    .map_or((Kind::Malformed, None), |(li, ms)| {
                        (Kind::HoleFill, Some(item(li, ms)))
                    }),
                InSlot::Free => (Kind::Malformed, None),
            };
        }
        if fseq.wrapping_sub(self.in_left) as usize >= w {
            c.ring_full_frames += 1;
            return (Kind::Dropped, None);
        }
        let mut kind = Kind::InData;
        if fseq != self.in_next_fseq {
            let frames = fseq.wrapping_sub(self.in_next_fseq);
            let gap = pseq.wrapping_sub(self.in_next);
            if !seq_lt(self.in_next, pseq) || gap < frames.saturating_mul(FRAME_HEADER_LEN as u32) {
                return (Kind::Malformed, None);
            }
            if self.holes.len() >= self.limits.max_holes {
                c.hole_limit_frames += 1;
                return (Kind::Dropped, None);
            }
            self.open_hole(frames, gap);
            c.holes_opened += 1;
            kind = Kind::HoleOpen;
        } else if pseq != self.in_next {
            return (Kind::Malformed, None);
        }
        let Some(li) = self.alrm.redirect(f.data, &self.leg_views()) else {
            return (Kind::Dropped, None);
        };
        let ms = self.assign_next(li, len);
        self.in_ring[fseq as usize % w] = InEntry {
            slot: InSlot::Assigned,
            leg: li as u8,
            peer_seq: pseq,
            member_seq: ms,
            len: len as u16,
        };
        self.in_next = pseq.wrapping_add(len);
        self.in_next_fseq = fseq.wrapping_add(1);
        (kind, Some(item(li, ms)))
    }

    /// The next `len` bytes of leg `li`'s space.
    fn assign_next(&mut self, li: usize, len: u32) -> u32 {
        let l = &mut self.legs[li];
        let ms = l.next;
        l.next = ms.wrapping_add(len);
        ms
    }

    /// Reserves the `gap` bytes of `frames` missing peer frames at the end of every member's space.
    fn open_hole(&mut self, frames: u32, gap: u32) {
        let mut base = [0; MAX_ACTIVE];
        for (i, l) in self.legs.iter_mut().enumerate() {
            base[i] = l.next;
            l.next = l.next.wrapping_add(gap);
        }
        let w = self.limits.w;
        for k in 0..frames {
            let slot = &mut self.in_ring[self.in_next_fseq.wrapping_add(k) as usize % w];
            *slot = InEntry {
                slot: InSlot::Hole,
                ..InEntry::default()
            };
        }
        self.holes.push(Hole {
            first_fseq: self.in_next_fseq,
            frames,
            filled: 0,
            peer_start: self.in_next,
            len: gap,
            base,
        });
    }

    /// A frame of a reserved hole: its member takes it at the same offset in its reservation.
    fn fill_hole(&mut self, fseq: u32, pseq: u32, len: u32, f: &Frame) -> Option<(usize, u32)> {
        let hi = self.holes.iter().position(|h| {
            fseq.wrapping_sub(h.first_fseq) < h.frames
                && seq_le(h.peer_start, pseq)
                && seq_le(pseq.wrapping_add(len), h.peer_start.wrapping_add(h.len))
        })?;
        let li = self.alrm.redirect(f.data, &self.leg_views())?;
        let h = &mut self.holes[hi];
        let ms = h.base[li].wrapping_add(pseq.wrapping_sub(h.peer_start));
        h.filled += 1;
        self.in_ring[fseq as usize % self.limits.w] = InEntry {
            slot: InSlot::Assigned,
            leg: li as u8,
            peer_seq: pseq,
            member_seq: ms,
            len: len as u16,
        };
        Some((li, ms))
    }

    /// How far leg `li` may skip from its ack: over every byte of decided holes that none of its
    /// frames occupies, up to its next own frame or an undecided hole.
    fn patch_target(&self, li: usize) -> Option<u32> {
        let l = &self.legs[li];
        if !l.takes_frames() {
            return None;
        }
        let w = self.limits.w;
        let mut pos = l.una;
        while let Some(h) = self
            .holes
            .iter()
            .find(|h| seq_le(h.base[li], pos) && seq_lt(pos, h.base[li].wrapping_add(h.len)))
        {
            if !h.decided() {
                break;
            }
            let own = (0..h.frames)
                .map(|k| h.first_fseq.wrapping_add(k))
                .filter(|&fseq| !seq_lt(fseq, self.in_left))
                .map(|fseq| self.in_ring[fseq as usize % w])
                .filter(|e| e.slot == InSlot::Assigned && e.leg as usize == li)
                .map(|e| e.member_seq)
                // Re-steered frames of the hole sit beyond it: they are not in the way.
                .filter(|&s| seq_le(pos, s) && seq_lt(s, h.base[li].wrapping_add(h.len)))
                .min_by_key(|&s| s.wrapping_sub(pos));
            match own {
                Some(s) => {
                    pos = s;
                    break;
                }
                None => pos = h.base[li].wrapping_add(h.len),
            }
        }
        (pos != l.una).then_some(pos)
    }

    /// The patch leg `li` should get now: a new target, or the same again once it was lost, which
    /// `dups` events of this kind tell (the leg's duplicate ack counts one, so its third sends the
    /// patch again; a peer retransmission [`PATCH_AGAIN`]). Marks it sent.
    pub fn new_patch(&mut self, li: usize, dups: u8) -> Option<u32> {
        let p = self.patch_target(li)?;
        let l = &mut self.legs[li];
        if l.patch_sent == Some(p) {
            l.patch_dups = l.patch_dups.saturating_add(dups);
            if l.patch_dups < PATCH_AGAIN {
                return None;
            }
        }
        l.patch_sent = Some(p);
        l.patch_dups = 0;
        Some(p)
    }

    /// Sends leg `li` its patch, if it has one due, on a pure ack.
    pub fn send_patch(
        &mut self,
        li: usize,
        dup: bool,
        c: &mut Counters,
        out: &mut Vec<Emit>,
    ) -> bool {
        let Some(p) = self.new_patch(li, dup.into()) else {
            return false;
        };
        c.patches_sent += 1;
        self.send_leg(li, None, Flags::ACK, Vec::new(), Some(p), out);
        true
    }
}
