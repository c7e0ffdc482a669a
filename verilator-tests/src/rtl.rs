//! The Verilated RTL (`hw/`, `anypoint_top`) behind the driver's register seam and packet interface.
//!
//! [`RtlSwitch`] clocks the model: register accesses are AXI4-Lite transactions, frames are driven
//! onto the AXI-Stream ports beat by beat and the egress and host-queue streams are collected. The
//! [`anypoint_driver::PacketIo`] methods run the clock until the pipeline is empty, so every output of
//! a frame is available right after `receive`/`inject`, in emission order, as with the model. The
//! lower-level [`RtlSwitch::send`] / [`RtlSwitch::run_until_idle`] keep many frames in flight, with
//! optional random ingress gaps and egress backpressure, for scoreboards and benchmarks.

use std::collections::VecDeque;
use std::ffi::{c_void, CString};
use std::marker::PhantomData;

const MAX_PORTS: usize = 8;
const MAX_BYTES: usize = 64;

#[repr(C)]
struct ApIo {
    eth_in_data: [[u8; MAX_BYTES]; MAX_PORTS],
    eth_in_keep: [u64; MAX_PORTS],
    eth_in_valid: [u8; MAX_PORTS],
    eth_in_last: [u8; MAX_PORTS],
    eth_out_ready: [u8; MAX_PORTS],
    inj_data: [u8; MAX_BYTES],
    inj_keep: u64,
    inj_valid: u8,
    inj_last: u8,
    host_ready: u8,
    rst: u8,
    awaddr: u32,
    wdata: u32,
    awvalid: u8,
    wvalid: u8,
    bready: u8,
    arvalid: u8,
    araddr: u32,
    rready: u8,
    eth_in_ready: [u8; MAX_PORTS],
    eth_out_data: [[u8; MAX_BYTES]; MAX_PORTS],
    eth_out_keep: [u64; MAX_PORTS],
    eth_out_valid: [u8; MAX_PORTS],
    eth_out_last: [u8; MAX_PORTS],
    inj_ready: u8,
    host_data: [u8; MAX_BYTES],
    host_keep: u64,
    host_valid: u8,
    host_last: u8,
    awready: u8,
    wready: u8,
    bvalid: u8,
    arready: u8,
    rvalid: u8,
    rdata: u32,
    busy: u8,
    eth_out_user: [u8; MAX_PORTS],
}

extern "C" {
    fn ap_new(variant: i32, ports: i32) -> *mut c_void;
    fn ap_free(h: *mut c_void);
    fn ap_cycle(h: *mut c_void, io: *mut ApIo);
    fn ap_trace_open(h: *mut c_void, path: *const std::os::raw::c_char);
    fn ap_trace_close(h: *mut c_void);
}

/// Table geometry of the Verilated builds (must match build.rs).
pub const GEOMETRY: anypoint_model::Geometry = anypoint_model::Geometry {
    ports: 4,
    services: 16,
    members: 64,
    conn_buckets_log2: 4,
    indir_slots_log2: 12,
};

/// AXI-Stream data width of a build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    W64,
    W512,
}

impl Width {
    pub fn bytes(self) -> usize {
        match self {
            Width::W64 => 8,
            Width::W512 => 64,
        }
    }
    pub fn bits(self) -> u32 {
        self.bytes() as u32 * 8
    }
    pub fn from_bits(bits: u32) -> Option<Width> {
        match bits {
            64 => Some(Width::W64),
            512 => Some(Width::W512),
            _ => None,
        }
    }
}

/// Small xorshift generator for gaps and backpressure.
#[derive(Clone, Debug)]
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// True with probability `pct` percent.
    fn chance(&mut self, pct: u32) -> bool {
        pct > 0 && (self.next() % 100) < u64::from(pct)
    }
}

/// Random stalls: percent of cycles with an ingress gap (per port) and with egress not ready.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stress {
    pub ingress_gap_pct: u32,
    pub egress_stall_pct: u32,
    pub seed: u64,
}

