//! The switch: register file, tables, counters, the per-frame step and the ACP block.

mod acp;
mod checksum;
mod counters;
mod decide;
mod lookup;
mod parse;
mod pipeline;
mod regfile;
mod rewrite;
mod tables;

use std::collections::VecDeque;

use crate::hostrec::{InjectHeader, InjectMode};
use crate::regs::{ctr, reg};
use crate::HashKey;
use acp::AcpBlock;
pub use acp::{
    count_in_buckets as acp_count_in_buckets, fence_bucket as acp_fence_bucket, frame as acp_frame,
    segment as acp_segment, FENCE_BUCKETS as ACP_FENCE_BUCKETS,
};
use counters::Counters;
use tables::Tables;

/// Table sizes, fixed when the switch is built and read back through the capability registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub ports: u8,
    pub services: u16,
    pub members: u16,
    pub conn_buckets_log2: u8,
    pub indir_slots_log2: u8,
}

impl Default for Geometry {
    /// 4 ports, 64 services, 1024 members, 2 x 8192 x 4 connection entries, 65536 indirection slots.
    fn default() -> Self {
        Geometry {
            ports: 4,
            services: 64,
            members: 1024,
            conn_buckets_log2: 13,
            indir_slots_log2: 16,
        }
    }
}

/// Largest geometry the register map has room for.
const MAX_PORTS: u8 = ctr::port::COUNT as u8;
const MAX_SERVICES: u16 = ctr::service::COUNT as u16;
const MAX_MEMBERS: u16 = ctr::member::COUNT as u16;
/// The `ACT` region holds one bit per connection entry: 2 banks x 2^16 buckets x 4 ways.
const MAX_CONN_BUCKETS_LOG2: u8 = 16;
/// The `INDIR` region holds one word per slot.
const MAX_INDIR_SLOTS_LOG2: u8 = 16;

/// What the pipeline did with one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Forward { port: u8 },
    Host { reason: u8 },
    Drop { reason: u8 },
}

/// A frame that is not forwarded: to the host or dropped, with its reason code.
#[derive(Clone, Copy, Debug)]
enum Punt {
    Host(u8),
    Drop(u8),
}

impl Punt {
    fn outcome(self) -> Outcome {
        match self {
            Punt::Host(reason) => Outcome::Host { reason },
            Punt::Drop(reason) => Outcome::Drop { reason },
        }
    }
}

