//! The Verilated ACP engine (`hw/rtl/anypoint_acp_out.sv`) as a frame-switch
//! [`Engine`]: the host loads and reads flow records and ring entries through its record ports and
//! sends segments through its streams, 8 bytes a beat, with egress backpressure. The host's ports
//! wait for the engine to be idle; [`RtlAcpOut::send_batch`] streams segments back to back.

use std::marker::PhantomData;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::raw::c_void;

use anypoint_model::frame_switch::fast::{
    Engine, Entries, FastLeg, FlowRecord, Ring, RingEntry, TakenCount, ENGINE_RING as RING,
    ENGINE_SLOTS as SLOTS,
};
use anypoint_model::frame_switch::{FrameAlrm, Packet, Policy, MAX_ACTIVE};
use anypoint_model::hash::HashKey;

use crate::prng::Prng;

const RECORD_WORDS: usize = 112;
const RING_WORDS: usize = 3;
/// Clocks a segment may take through the engine before the simulation is declared hung.
const SEGMENT_CYCLES: u64 = 100_000;

#[repr(C)]
struct AcpIo {
    rst: u8,
    in_data: u64,
    in_keep: u8,
    in_valid: u8,
    in_last: u8,
    in_src: u32,
    in_dst: u32,
    out_ready: u8,
    rec_load: u8,
    rec_unload: u8,
    rec_slot: u8,
    rec_wdata: [u32; RECORD_WORDS],
    ring_slot: u8,
    ring_out: u8,
    ring_idx: u32,
    ring_wr: u8,
    ring_wr_out: u8,
    ring_wr_slot: u8,
    ring_wr_idx: u32,
    ring_wr_data: [u32; RING_WORDS],
    in_ready: u8,
    out_data: u64,
    out_keep: u8,
    out_valid: u8,
    out_last: u8,
    out_punt: u8,
    out_src: u32,
    out_dst: u32,
    rec_rdata: [u32; RECORD_WORDS],
    rec_valid: u8,
    rec_taken: [u32; 6],
    ring_rdata: [u32; RING_WORDS],
    seg_done: u8,
    idle: u8,
}

extern "C" {
    fn acp_new() -> *mut c_void;
    fn acp_free(h: *mut c_void);
    fn acp_cycle(h: *mut c_void, io: *mut AcpIo);
}

/// Bit fields of the record and ring entry layouts (docs/frame-switching.md section 9a).
struct Bits<'a>(&'a mut [u32]);

impl Bits<'_> {
    fn put(&mut self, (lsb, width): Field, v: u64) {
        for i in 0..width {
            let b = lsb + i;
            let word = &mut self.0[b / 32];
            if (v >> i) & 1 == 1 {
                *word |= 1 << (b % 32);
            } else {
                *word &= !(1 << (b % 32));
            }
        }
    }

    fn get(&self, (lsb, width): Field) -> u64 {
        (0..width).fold(0, |v, i| {
            let b = lsb + i;
            v | (u64::from((self.0[b / 32] >> (b % 32)) & 1) << i)
        })
    }
}

/// (lsb, width) of a field.
type Field = (usize, usize);

// The record: flow fields, then eight legs of LEG_BITS from LEG_BASE.
const PEER_IP: Field = (0, 32);
const PEER_PORT: Field = (32, 16);
const VIP_IP: Field = (48, 32);
const VIP_PORT: Field = (80, 16);
const W: Field = (96, 16);
const OUT_LEFT: Field = (112, 32);
const OUT_NEXT_FSEQ: Field = (144, 32);
const OUT_IDX: Field = (176, 16);
const OUT_NEXT: Field = (192, 32);
const MIN_OUT_FRAME: Field = (224, 16);
const IN_LEFT: Field = (240, 32);
const IN_IDX: Field = (272, 16);
const IN_NEXT_FSEQ: Field = (288, 32);
const IN_NEXT: Field = (320, 32);
const IN_ACK: Field = (352, 32);
const VIP_SHIFT: Field = (433, 4);
const ADV_ACK: Field = (437, 32);
const ADV_EDGE: Field = (469, 32);
const ADV_FIELD: Field = (501, 16);
const OUT_LIDX: Field = (517, 16);
const OUT_ACK: Field = (533, 32);
const PEER_EDGE: Field = (565, 32);
const PEER_WND_FIELD: Field = (597, 16);
const PEER_SHIFT: Field = (613, 4);
const IN_NEXT_IDX: Field = (617, 16);
const MIN_IN_FRAME: Field = (633, 16);
const FRAME_MAX: Field = (649, 16);
const POLICY: Field = (665, 2);
const KEY_OFFSET: Field = (667, 16);
const KEY_LEN: Field = (683, 5);
const TURN: Field = (688, 32);
const NLEGS: Field = (720, 4);
const KEY_BASE: usize = 768;
const LEG_BASE: usize = 1024;
const LEG_BITS: usize = 320;
const LEG_FAST: Field = (0, 1);
const LEG_TAKES: Field = (1, 1);
const LEG_IP: Field = (2, 32);
const LEG_PORT: Field = (34, 16);
const LEG_OUT_NEXT: Field = (50, 32);
const LEG_NEXT: Field = (82, 32);
const LEG_UNA: Field = (114, 32);
const LEG_EDGE: Field = (146, 32);
const LEG_SHIFT: Field = (178, 4);
const LEG_ACK: Field = (182, 32);
const LEG_PROMISE: Field = (214, 32);
const LEG_SENT_ACK: Field = (246, 32);
const LEG_SENT_FIELD: Field = (278, 16);
const LEG_SHIFT_TO: Field = (294, 4);
// A ring entry.
const E_LEG: Field = (0, 3);
const E_MEMBER_SEQ: Field = (3, 32);
const E_PEER_SEQ: Field = (35, 32);
const E_LEN: Field = (67, 16);