#[derive(Default)]
struct InQueue {
    /// Frames with the idle cycles to leave before each one's first beat.
    frames: VecDeque<(Vec<u8>, u64)>,
    /// Byte offset of the next beat in the head frame.
    off: usize,
    gap: bool,
}

/// Timing statistics of a run.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub cycles: u64,
    pub ingress_stall_cycles: u64,
    pub egress_idle_cycles: u64,
    pub latency_min: u64,
    pub latency_max: u64,
    pub frames_in: u64,
    pub frames_out: u64,
}

/// An output beat offered and not taken (`tvalid && !tready`), which AXI-Stream says must be offered
/// again, unchanged, in the next cycle.
#[derive(Clone, PartialEq, Eq, Debug)]
struct HeldBeat {
    data: [u8; MAX_BYTES],
    keep: u64,
    last: u8,
    user: u8,
}

/// The AXI-Stream hold rule on the egress ports and the host queue: while `tvalid && !tready`,
/// `tvalid` stays high and `tdata`/`tkeep`/`tlast`/`tuser` do not change in the next cycle. Checked
/// on every clock ([`RtlSwitch::hold_violation`]); all `DATA_WIDTH` bits of `tdata` are compared,
/// null bytes included, as the rule says. (The inputs are this wrapper's to drive: a random ingress
/// gap may drop `tvalid` on a beat the pipeline has not taken, which the pipeline tolerates.)
struct HoldCheck {
    /// Per egress port, then the host queue: the beat offered and not taken in the last cycle.
    held: Vec<Option<HeldBeat>>,
    violation: Option<String>,
}

impl HoldCheck {
    /// `stream`: the egress port, or `held.len() - 1` for the host queue. `valid`/`ready`/`beat`:
    /// this cycle's.
    fn check(
        &mut self,
        cycle: u64,
        stream: usize,
        valid: bool,
        ready: bool,
        beat: HeldBeat,
        bytes: usize,
    ) {
        if let Some(prev) = self.held[stream].take() {
            if self.violation.is_none() {
                let name = if stream + 1 == self.held.len() {
                    "host queue".to_string()
                } else {
                    format!("egress port {stream}")
                };
                let hex = |b: &HeldBeat| {
                    let d: String = b.data[..bytes].iter().map(|x| format!("{x:02x}")).collect();
                    format!(
                        "tdata {d} tkeep {:#x} tlast {} tuser {}",
                        b.keep, b.last, b.user
                    )
                };
                if !valid {
                    self.violation = Some(format!(
                        "AXI-Stream hold rule broken on {name} at cycle {cycle}: tvalid fell before \
                         the handshake of {}",
                        hex(&prev)
                    ));
                } else if prev != beat {
                    self.violation = Some(format!(
                        "AXI-Stream hold rule broken on {name} at cycle {cycle}: a beat not taken \
                         changed\n  was {}\n  now {}",
                        hex(&prev),
                        hex(&beat)
                    ));
                }
            }
        }
        if valid && !ready {
            self.held[stream] = Some(beat);
        }
    }
}

/// The Verilated pipeline. Not `Send`: a Verilated model belongs to the thread that made it.
pub struct RtlSwitch {
    h: *mut c_void,
    io: Box<ApIo>,
    width: Width,
    geometry: anypoint_model::Geometry,
    ports: usize,
    inq: Vec<InQueue>,
    injq: InQueue,
    out_partial: Vec<Vec<u8>>,
    out_first: Vec<Option<u64>>,
    host_partial: Vec<u8>,
    egress: VecDeque<(u8, Vec<u8>)>,
    host: VecDeque<Vec<u8>>,
    stress: Stress,
    rng: Rng,
    pub stats: Stats,
    /// Cycles at which frames' first beats were taken, per ingress port (kept when `record_times`).
    pub first_in: Vec<Vec<u64>>,
    /// Cycles at which frames' first beats left, per egress port (kept when `record_times`).
    pub first_out: Vec<Vec<u64>>,
    pub record_times: bool,
    /// Holds the host queue's `ready` low in [`RtlSwitch::cycle`] (a host that stopped reading).
    pub host_blocked: bool,
    hold: HoldCheck,
    _not_send: PhantomData<*mut ()>,
}

