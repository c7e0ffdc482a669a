//! The Verilated ACP engine (`hw/rtl/anypoint_acp_out.sv`) as a frame-switch
//! [`Engine`]: the host loads and reads flow records and ring entries through its record ports and
//! sends segments through its streams, 8 bytes a beat, with egress backpressure. The host's ports
//! wait for the engine to be idle; [`RtlAcpOut::send_batch`] streams segments back to back.

use std::marker::PhantomData;
use std::net::Ipv4Addr;
use std::os::raw::c_void;

use anypoint_model::frame_switch::fast::{
    Engine, Entries, FlowRecord, Ring, RingEntry, TakenCount, ENGINE_RING as RING,
    ENGINE_SLOTS as SLOTS,
};
use anypoint_model::frame_switch::layout::{
    pack, pack_entry, unpack, unpack_entry, RECORD_WORDS, RING_WORDS,
};
use anypoint_model::frame_switch::Packet;

use crate::prng::Prng;

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
    /// Of those clocks, the ones a beat waited on `in_tready`, and the beats sent.
    pub batch_in_stall: u64,
    pub batch_out_beats: u64,
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
            } else if self.io.in_valid == 1 {
                self.stats.batch_in_stall += 1;
            }
            cycles += 1;
            if self.io.out_valid == 1 && self.io.out_ready == 1 {
                self.stats.batch_out_beats += 1;
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

    fn load(&mut self, slot: usize, rec: &FlowRecord, in_flight: &Entries) -> bool {
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
        true
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
        TakenCount::from_device(self.io.rec_taken)
    }

    fn send(&mut self, pkt: &Packet) -> Result<Vec<Packet>, Packet> {
        let mut r = self.send_batch(std::slice::from_ref(pkt));
        r.pop().expect("one segment's outputs")
    }
}
