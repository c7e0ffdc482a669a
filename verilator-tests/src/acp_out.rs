//! The Verilated ACP out_data engine (`hw/rtl/anypoint_acp_out.sv`) as a frame-switch
//! [`Engine`]: the host loads and reads flow records and ring entries through its record ports and
//! sends segments through its streams, 8 bytes a beat, with egress backpressure.

use std::marker::PhantomData;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::raw::c_void;

use anypoint_model::frame_switch::fast::{Engine, FastLeg, OutRecord, RingEntry};
use anypoint_model::frame_switch::{Packet, MAX_ACTIVE};

use crate::prng::Prng;

const RECORD_WORDS: usize = 52;
const RING_WORDS: usize = 3;
/// Flow slots and ring entries per slot of the Verilated build (the module's defaults).
const SLOTS: usize = 2;
const RING: usize = 512;
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
    ring_idx: u32,
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
    rec_taken: u32,
    ring_rdata: [u32; RING_WORDS],
}

extern "C" {
    fn acp_new() -> *mut c_void;
    fn acp_free(h: *mut c_void);
    fn acp_cycle(h: *mut c_void, io: *mut AcpIo);
}

/// Bit fields of the record and ring entry layouts (docs/frame-switching.md section 9a).
struct Bits<'a>(&'a mut [u32]);

impl Bits<'_> {
    fn put(&mut self, lsb: usize, width: usize, v: u64) {
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

    fn get(&self, lsb: usize, width: usize) -> u64 {
        (0..width).fold(0, |v, i| {
            let b = lsb + i;
            v | (u64::from((self.0[b / 32] >> (b % 32)) & 1) << i)
        })
    }
}

/// The fields of [`OutRecord`] in the engine's layout: (lsb, width) of each, legs at 384 + 160 i.
const PEER_IP: (usize, usize) = (0, 32);
const PEER_PORT: (usize, usize) = (32, 16);
const VIP_IP: (usize, usize) = (48, 32);
const VIP_PORT: (usize, usize) = (80, 16);
const W: (usize, usize) = (96, 16);
const OUT_LEFT: (usize, usize) = (112, 32);
const OUT_NEXT_FSEQ: (usize, usize) = (144, 32);
const OUT_IDX: (usize, usize) = (176, 16);
const OUT_NEXT: (usize, usize) = (192, 32);
const PEER_ACK: (usize, usize) = (224, 32);
const PEER_FIELD: (usize, usize) = (256, 16);
const VIP_SHIFT: (usize, usize) = (272, 4);
const MIN_OUT_FRAME: (usize, usize) = (276, 16);
const ADV_ACK: (usize, usize) = (292, 32);
const ADV_EDGE: (usize, usize) = (324, 32);
const ADV_FIELD: (usize, usize) = (356, 16);
const LEG_BASE: usize = 384;
const LEG_BITS: usize = 160;
const LEG_FAST: (usize, usize) = (0, 1);
const LEG_IP: (usize, usize) = (1, 32);
const LEG_PORT: (usize, usize) = (33, 16);
const LEG_OUT_NEXT: (usize, usize) = (49, 32);
const LEG_UNA: (usize, usize) = (81, 32);
const LEG_EDGE: (usize, usize) = (113, 32);
const LEG_SHIFT: (usize, usize) = (145, 4);

fn pack(rec: &OutRecord) -> [u32; RECORD_WORDS] {
    let mut words = [0; RECORD_WORDS];
    let mut b = Bits(&mut words);
    let mut put = |(lsb, w): (usize, usize), v: u64| b.put(lsb, w, v);
    put(PEER_IP, u32::from(*rec.peer.ip()).into());
    put(PEER_PORT, rec.peer.port().into());
    put(VIP_IP, u32::from(*rec.vip.ip()).into());
    put(VIP_PORT, rec.vip.port().into());
    put(W, rec.w.into());
    put(OUT_LEFT, rec.out_left.into());
    put(OUT_NEXT_FSEQ, rec.out_next_fseq.into());
    put(OUT_IDX, rec.out_idx.into());
    put(OUT_NEXT, rec.out_next.into());
    put(PEER_ACK, rec.peer_ack.into());
    put(PEER_FIELD, rec.peer_field.into());
    put(VIP_SHIFT, rec.vip_shift.into());
    put(MIN_OUT_FRAME, rec.min_out_frame.into());
    put(ADV_ACK, rec.adv_ack.into());
    put(ADV_EDGE, rec.adv_edge.into());
    put(ADV_FIELD, rec.adv_field.into());
    for (i, l) in rec.legs.iter().enumerate() {
        let at = |(lsb, w): (usize, usize)| (LEG_BASE + LEG_BITS * i + lsb, w);
        put(at(LEG_FAST), l.fast.into());
        put(at(LEG_IP), u32::from(*l.member.ip()).into());
        put(at(LEG_PORT), l.member.port().into());
        put(at(LEG_OUT_NEXT), l.out_next.into());
        put(at(LEG_UNA), l.una.into());
        put(at(LEG_EDGE), l.edge.into());
        put(at(LEG_SHIFT), l.shift_from.into());
    }
    words
}