impl RtlSwitch {
    /// The pipeline at `width` with the test geometry [`GEOMETRY`].
    pub fn new(width: Width) -> RtlSwitch {
        let variant = match width {
            Width::W64 => 0,
            Width::W512 => 1,
        };
        Self::build(variant, width, GEOMETRY)
    }

    /// The 64-bit pipeline with the model's default geometry (`Geometry::default()`), for replays of
    /// configurations larger than the test tables (cargo feature `replay-geometry`).
    #[cfg(feature = "replay-geometry")]
    pub fn with_default_geometry() -> RtlSwitch {
        Self::build(2, Width::W64, anypoint_model::Geometry::default())
    }

    /// The geometry this pipeline was built with.
    pub fn geometry(&self) -> anypoint_model::Geometry {
        self.geometry
    }

    fn build(variant: i32, width: Width, geometry: anypoint_model::Geometry) -> RtlSwitch {
        let ports = usize::from(geometry.ports);
        // SAFETY: ap_new returns a fresh model owned by this value, freed in Drop.
        let h = unsafe { ap_new(variant, ports as i32) };
        assert!(!h.is_null());
        // SAFETY: ApIo is plain old data; all-zero is a valid value.
        let io: Box<ApIo> = unsafe { Box::new(std::mem::zeroed()) };
        let mut s = RtlSwitch {
            h,
            io,
            width,
            geometry,
            ports,
            inq: (0..ports).map(|_| InQueue::default()).collect(),
            injq: InQueue::default(),
            out_partial: vec![Vec::new(); ports],
            out_first: vec![None; ports],
            host_partial: Vec::new(),
            egress: VecDeque::new(),
            host: VecDeque::new(),
            stress: Stress::default(),
            rng: Rng(0x9e37_79b9_7f4a_7c15),
            stats: Stats::default(),
            first_in: vec![Vec::new(); ports],
            first_out: vec![Vec::new(); ports],
            record_times: false,
            host_blocked: false,
            hold: HoldCheck {
                held: vec![None; ports + 1],
                violation: None,
            },
            _not_send: PhantomData,
        };
        // Reset is held longer than the decision pipeline is deep.
        s.io.rst = 1;
        for _ in 0..32 {
            s.raw_cycle();
        }
        s.io.rst = 0;
        s.raw_cycle();
        // The activity bitmap clears itself after reset.
        while s.io.busy != 0 {
            s.raw_cycle();
        }
        s.stats = Stats::default();
        s
    }

    pub fn width(&self) -> Width {
        self.width
    }