fn leg_field(i: usize, (lsb, w): Field) -> Field {
    (LEG_BASE + LEG_BITS * i + lsb, w)
}

fn key_word(i: usize) -> Field {
    (KEY_BASE + 32 * i, 32)
}

/// The policy's code and key-hash byte range.
fn policy_bits(p: Policy) -> (u64, u64, u64) {
    match p {
        Policy::KeyHash { offset, len } => (0, offset.into(), len.into()),
        Policy::RoundRobin => (1, 0, 0),
        Policy::SpeedSensitive => (2, 0, 0),
    }
}

fn pack(rec: &FlowRecord) -> [u32; RECORD_WORDS] {
    let mut words = [0; RECORD_WORDS];
    let mut b = Bits(&mut words);
    let ip = |a: &SocketAddrV4| u64::from(u32::from(*a.ip()));
    b.put(PEER_IP, ip(&rec.peer));
    b.put(PEER_PORT, rec.peer.port().into());
    b.put(VIP_IP, ip(&rec.vip));
    b.put(VIP_PORT, rec.vip.port().into());
    b.put(W, rec.w.into());
    b.put(OUT_LEFT, rec.out_left.into());
    b.put(OUT_NEXT_FSEQ, rec.out_next_fseq.into());
    b.put(OUT_IDX, rec.out_idx.into());
    b.put(OUT_NEXT, rec.out_next.into());
    b.put(MIN_OUT_FRAME, rec.min_out_frame.into());
    b.put(IN_LEFT, rec.in_left.into());
    b.put(IN_IDX, rec.in_idx.into());
    b.put(IN_NEXT_FSEQ, rec.in_next_fseq.into());
    b.put(IN_NEXT, rec.in_next.into());
    b.put(IN_ACK, rec.in_ack.into());
    b.put(VIP_SHIFT, rec.vip_shift.into());
    b.put(ADV_ACK, rec.adv_ack.into());
    b.put(ADV_EDGE, rec.adv_edge.into());
    b.put(ADV_FIELD, rec.adv_field.into());
    b.put(OUT_LIDX, rec.out_lidx.into());
    b.put(OUT_ACK, rec.out_ack.into());
    b.put(PEER_EDGE, rec.peer_edge.into());
    b.put(PEER_WND_FIELD, rec.peer_wnd_field.into());
    b.put(PEER_SHIFT, rec.peer_shift.into());
    b.put(IN_NEXT_IDX, rec.in_next_idx.into());
    b.put(MIN_IN_FRAME, rec.min_in_frame.into());
    b.put(FRAME_MAX, rec.frame_max.into());
    let (policy, key_offset, key_len) = policy_bits(rec.alrm.policy());
    b.put(POLICY, policy);
    b.put(KEY_OFFSET, key_offset);
    b.put(KEY_LEN, key_len);
    b.put(TURN, rec.alrm.turn().into());
    b.put(NLEGS, rec.nlegs.into());
    for (i, k) in rec.alrm.key().0.iter().enumerate() {
        b.put(key_word(i), (*k).into());
    }
    for (i, l) in rec.legs.iter().enumerate() {
        let f = |field| leg_field(i, field);
        b.put(f(LEG_FAST), l.fast.into());
        b.put(f(LEG_TAKES), l.takes.into());
        b.put(f(LEG_IP), ip(&l.member));
        b.put(f(LEG_PORT), l.member.port().into());
        b.put(f(LEG_OUT_NEXT), l.out_next.into());
        b.put(f(LEG_NEXT), l.next.into());
        b.put(f(LEG_UNA), l.una.into());
        b.put(f(LEG_EDGE), l.edge.into());
        b.put(f(LEG_SHIFT), l.shift_from.into());
        b.put(f(LEG_ACK), l.ack.into());
        b.put(f(LEG_PROMISE), l.promise.into());
        b.put(f(LEG_SENT_ACK), l.sent_ack.into());
        b.put(f(LEG_SENT_FIELD), l.sent_field.into());
        b.put(f(LEG_SHIFT_TO), l.shift_to.into());
    }
    words
}