fn unpack(words: &[u32; RECORD_WORDS]) -> OutRecord {
    let mut copy = *words;
    let b = Bits(&mut copy);
    let get = |(lsb, w): (usize, usize)| b.get(lsb, w);
    let addr = |ip, port| SocketAddrV4::new(Ipv4Addr::from(get(ip) as u32), get(port) as u16);
    let mut legs = [FastLeg::default(); MAX_ACTIVE];
    for (i, l) in legs.iter_mut().enumerate() {
        let at = |(lsb, w): (usize, usize)| (LEG_BASE + LEG_BITS * i + lsb, w);
        *l = FastLeg {
            fast: get(at(LEG_FAST)) == 1,
            member: addr(at(LEG_IP), at(LEG_PORT)),
            out_next: get(at(LEG_OUT_NEXT)) as u32,
            una: get(at(LEG_UNA)) as u32,
            edge: get(at(LEG_EDGE)) as u32,
            shift_from: get(at(LEG_SHIFT)) as u8,
        };
    }
    OutRecord {
        peer: addr(PEER_IP, PEER_PORT),
        vip: addr(VIP_IP, VIP_PORT),
        w: get(W) as u16,
        out_left: get(OUT_LEFT) as u32,
        out_next_fseq: get(OUT_NEXT_FSEQ) as u32,
        out_idx: get(OUT_IDX) as u16,
        out_next: get(OUT_NEXT) as u32,
        peer_ack: get(PEER_ACK) as u32,
        peer_field: get(PEER_FIELD) as u16,
        vip_shift: get(VIP_SHIFT) as u8,
        min_out_frame: get(MIN_OUT_FRAME) as u16,
        adv_ack: get(ADV_ACK) as u32,
        adv_edge: get(ADV_EDGE) as u32,
        adv_field: get(ADV_FIELD) as u16,
        legs,
    }
}

/// What the engine did, counted by the test bench.
#[derive(Clone, Copy, Debug, Default)]
pub struct AcpStats {
    pub taken: u64,
    pub given_back: u64,
    /// Clocks from a segment's first beat in to its last beat out, summed over segments.
    pub cycles: u64,
    pub bytes: u64,
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

    fn load(&mut self, slot: usize, rec: &OutRecord) {
        assert!(usize::from(rec.w) <= RING, "ring of {} entries", rec.w);
        self.select(slot);
        self.io.rec_wdata = pack(rec);
        self.io.rec_load = 1;
        self.cycle();
        self.io.rec_load = 0;
    }

    fn unload(&mut self, slot: usize) {
        self.select(slot);
        self.io.rec_unload = 1;
        self.cycle();
        self.io.rec_unload = 0;
    }

    fn read(&mut self, slot: usize) -> OutRecord {
        self.select(slot);
        self.cycle();
        unpack(&self.io.rec_rdata)
    }

    fn ring(&mut self, slot: usize, idx: u16) -> RingEntry {
        self.io.ring_slot = slot as u8;
        self.io.ring_idx = u32::from(idx);
        self.cycle();
        self.cycle();
        let mut words = self.io.ring_rdata;
        let b = Bits(&mut words);
        RingEntry {
            leg: b.get(0, 3) as u8,
            member_seq: b.get(3, 32) as u32,
            peer_seq: b.get(35, 32) as u32,
            len: b.get(67, 16) as u16,
        }
    }

    fn taken(&mut self, slot: usize) -> u64 {
        self.select(slot);
        self.cycle();
        u64::from(self.io.rec_taken)
    }

    fn send(&mut self, pkt: &Packet) -> Result<Packet, Packet> {
        let beats: Vec<&[u8]> = pkt.segment.chunks(8).collect();
        self.io.in_src = u32::from(pkt.src);
        self.io.in_dst = u32::from(pkt.dst);
        let mut next = 0;
        let mut out = Vec::new();
        let (mut src, mut dst, mut punt) = (0, 0, false);
        for cycles in 0.. {
            assert!(
                cycles < SEGMENT_CYCLES,
                "engine hung on a {}-byte segment: {next} beats in, {} bytes out",
                pkt.segment.len(),
                out.len()
            );
            self.io.in_valid = u8::from(next < beats.len());
            if let Some(b) = beats.get(next) {
                let mut d = [0u8; 8];
                d[..b.len()].copy_from_slice(b);
                self.io.in_data = u64::from_le_bytes(d);
                self.io.in_keep = ((1u16 << b.len()) - 1) as u8;
                self.io.in_last = u8::from(next + 1 == beats.len());
            }
            self.io.out_ready = u8::from(u64::from(self.rng.below(1000)) >= self.backpressure);
            self.cycle();
            if self.io.in_valid == 1 && self.io.in_ready == 1 {
                next += 1;
            }
            if self.io.out_valid == 1 && self.io.out_ready == 1 {
                let n = self.io.out_keep.trailing_ones() as usize;
                out.extend_from_slice(&self.io.out_data.to_le_bytes()[..n]);
                (src, dst, punt) = (self.io.out_src, self.io.out_dst, self.io.out_punt == 1);
                if self.io.out_last == 1 {
                    self.stats.cycles += cycles + 1;
                    break;
                }
            }
        }
        self.io.in_valid = 0;
        self.stats.bytes += pkt.segment.len() as u64;
        let p = Packet {
            src: Ipv4Addr::from(src),
            dst: Ipv4Addr::from(dst),
            segment: out,
        };
        if punt {
            self.stats.given_back += 1;
            Err(p)
        } else {
            self.stats.taken += 1;
            Ok(p)
        }
    }
}