    pub fn set_stress(&mut self, stress: Stress) {
        self.stress = stress;
        self.rng = Rng(stress.seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
    }

    /// Writes an FST waveform of everything from now on to `path`.
    pub fn trace(&mut self, path: &str) {
        let c = CString::new(path).unwrap();
        // SAFETY: valid handle and NUL-terminated path.
        unsafe { ap_trace_open(self.h, c.as_ptr()) }
    }

    fn raw_cycle(&mut self) {
        // SAFETY: valid handle; io is a live, exclusively borrowed ApIo.
        unsafe { ap_cycle(self.h, &mut *self.io) };
        self.stats.cycles += 1;
        self.check_hold();
    }

    /// The AXI-Stream hold rule on every output stream, for this cycle's outputs and readies.
    fn check_hold(&mut self) {
        let io = &*self.io;
        let hold = &mut self.hold;
        if io.rst != 0 {
            hold.held.iter_mut().for_each(|h| *h = None);
            return;
        }
        let bytes = self.width.bytes();
        let cycle = self.stats.cycles;
        for p in 0..self.ports {
            let (valid, ready) = (io.eth_out_valid[p] != 0, io.eth_out_ready[p] != 0);
            if hold.held[p].is_some() || (valid && !ready) {
                let beat = HeldBeat {
                    data: io.eth_out_data[p],
                    keep: io.eth_out_keep[p],
                    last: io.eth_out_last[p],
                    user: io.eth_out_user[p],
                };
                hold.check(cycle, p, valid, ready, beat, bytes);
            }
        }
        let (valid, ready) = (io.host_valid != 0, io.host_ready != 0);
        if hold.held[self.ports].is_some() || (valid && !ready) {
            // The host queue has no tuser.
            let beat = HeldBeat {
                data: io.host_data,
                keep: io.host_keep,
                last: io.host_last,
                user: 0,
            };
            hold.check(cycle, self.ports, valid, ready, beat, bytes);
        }
    }

    /// The first break of the AXI-Stream hold rule on an egress port or the host queue seen so far
    /// (a beat offered with `tvalid` and not taken must be offered unchanged in the next cycle: same
    /// `tdata`, `tkeep`, `tlast` and `tuser`, `tvalid` still high).
    pub fn hold_violation(&self) -> Option<&str> {
        self.hold.violation.as_deref()
    }

    /// Queues a frame on Ethernet port `port` (sent by later clocks).
    pub fn send(&mut self, port: u8, frame: &[u8]) {
        self.send_after(port, frame, 0);
    }

    /// Queues a frame on Ethernet port `port` to start no earlier than `idle` cycles after the
    /// previous frame's last beat was taken (an inter-frame gap; random gaps come on top).
    pub fn send_after(&mut self, port: u8, frame: &[u8], idle: u64) {
        self.inq[usize::from(port)]
            .frames
            .push_back((frame.to_vec(), idle));
    }

    /// Host inject records queued and not yet taken whole by the pipeline.
    pub fn inject_pending(&self) -> usize {
        self.injq.frames.len()
    }

    /// Queues a host inject record.
    pub fn send_inject(&mut self, record: &[u8]) {
        self.injq.frames.push_back((record.to_vec(), 0));
    }

    fn drive(
        q: &mut InQueue,
        bytes: usize,
        data: &mut [u8; MAX_BYTES],
        keep: &mut u64,
    ) -> (u8, u8) {
        let Some((f, idle)) = q.frames.front_mut() else {
            return (0, 0);
        };
        if q.off == 0 && *idle > 0 {
            *idle -= 1;
            return (0, 0);
        }
        if q.gap {
            return (0, 0);
        }
        let n = (f.len() - q.off).min(bytes);
        data[..bytes].fill(0);
        data[..n].copy_from_slice(&f[q.off..q.off + n]);
        *keep = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
        let last = q.off + n >= f.len();
        (1, u8::from(last))
    }

    fn advance(q: &mut InQueue, bytes: usize) -> bool {
        let (f, _) = q.frames.front().unwrap();
        q.off += bytes;
        if q.off >= f.len() {
            q.frames.pop_front();
            q.off = 0;
            return true;
        }
        false
    }

    /// One clock with the queued traffic.
    pub fn cycle(&mut self) {
        let bytes = self.width.bytes();
        let st = self.stress;
        for p in 0..self.ports {
            let q = &mut self.inq[p];
            // A gap decision holds for a cycle; gaps only fall between beats of the stream.
            q.gap = st.ingress_gap_pct > 0 && self.rng.chance(st.ingress_gap_pct);
            let (v, l) = Self::drive(
                q,
                bytes,
                &mut self.io.eth_in_data[p],
                &mut self.io.eth_in_keep[p],
            );
            self.io.eth_in_valid[p] = v;
            self.io.eth_in_last[p] = l;
            self.io.eth_out_ready[p] = u8::from(!self.rng.chance(st.egress_stall_pct));
        }
        self.injq.gap = st.ingress_gap_pct > 0 && self.rng.chance(st.ingress_gap_pct);
        let (v, l) = Self::drive(
            &mut self.injq,
            bytes,
            &mut self.io.inj_data,
            &mut self.io.inj_keep,
        );
        self.io.inj_valid = v;
        self.io.inj_last = l;
        let host_ready = !self.rng.chance(st.egress_stall_pct);
        self.io.host_ready = u8::from(host_ready && !self.host_blocked);
        self.raw_cycle();
        let now = self.stats.cycles;
        for p in 0..self.ports {
            if self.io.eth_in_valid[p] != 0 {
                if self.io.eth_in_ready[p] != 0 {
                    if self.inq[p].off == 0 {
                        if self.record_times {
                            self.first_in[p].push(now);
                        }
                        self.stats.frames_in += 1;
                    }
                    Self::advance(&mut self.inq[p], bytes);
                } else {
                    self.stats.ingress_stall_cycles += 1;
                }
            }
            if self.io.eth_out_valid[p] != 0 && self.io.eth_out_ready[p] != 0 {
                let keep = self.io.eth_out_keep[p];
                if self.out_first[p].is_none() {
                    self.out_first[p] = Some(now);
                    if self.record_times {
                        self.first_out[p].push(now);
                    }
                }
                for i in 0..bytes {
                    if keep >> i & 1 != 0 {
                        self.out_partial[p].push(self.io.eth_out_data[p][i]);
                    }
                }
                if self.io.eth_out_last[p] != 0 {
                    let f = std::mem::take(&mut self.out_partial[p]);
                    self.egress.push_back((p as u8, f));
                    self.stats.frames_out += 1;
                    self.out_first[p] = None;
                }
            } else if self.io.eth_out_ready[p] != 0 {
                self.stats.egress_idle_cycles += 1;
            }
        }
        if self.io.inj_valid != 0 && self.io.inj_ready != 0 {
            Self::advance(&mut self.injq, bytes);
        }
        if self.io.host_valid != 0 && self.io.host_ready != 0 {
            let keep = self.io.host_keep;
            for i in 0..bytes {
                if keep >> i & 1 != 0 {
                    self.host_partial.push(self.io.host_data[i]);
                }
            }
            if self.io.host_last != 0 {
                self.host.push_back(std::mem::take(&mut self.host_partial));
            }
        }
    }

    /// True when nothing is queued, in flight or half collected.
    pub fn idle(&self) -> bool {
        self.io.busy == 0
            && self.inq.iter().all(|q| q.frames.is_empty())
            && self.injq.frames.is_empty()
            && self.io.eth_in_valid.iter().all(|&v| v == 0)
            && self.io.inj_valid == 0
    }

    /// Clocks until every queued frame has gone through and all outputs are collected.
    pub fn run_until_idle(&mut self) {
        let mut quiet = 0;
        let mut guard = 0u64;
        loop {
            self.cycle();
            guard += 1;
            assert!(guard < 50_000_000, "RTL did not go idle");
            if self.idle() {
                quiet += 1;
                // busy is sampled before the edge: one more clock settles the last beat.
                if quiet >= 2 {
                    return;
                }
            } else {
                quiet = 0;
            }
        }
    }

    fn axil_cycle(&mut self) {
        for p in 0..self.ports {
            self.io.eth_in_valid[p] = 0;
            self.io.eth_out_ready[p] = 1;
        }
        self.io.inj_valid = 0;
        self.io.host_ready = 1;
        self.raw_cycle();
        for p in 0..self.ports {
            if self.io.eth_out_valid[p] != 0 {
                // Outputs keep flowing while registers are accessed.
                let keep = self.io.eth_out_keep[p];
                for i in 0..self.width.bytes() {
                    if keep >> i & 1 != 0 {
                        self.out_partial[p].push(self.io.eth_out_data[p][i]);
                    }
                }
                if self.io.eth_out_last[p] != 0 {
                    let f = std::mem::take(&mut self.out_partial[p]);
                    self.egress.push_back((p as u8, f));
                }
            }
        }
        if self.io.host_valid != 0 {
            for i in 0..self.width.bytes() {
                if self.io.host_keep >> i & 1 != 0 {
                    self.host_partial.push(self.io.host_data[i]);
                }
            }
            if self.io.host_last != 0 {
                self.host.push_back(std::mem::take(&mut self.host_partial));
            }
        }
    }

    pub fn write32(&mut self, offset: u32, value: u32) {
        self.axil_write(offset, value, Self::axil_cycle);
    }

    pub fn read32(&mut self, offset: u32) -> u32 {
        self.io.araddr = offset;
        self.io.arvalid = 1;
        self.io.rready = 1;
        loop {
            self.axil_cycle();
            if self.io.arready != 0 {
                break;
            }
        }
        self.io.arvalid = 0;
        loop {
            self.axil_cycle();
            if self.io.rvalid != 0 {
                break;
            }
        }
        self.io.rready = 0;
        self.io.rdata
    }

    /// A register write performed while the queued traffic keeps flowing (each clock drives the
    /// ingress queues as [`RtlSwitch::cycle`] does).
    pub fn write32_streaming(&mut self, offset: u32, value: u32) {
        self.axil_write(offset, value, Self::cycle);
    }

    /// One AXI4-Lite write transaction, clocked by `clock`.
    fn axil_write(&mut self, offset: u32, value: u32, clock: fn(&mut Self)) {
        self.io.awaddr = offset;
        self.io.wdata = value;
        self.io.awvalid = 1;
        self.io.wvalid = 1;
        self.io.bready = 1;
        while {
            clock(self);
            self.io.awready == 0
        } {}
        self.io.awvalid = 0;
        self.io.wvalid = 0;
        while {
            clock(self);
            self.io.bvalid == 0
        } {}
        self.io.bready = 0;
    }

    /// Frames collected from the Ethernet egress ports, in the order they completed.
    pub fn take_egress(&mut self) -> Vec<(u8, Vec<u8>)> {
        self.egress.drain(..).collect()
    }

    /// Host-queue records collected, in order.
    pub fn take_host(&mut self) -> Vec<Vec<u8>> {
        self.host.drain(..).collect()
    }
}

impl Drop for RtlSwitch {
    fn drop(&mut self) {
        // SAFETY: the handle came from ap_new and is freed once.
        unsafe {
            ap_trace_close(self.h);
            ap_free(self.h);
        }
    }
}

impl anypoint_driver::RegisterAccess for RtlSwitch {
    fn read32(&mut self, offset: u32) -> u32 {
        RtlSwitch::read32(self, offset)
    }
    fn write32(&mut self, offset: u32, value: u32) {
        RtlSwitch::write32(self, offset, value)
    }
}

impl anypoint_driver::PacketIo for RtlSwitch {
    fn receive(&mut self, port: u8, frame: &[u8]) {
        if usize::from(port) >= self.ports {
            return;
        }
        self.send(port, frame);
        self.run_until_idle();
    }
    fn inject(&mut self, record: &[u8]) -> bool {
        let ok = match anypoint_model::InjectHeader::decode(record) {
            Ok((hdr, _)) => usize::from(hdr.port) < self.ports,
            Err(_) => false,
        };
        self.send_inject(record);
        self.run_until_idle();
        ok
    }
    fn pop_egress(&mut self) -> Option<(u8, Vec<u8>)> {
        self.egress.pop_front()
    }
    fn pop_host(&mut self) -> Option<Vec<u8>> {
        self.host.pop_front()
    }
}
