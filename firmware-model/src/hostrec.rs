//! Host-queue record header and host inject header (docs/pipeline.md section 6).

use crate::{FiveTuple, InjectError};

/// Bytes of a host-queue record header.
pub const HEADER_LEN: usize = 32;
/// Bytes of a host inject header.
pub const INJECT_HEADER_LEN: usize = 4;

/// Record kinds.
pub const KIND_PUNT: u8 = 0;
pub const KIND_LEARN: u8 = 1;
/// Header-only record of a TCP FIN or RST forwarded on a connection (reason `tcp_fin`/`tcp_rst`).
pub const KIND_STATE: u8 = 2;

/// `version` byte of both headers.
pub const VERSION: u8 = 1;
/// `service`/`member` value meaning "none".
pub const NONE_ID: u16 = 0xffff;
/// `flags` bit: the frame carries an 802.1Q tag.
const FLAG_VLAN: u8 = 1;

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
        let mut b = [0u8; HEADER_LEN];
        b[0] = VERSION;
        b[1] = self.kind;
        b[2] = self.reason;
        b[3] = self.in_port;
        b[4..6].copy_from_slice(&self.service.to_be_bytes());
        b[6..8].copy_from_slice(&self.member.to_be_bytes());
        b[8..10].copy_from_slice(&self.frame_len.to_be_bytes());
        b[10] = self.l3_offset;
        b[11] = if self.vlan { FLAG_VLAN } else { 0 };
        b[12..16].copy_from_slice(&self.tuple.src_ip.to_be_bytes());
        b[16..20].copy_from_slice(&self.tuple.dst_ip.to_be_bytes());
        b[20..22].copy_from_slice(&self.tuple.src_port.to_be_bytes());
        b[22..24].copy_from_slice(&self.tuple.dst_port.to_be_bytes());
        b[24] = self.tuple.proto;
        b[28..32].copy_from_slice(&self.hash.to_be_bytes());
        b
    }

    /// Parses a record's header; `None` if shorter than the header or of another version.
    pub fn decode(record: &[u8]) -> Option<HostHeader> {
        let b: &[u8; HEADER_LEN] = record.get(..HEADER_LEN)?.try_into().ok()?;
        if b[0] != VERSION {
            return None;
        }
        let be16 = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let be32 = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(HostHeader {
            kind: b[1],
            reason: b[2],
            in_port: b[3],
            service: be16(4),
            member: be16(6),
            frame_len: be16(8),
            l3_offset: b[10],
            vlan: b[11] & FLAG_VLAN != 0,
            tuple: FiveTuple {
                src_ip: be32(12),
                dst_ip: be32(16),
                src_port: be16(20),
                dst_port: be16(22),
                proto: b[24],
            },
            hash: be32(28),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InjectMode {
    /// Through the pipeline as if received on `port` (not counted in port rx).
    Pipeline,
    /// Straight out of `port`.
    Direct,
}

impl InjectMode {
    fn code(self) -> u8 {
        match self {
            InjectMode::Pipeline => 0,
            InjectMode::Direct => 1,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InjectHeader {
    pub mode: InjectMode,
    pub port: u8,
}

impl InjectHeader {
    pub fn encode(&self) -> [u8; INJECT_HEADER_LEN] {
        [VERSION, self.mode.code(), self.port, 0]
    }

    /// Splits an inject record into its header and frame. The port is not checked here: only the
    /// switch knows how many ports it has. The reserved byte is ignored.
    pub fn decode(record: &[u8]) -> Result<(InjectHeader, &[u8]), InjectError> {
        let Some((hdr, frame)) = record.split_first_chunk::<INJECT_HEADER_LEN>() else {
            return Err(InjectError::Short);
        };
        let [version, mode, port, _] = *hdr;
        if version != VERSION {
            return Err(InjectError::Version(version));
        }
        let mode = match mode {
            0 => InjectMode::Pipeline,
            1 => InjectMode::Direct,
            m => return Err(InjectError::Mode(m)),
        };
        Ok((InjectHeader { mode, port }, frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> HostHeader {
        HostHeader {
            kind: KIND_LEARN,
            reason: 22,
            in_port: 3,
            service: 0x0102,
            member: 0x0304,
            frame_len: 0x0506,
            l3_offset: 18,
            vlan: true,
            tuple: FiveTuple {
                src_ip: 0x0a0b_0c0d,
                dst_ip: 0x1112_1314,
                src_port: 0x2122,
                dst_port: 0x3132,
                proto: 17,
            },
            hash: 0x4142_4344,
        }
    }

    #[test]
    fn header_bytes_follow_the_spec_table() {
        let expected: [u8; 32] = [
            1, 1, 22, 3, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 18, 1, 0x0a, 0x0b, 0x0c, 0x0d, 0x11,
            0x12, 0x13, 0x14, 0x21, 0x22, 0x31, 0x32, 17, 0, 0, 0, 0x41, 0x42, 0x43, 0x44,
        ];
        assert_eq!(sample().encode(), expected);
    }

    #[test]
    fn decode_inverts_encode_and_ignores_the_frame() {
        let mut record = sample().encode().to_vec();
        record.extend_from_slice(&[0xaa; 10]);
        assert_eq!(HostHeader::decode(&record), Some(sample()));
        let plain = HostHeader {
            vlan: false,
            ..sample()
        };
        assert_eq!(HostHeader::decode(&plain.encode()), Some(plain));
    }

    #[test]
    fn decode_rejects_short_records_and_other_versions() {
        let record = sample().encode();
        assert_eq!(HostHeader::decode(&record[..31]), None);
        let mut other = record;
        other[0] = 2;
        assert_eq!(HostHeader::decode(&other), None);
    }

    #[test]
    fn inject_header_round_trip() {
        for (mode, code) in [(InjectMode::Pipeline, 0), (InjectMode::Direct, 1)] {
            let hdr = InjectHeader { mode, port: 2 };
            assert_eq!(hdr.encode(), [1, code, 2, 0]);
            let record = [1, code, 2, 0, 0xee];
            assert_eq!(InjectHeader::decode(&record), Ok((hdr, &record[4..])));
        }
    }

    #[test]
    fn inject_header_errors() {
        assert_eq!(InjectHeader::decode(&[1, 0, 0]), Err(InjectError::Short));
        assert_eq!(
            InjectHeader::decode(&[2, 0, 0, 0]),
            Err(InjectError::Version(2))
        );
        assert_eq!(
            InjectHeader::decode(&[1, 2, 0, 0]),
            Err(InjectError::Mode(2))
        );
    }
}