fn unpack(words: &[u32; RECORD_WORDS]) -> FlowRecord {
    let mut copy = *words;
    let b = Bits(&mut copy);
    let n32 = |f| b.get(f) as u32;
    let n16 = |f| b.get(f) as u16;
    let addr = |ip, port| SocketAddrV4::new(Ipv4Addr::from(n32(ip)), n16(port));
    let mut legs = [FastLeg::default(); MAX_ACTIVE];
    for (i, l) in legs.iter_mut().enumerate() {
        let f = |field| leg_field(i, field);
        *l = FastLeg {
            fast: b.get(f(LEG_FAST)) == 1,
            takes: b.get(f(LEG_TAKES)) == 1,
            member: addr(f(LEG_IP), f(LEG_PORT)),
            out_next: n32(f(LEG_OUT_NEXT)),
            next: n32(f(LEG_NEXT)),
            una: n32(f(LEG_UNA)),
            edge: n32(f(LEG_EDGE)),
            shift_from: b.get(f(LEG_SHIFT)) as u8,
            ack: n32(f(LEG_ACK)),
            promise: n32(f(LEG_PROMISE)),
            sent_ack: n32(f(LEG_SENT_ACK)),
            sent_field: n16(f(LEG_SENT_FIELD)),
            shift_to: b.get(f(LEG_SHIFT_TO)) as u8,
        };
    }
    let policy = match b.get(POLICY) {
        0 => Policy::KeyHash {
            offset: n16(KEY_OFFSET),
            len: b.get(KEY_LEN) as u8,
        },
        1 => Policy::RoundRobin,
        _ => Policy::SpeedSensitive,
    };
    let key = HashKey([0, 1, 2, 3].map(|i| n32(key_word(i))));
    FlowRecord {
        peer: addr(PEER_IP, PEER_PORT),
        vip: addr(VIP_IP, VIP_PORT),
        w: n16(W),
        out_left: n32(OUT_LEFT),
        out_lidx: n16(OUT_LIDX),
        out_next_fseq: n32(OUT_NEXT_FSEQ),
        out_idx: n16(OUT_IDX),
        out_next: n32(OUT_NEXT),
        min_out_frame: n16(MIN_OUT_FRAME),
        out_ack: n32(OUT_ACK),
        peer_edge: n32(PEER_EDGE),
        peer_wnd_field: n16(PEER_WND_FIELD),
        peer_shift: b.get(PEER_SHIFT) as u8,
        in_left: n32(IN_LEFT),
        in_idx: n16(IN_IDX),
        in_next_fseq: n32(IN_NEXT_FSEQ),
        in_next_idx: n16(IN_NEXT_IDX),
        in_next: n32(IN_NEXT),
        in_ack: n32(IN_ACK),
        min_in_frame: n16(MIN_IN_FRAME),
        frame_max: n16(FRAME_MAX),
        alrm: FrameAlrm::resume(policy, key, n32(TURN)),
        vip_shift: b.get(VIP_SHIFT) as u8,
        adv_ack: n32(ADV_ACK),
        adv_edge: n32(ADV_EDGE),
        adv_field: n16(ADV_FIELD),
        nlegs: b.get(NLEGS) as u8,
        legs,
    }
}

fn pack_entry(e: &RingEntry) -> [u32; RING_WORDS] {
    let mut words = [0; RING_WORDS];
    let mut b = Bits(&mut words);
    b.put(E_LEG, e.leg.into());
    b.put(E_MEMBER_SEQ, e.member_seq.into());
    b.put(E_PEER_SEQ, e.peer_seq.into());
    b.put(E_LEN, e.len.into());
    words
}

