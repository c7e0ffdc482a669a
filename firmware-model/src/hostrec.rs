//! Host-queue record header and host inject header (docs/pipeline.md section 6).

/// Bytes of a host-queue record header.
pub const HEADER_LEN: usize = 32;
/// Bytes of a host inject header.
pub const INJECT_HEADER_LEN: usize = 4;

/// Record kinds.
pub const KIND_PUNT: u8 = 0;
pub const KIND_LEARN: u8 = 1;

/// The 32-byte header in front of every host-queue record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct HostHeader {
    pub kind: u8,
    pub reason: u8,
    pub in_port: u8,
    /// `0xffff` when none.
    pub service: u16,
    /// `0xffff` when none.
    pub member: u16,
    pub frame_len: u16,
    pub l3_offset: u8,
    pub vlan: bool,
    pub tuple: crate::FiveTuple,
    pub hash: u32,
}

impl HostHeader {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        todo!()
    }

    /// Parses a record's header; `None` if shorter than the header or of another version.
    pub fn decode(record: &[u8]) -> Option<HostHeader> {
        todo!()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InjectMode {
    /// Through the pipeline as if received on `port` (not counted in port rx).
    Pipeline,
    /// Straight out of `port`.
    Direct,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InjectHeader {
    pub mode: InjectMode,
    pub port: u8,
}

impl InjectHeader {
    pub fn encode(&self) -> [u8; INJECT_HEADER_LEN] {
        todo!()
    }
}
