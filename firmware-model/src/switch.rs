//! The switch: register file, tables, counters and the per-frame step.

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

/// What the pipeline did with one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Forward { port: u8 },
    Host { reason: u8 },
    Drop { reason: u8 },
}

/// Result of [`Switch::step`]; reused across calls so the hot path does not allocate.
#[derive(Clone, Debug, Default)]
pub struct StepOutput {
    pub outcome: Option<Outcome>,
    /// The rewritten frame for `Forward`, the host record (header + frame) for `Host`, empty for `Drop`.
    pub bytes: Vec<u8>,
    /// A learn record emitted beside a `Forward`.
    pub learn: Option<[u8; crate::hostrec::HEADER_LEN]>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InjectError {
    Short,
    Version(u8),
    Mode(u8),
    Port(u8),
}

pub struct Switch {}

impl Switch {
    pub fn new(geometry: Geometry) -> Switch {
        todo!()
    }
    pub fn geometry(&self) -> Geometry {
        todo!()
    }
    pub fn read32(&mut self, offset: u32) -> u32 {
        todo!()
    }
    pub fn write32(&mut self, offset: u32, value: u32) {
        todo!()
    }
    /// The pure pipeline step: one frame from `port` (`injected`: host inject in pipeline mode).
    pub fn step(&mut self, port: u8, frame: &[u8], injected: bool, out: &mut StepOutput) {
        todo!()
    }
    /// A frame arrives on Ethernet port `port`; results queue on the egress and host queues.
    pub fn receive(&mut self, port: u8, frame: &[u8]) {
        todo!()
    }
    /// A host inject record (4-byte header + frame).
    pub fn inject(&mut self, record: &[u8]) -> Result<(), InjectError> {
        todo!()
    }
    /// Next frame leaving an Ethernet port, in the order the pipeline emitted them.
    pub fn pop_egress(&mut self) -> Option<(u8, Vec<u8>)> {
        todo!()
    }
    /// Next host-queue record (header + frame).
    pub fn pop_host(&mut self) -> Option<Vec<u8>> {
        todo!()
    }
}