fn unpack_entry(words: &[u32; RING_WORDS]) -> RingEntry {
    let mut copy = *words;
    let b = Bits(&mut copy);
    RingEntry {
        leg: b.get(E_LEG) as u8,
        member_seq: b.get(E_MEMBER_SEQ) as u32,
        peer_seq: b.get(E_PEER_SEQ) as u32,
        len: b.get(E_LEN) as u16,
    }
}

/// What the engine did, counted by the test bench.
#[derive(Clone, Copy, Debug, Default)]
pub struct AcpStats {
    pub taken: u64,
    pub given_back: u64,
    /// Clocks from a segment's first beat in to the engine's done with it, summed over segments,
    /// and of the last segment.
    pub cycles: u64,
    pub last_cycles: u64,
    /// Clocks from the first beat in of each [`RtlAcpOut::send_batch`] (or `send`) to the engine's
    /// done with its last segment, summed.
    pub batch_cycles: u64,
}

/// The Verilated engine.
pub struct RtlAcpOut {
    h: *mut c_void,
    io: Box<AcpIo>,
    rng: Prng,
    /// Per mille of clocks the egress is not ready.
    backpressure: u64,
    pub stats: AcpStats,
    _not_send: PhantomData<*mut ()>,
}

impl RtlAcpOut {
    /// A fresh engine, reset; `backpressure` per mille of clocks its egress is held off, from
    /// generator `seed`.
    pub fn new(backpressure: u64, seed: u64) -> RtlAcpOut {
        // SAFETY: acp_new returns a fresh model owned by this value, freed in Drop.
        let h = unsafe { acp_new() };
        assert!(!h.is_null());
        // SAFETY: AcpIo is plain old data; all-zero is a valid value.
        let io: Box<AcpIo> = unsafe { Box::new(std::mem::zeroed()) };
        let mut e = RtlAcpOut {
            h,
            io,
            rng: Prng::new(seed),
            backpressure,
            stats: AcpStats::default(),
            _not_send: PhantomData,
        };
        e.io.rst = 1;
        for _ in 0..4 {
            e.cycle();
        }
        e.io.rst = 0;
        e.cycle();
        e
    }

    fn cycle(&mut self) {
        // SAFETY: valid handle; io is a live, exclusively borrowed AcpIo.
        unsafe { acp_cycle(self.h, &mut *self.io) };
    }

    /// Clocks until no segment is in the engine: the host's ports are for an idle engine.
    fn wait_idle(&mut self) {
        for _ in 0..SEGMENT_CYCLES {
            if self.io.idle == 1 {
                return;
            }
            self.cycle();
        }
        panic!("engine not idle after {SEGMENT_CYCLES} clocks");
    }