/// Result of [`Switch::step`]; reused across calls so the hot path does not allocate.
#[derive(Clone, Debug, Default)]
pub struct StepOutput {
    pub outcome: Option<Outcome>,
    /// The rewritten frame for `Forward`, the host record (header + frame) for `Host`, empty for `Drop`.
    pub bytes: Vec<u8>,
    /// A header-only learn or state record emitted beside a `Forward` (docs/pipeline.md section 6).
    pub record: Option<[u8; crate::hostrec::HEADER_LEN]>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InjectError {
    Short,
    Version(u8),
    Mode(u8),
    Port(u8),
}

pub struct Switch {
    geometry: Geometry,
    max_frame: u32,
    hash_key: HashKey,
    tables: Tables,
    counters: Counters,
    egress: VecDeque<(u8, Vec<u8>)>,
    host: VecDeque<Vec<u8>>,
    acp: AcpBlock,
    /// `DEV_STATUS.RESET_SEEN`.
    reset_seen: bool,
}

impl Switch {
    /// A switch in its reset state: every table, counter and the hash key zero.
    ///
    /// # Panics
    /// If `geometry` exceeds what the register map can address (`MAX_*`).
    pub fn new(geometry: Geometry) -> Switch {
        assert!(
            geometry.ports <= MAX_PORTS
                && geometry.services <= MAX_SERVICES
                && geometry.members <= MAX_MEMBERS
                && geometry.conn_buckets_log2 <= MAX_CONN_BUCKETS_LOG2
                && geometry.indir_slots_log2 <= MAX_INDIR_SLOTS_LOG2,
            "geometry {geometry:?} exceeds the register map"
        );
        Switch {
            geometry,
            max_frame: reg::MAX_FRAME_RESET,
            hash_key: HashKey::default(),
            tables: Tables::new(&geometry),
            counters: Counters::new(),
            egress: VecDeque::new(),
            host: VecDeque::new(),
            acp: AcpBlock::new(),
            reset_seen: true,
        }
    }
    /// `SOFT_RESET`: the power-on state again. Frames already on the egress and host queues have
    /// left the pipeline (on the wire, in host memory) and stay; the model has none in flight.
    /// The ACP block's records and rings, block RAM, keep their contents (its slots invalid).
    fn soft_reset(&mut self) {
        let egress = std::mem::take(&mut self.egress);
        let host = std::mem::take(&mut self.host);
        let mut acp = std::mem::replace(&mut self.acp, AcpBlock::new());
        acp.reset();
        *self = Switch {
            egress,
            host,
            acp,
            ..Switch::new(self.geometry)
        };
    }
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }
    pub fn read32(&mut self, offset: u32) -> u32 {
        self.reg_read(offset)
    }
    pub fn write32(&mut self, offset: u32, value: u32) {
        self.reg_write(offset, value)
    }
    /// The pure pipeline step: one frame from `port` (`injected`: host inject in pipeline mode).
    ///
    /// A `port` the switch does not have leaves `out.outcome` `None` and counts nothing.
    pub fn step(&mut self, port: u8, frame: &[u8], injected: bool, out: &mut StepOutput) {
        self.run_step(port, frame, injected, out)
    }
    /// A frame arrives on Ethernet port `port`; results queue on the egress and host queues.
    /// A frame on a port the switch does not have is ignored.
    pub fn receive(&mut self, port: u8, frame: &[u8]) {
        self.step_and_queue(port, frame, false)
    }
    /// A host inject record (4-byte header + frame).
    pub fn inject(&mut self, record: &[u8]) -> Result<(), InjectError> {
        let (hdr, frame) = InjectHeader::decode(record)?;
        if hdr.port >= self.geometry.ports {
            return Err(InjectError::Port(hdr.port));
        }
        match hdr.mode {
            InjectMode::Pipeline => self.step_and_queue(hdr.port, frame, true),
            // Direct frames bypass every check, the port's `enabled` flag included.
            InjectMode::Direct => {
                self.counters.port_tx(hdr.port, frame.len());
                self.egress.push_back((hdr.port, frame.to_vec()));
            }
        }
        Ok(())
    }
    /// Next frame leaving an Ethernet port, in the order the pipeline emitted them.
    pub fn pop_egress(&mut self) -> Option<(u8, Vec<u8>)> {
        self.egress.pop_front()
    }
    /// Next host-queue record (header + frame).
    pub fn pop_host(&mut self) -> Option<Vec<u8>> {
        self.host.pop_front()
    }

    /// Steps a frame and queues what it produced: a forwarded frame on egress, a host record or a
    /// learn or state record on the host queue; a host record through the ACP block first.
    fn step_and_queue(&mut self, port: u8, frame: &[u8], injected: bool) {
        // A fresh output: its buffer moves into the queue, so reusing one would not save anything.
        let mut out = StepOutput::default();
        self.step(port, frame, injected, &mut out);
        match out.outcome {
            Some(Outcome::Forward { port }) => self.egress.push_back((port, out.bytes)),
            Some(Outcome::Host { .. }) => {
                let (tables, ports) = (&self.tables, self.geometry.ports);
                let port_mac = |p: u8| (p < ports).then(|| tables.port(p).mac);
                if let Some(record) = self.acp.tap(out.bytes, port_mac, &mut self.egress) {
                    self.host.push_back(record);
                }
            }
            Some(Outcome::Drop { .. }) | None => {}
        }
        if let Some(record) = out.record {
            self.host.push_back(record.to_vec());
        }
    }
}