    /// Streams `pkts` into the engine back to back, as fast as it takes them, and returns each one's
    /// outputs: the segments sent, or the segment given back. The engine decides each segment with
    /// the state the ones before it left, so a batch must not hold a segment the engine gives back
    /// when the host would change its state before the next (the host is not run here).
    pub fn send_batch(&mut self, pkts: &[Packet]) -> Vec<Result<Vec<Packet>, Packet>> {
        self.wait_idle();
        let beats: Vec<(usize, &[u8])> = pkts
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.segment.chunks(8).map(move |b| (i, b)))
            .collect();
        // Clock of each segment's first beat in.
        let mut first_in = vec![None; pkts.len()];
        let mut next = 0;
        let mut bytes = Vec::new();
        let mut sent = Vec::new();
        let mut punt = None;
        let mut results = Vec::with_capacity(pkts.len());
        let limit = SEGMENT_CYCLES * pkts.len().max(1) as u64;
        let mut cycles = 0;
        while results.len() < pkts.len() {
            assert!(
                cycles < limit,
                "engine hung: {next} of {} beats in, {} of {} segments done",
                beats.len(),
                results.len(),
                pkts.len()
            );
            self.io.in_valid = u8::from(next < beats.len());
            if let Some(&(i, b)) = beats.get(next) {
                let mut d = [0u8; 8];
                d[..b.len()].copy_from_slice(b);
                self.io.in_data = u64::from_le_bytes(d);
                self.io.in_keep = ((1u16 << b.len()) - 1) as u8;
                self.io.in_last = u8::from(beats.get(next + 1).is_none_or(|n| n.0 != i));
                self.io.in_src = u32::from(pkts[i].src);
                self.io.in_dst = u32::from(pkts[i].dst);
            }
            self.io.out_ready = u8::from(u64::from(self.rng.below(1000)) >= self.backpressure);
            self.cycle();
            if self.io.in_valid == 1 && self.io.in_ready == 1 {
                first_in[beats[next].0].get_or_insert(cycles);
                next += 1;
            }
            cycles += 1;
            if self.io.out_valid == 1 && self.io.out_ready == 1 {
                let n = self.io.out_keep.trailing_ones() as usize;
                bytes.extend_from_slice(&self.io.out_data.to_le_bytes()[..n]);
                if self.io.out_last == 1 {
                    let p = Packet {
                        src: Ipv4Addr::from(self.io.out_src),
                        dst: Ipv4Addr::from(self.io.out_dst),
                        segment: std::mem::take(&mut bytes),
                    };
                    if self.io.out_punt == 1 {
                        punt = Some(p);
                    } else {
                        sent.push(p);
                    }
                }
            }
            if self.io.seg_done == 1 {
                let start =
                    first_in[results.len()].expect("a segment done before its first beat in");
                self.stats.last_cycles = cycles - start;
                self.stats.cycles += cycles - start;
                results.push(match punt.take() {
                    Some(p) => {
                        assert!(sent.is_empty(), "a segment both given back and taken");
                        self.stats.given_back += 1;
                        Err(p)
                    }
                    None => {
                        self.stats.taken += 1;
                        Ok(std::mem::take(&mut sent))
                    }
                });
            }
        }
        self.io.in_valid = 0;
        self.stats.batch_cycles += cycles;
        results
    }

    fn select(&mut self, slot: usize) {
        assert!(slot < SLOTS, "slot {slot} of {SLOTS}");
        self.io.rec_slot = slot as u8;
    }
}

impl Drop for RtlAcpOut {
    fn drop(&mut self) {
        // SAFETY: the handle came from acp_new and is freed once.
        unsafe { acp_free(self.h) }
    }
}

impl Engine for RtlAcpOut {
    fn slots(&self) -> usize {
        SLOTS
    }

    fn ring_entries(&self) -> usize {
        RING
    }

    fn load(&mut self, slot: usize, rec: &FlowRecord, in_flight: &Entries) {
        self.wait_idle();
        assert!(usize::from(rec.w) <= RING, "ring of {} entries", rec.w);
        self.io.ring_wr_slot = slot as u8;
        self.io.ring_wr = 1;
        let rings = [
            (0, rec.in_idx, &in_flight.inbound),
            (1, rec.out_lidx, &in_flight.outbound),
        ];
        for (out, from, entries) in rings {
            self.io.ring_wr_out = out;
            for (k, e) in entries.iter().enumerate() {
                self.io.ring_wr_idx = ((usize::from(from) + k) % usize::from(rec.w)) as u32;
                self.io.ring_wr_data = pack_entry(e);
                self.cycle();
            }
        }
        self.io.ring_wr = 0;
        self.select(slot);
        self.io.rec_wdata = pack(rec);
        self.io.rec_load = 1;
        self.cycle();
        self.io.rec_load = 0;
    }

    fn unload(&mut self, slot: usize) {
        self.wait_idle();
        self.select(slot);
        self.io.rec_unload = 1;
        self.cycle();
        self.io.rec_unload = 0;
    }

    fn read(&mut self, slot: usize) -> FlowRecord {
        self.wait_idle();
        self.select(slot);
        self.cycle();
        unpack(&self.io.rec_rdata)
    }

    fn ring(&mut self, slot: usize, ring: Ring, idx: u16) -> RingEntry {
        self.wait_idle();
        self.io.ring_slot = slot as u8;
        self.io.ring_out = u8::from(ring == Ring::Out);
        self.io.ring_idx = u32::from(idx);
        self.cycle();
        self.cycle();
        unpack_entry(&self.io.ring_rdata)
    }

    fn taken(&mut self, slot: usize) -> TakenCount {
        self.wait_idle();
        self.select(slot);
        self.cycle();
        let [out_data, out_ack, in_data, in_rtx, in_ack, out_rtx] =
            self.io.rec_taken.map(u64::from);
        TakenCount {
            out_data,
            out_ack,
            in_data,
            in_rtx,
            in_ack,
            out_rtx,
        }
    }

    fn send(&mut self, pkt: &Packet) -> Result<Vec<Packet>, Packet> {
        let mut r = self.send_batch(std::slice::from_ref(pkt));
        r.pop().expect("one segment's outputs")
    }
}
