//! The ACP block (docs/pipeline.md section 12): the frame switch's device side on the host queue.
//!
//! Every host record of an untagged IPv4 protocol-253 packet the pipeline punted as `l4_other`
//! offers its segment to the engine ([`SpecEngine`], `hw/rtl/anypoint_acp_out.sv`). A segment the
//! engine gives back leaves the record on its way to the host unchanged; a segment it takes
//! consumes the record, and each segment the engine sends leaves as a frame on the port of its
//! destination's neighbour entry.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use crate::frame_switch::fast::{Engine, Ring, SpecEngine, ENGINE_RING, ENGINE_SLOTS};
use crate::frame_switch::layout::{
    pack, pack_entry, unpack, unpack_entry, RECORD_WORDS, RING_WORDS,
};
use crate::frame_switch::Packet;
use crate::hostrec::{HEADER_LEN, KIND_PUNT};
use crate::regs::{reason, reg, table::acp_nbr};

use super::parse::IPV4_LEN;
use super::regfile::word_index;

/// Entries of the neighbour table.
pub const NEIGHBOURS: usize = reg::ACP_NBR_COUNT / acp_nbr::WORDS;
/// IP protocol of ACP (docs/acp.md).
const PROTO_ACP: u8 = 253;
/// Ethernet and IPv4 header bytes in front of a segment, and the record's bytes in front of those.
const ETH_IP_LEN: usize = 34;
/// Header bytes of ACP: shorter segments are not offered.
const ACP_HEADER_LEN: usize = acp::wire::HEADER_LEN;
/// The Ethernet minimum without FCS: shorter frames are zero padded.
const MIN_FRAME: usize = 60;
/// Buckets of the load fence (`ACP_BUCKETS`), one `ACP_BUCKET_GIVEN` count each: the six bits of
/// [`fence_bucket`].
pub const FENCE_BUCKETS: usize = reg::ACP_BUCKET_GIVEN_COUNT;
const _: () = assert!(FENCE_BUCKETS == 64);

/// Where a segment to one address goes: a neighbour entry's fields.
#[derive(Clone, Copy)]
struct Neighbour {
    port: u8,
    mac: [u8; 6],
}

pub(super) struct AcpBlock {
    engine: SpecEngine,
    staged: [u32; RECORD_WORDS],
    selected: usize,
    ring_wdata: [u32; RING_WORDS],
    ring_rdata: [u32; RING_WORDS],
    /// `ACP_NBR`, the defined bits of each word only.
    nbr: [u32; reg::ACP_NBR_COUNT],
    frames: u32,
    drops: u32,
    /// `ACP_GIVEN`: segments given back.
    given: u32,
    /// `ACP_BUCKET_GIVEN`: segments given back, by fence bucket.
    given_in: [u32; FENCE_BUCKETS],
    /// `ACP_FENCE`.
    fence: u32,
    /// `ACP_STATUS.REFUSED`.
    refused: bool,
    /// `ACP_RDATA` as last packed, until the engine or a command changes a slot (a host reads
    /// the record's 112 words in a row).
    rdata: Option<[u32; RECORD_WORDS]>,
}

/// The bits of word `word` of a neighbour entry that hold a field.
fn nbr_mask(word: usize) -> u32 {
    [
        acp_nbr::ADDR,
        acp_nbr::MAC_LO,
        acp_nbr::MAC_HI,
        acp_nbr::PORT,
        acp_nbr::VALID,
    ]
    .iter()
    .filter(|f| f.word == word)
    .fold(0, |m, f| m | f.mask())
}

impl AcpBlock {
    pub fn new() -> AcpBlock {
        AcpBlock {
            engine: SpecEngine::new(ENGINE_SLOTS, ENGINE_RING),
            staged: [0; RECORD_WORDS],
            selected: 0,
            ring_wdata: [0; RING_WORDS],
            ring_rdata: [0; RING_WORDS],
            nbr: [0; reg::ACP_NBR_COUNT],
            frames: 0,
            drops: 0,
            given: 0,
            given_in: [0; FENCE_BUCKETS],
            fence: 0,
            refused: false,
            rdata: None,
        }
    }

    /// A reset: registers and counts zero, every slot invalid; the slots' records and rings (block
    /// RAM) keep what they held.
    pub fn reset(&mut self) {
        let mut engine = std::mem::replace(&mut self.engine, SpecEngine::new(0, 0));
        engine.reset();
        *self = AcpBlock {
            engine,
            ..AcpBlock::new()
        };
    }

    /// The value of ACP register `offset`, `None` when it is not one.
    pub fn read(&mut self, offset: u32) -> Option<u32> {
        let status = || {
            reg::ACP_STATUS_VALID.place(u32::from(self.engine.valid(self.selected)))
                | reg::ACP_STATUS_REFUSED.place(u32::from(self.refused))
        };
        Some(match offset {
            reg::ACP_SLOTS => ENGINE_SLOTS as u32,
            reg::ACP_RING_LOG2 => ENGINE_RING.trailing_zeros(),
            reg::ACP_NEIGHBOURS => NEIGHBOURS as u32,
            reg::ACP_FRAMES => self.frames,
            reg::ACP_DROPS => self.drops,
            reg::ACP_GIVEN => self.given,
            reg::ACP_BUCKETS => FENCE_BUCKETS as u32,
            reg::ACP_FENCE => self.fence,
            reg::ACP_STATUS => status(),
            _ => {
                if let Some(i) = word_index(offset, reg::ACP_RING_WDATA, RING_WORDS) {
                    self.ring_wdata[i]
                } else if let Some(i) = word_index(offset, reg::ACP_RING_RDATA, RING_WORDS) {
                    self.ring_rdata[i]
                } else if let Some(i) = word_index(offset, reg::ACP_TAKEN, reg::ACP_TAKEN_COUNT) {
                    let t = self.engine.taken(self.selected);
                    [
                        t.out_data, t.out_ack, t.in_data, t.in_rtx, t.in_ack, t.out_rtx,
                    ][i] as u32
                } else if let Some(i) = word_index(offset, reg::ACP_NBR, reg::ACP_NBR_COUNT) {
                    self.nbr[i]
                } else if let Some(i) =
                    word_index(offset, reg::ACP_BUCKET_GIVEN, reg::ACP_BUCKET_GIVEN_COUNT)
                {
                    self.given_in[i]
                } else if let Some(i) = word_index(offset, reg::ACP_REC, RECORD_WORDS) {
                    self.staged[i]
                } else if let Some(i) = word_index(offset, reg::ACP_RDATA, RECORD_WORDS) {
                    let (engine, slot) = (&mut self.engine, self.selected);
                    self.rdata.get_or_insert_with(|| pack(&engine.read(slot)))[i]
                } else {
                    return None;
                }
            }
        })
    }

    /// Writes ACP register `offset`; other offsets are ignored.
    pub fn write(&mut self, offset: u32, value: u32) {
        match offset {
            reg::ACP_CMD => self.command(value),
            reg::ACP_RING_CMD => self.ring_command(value),
            reg::ACP_FENCE => self.fence = value,
            _ => {
                if let Some(i) = word_index(offset, reg::ACP_RING_WDATA, RING_WORDS) {
                    self.ring_wdata[i] = value;
                } else if let Some(i) = word_index(offset, reg::ACP_NBR, reg::ACP_NBR_COUNT) {
                    self.nbr[i] = value & nbr_mask(i % acp_nbr::WORDS);
                } else if let Some(i) = word_index(offset, reg::ACP_REC, RECORD_WORDS) {
                    self.staged[i] = value;
                }
            }
        }
    }

    fn command(&mut self, value: u32) {
        self.rdata = None;
        let slot = reg::ACP_CMD_SLOT.extract(value) as usize;
        if slot >= ENGINE_SLOTS {
            return;
        }
        match reg::ACP_CMD_OP.extract(value) {
            1 => {
                // Fenced: a record given back and not yet read may be of this flow, if it is in the
                // bucket of the flow's peer (every segment of the flow is from or to the peer).
                let rec = unpack(&self.staged);
                let peer = fence_bucket(*rec.peer.ip(), rec.peer.port());
                self.refused =
                    reg::ACP_CMD_FENCED.extract(value) == 1 && self.given_in[peer] != self.fence;
                if !self.refused {
                    self.engine.set_record(slot, &rec);
                }
            }
            2 => self.engine.unload(slot),
            3 => self.selected = slot,
            _ => {}
        }
    }

    fn ring_command(&mut self, value: u32) {
        let slot = reg::ACP_RING_CMD_SLOT.extract(value) as usize;
        let idx = reg::ACP_RING_CMD_INDEX.extract(value) as u16;
        if slot >= ENGINE_SLOTS || usize::from(idx) >= ENGINE_RING {
            return;
        }
        let ring = if reg::ACP_RING_CMD_OUT.extract(value) == 1 {
            Ring::Out
        } else {
            Ring::In
        };
        match reg::ACP_RING_CMD_OP.extract(value) {
            1 => self
                .engine
                .write_ring(slot, ring, idx, unpack_entry(&self.ring_wdata)),
            2 => self.ring_rdata = pack_entry(&self.engine.ring(slot, ring, idx)),
            _ => {}
        }
    }

    /// A host record on its way to the host queue: `Some` the record when it goes on, `None` when
    /// the engine took its segment (what it sent queued on `egress`, each frame's source MAC the
    /// port's from `port_mac`; a port the switch does not have answers `None`).
    pub fn tap(
        &mut self,
        record: Vec<u8>,
        port_mac: impl Fn(u8) -> Option<[u8; 6]>,
        egress: &mut VecDeque<(u8, Vec<u8>)>,
    ) -> Option<Vec<u8>> {
        let Some(pkt) = segment(&record) else {
            return Some(record);
        };
        self.rdata = None;
        let Ok(out) = self.engine.send(&pkt) else {
            self.given = self.given.wrapping_add(1);
            count_in_buckets(&mut self.given_in, &pkt);
            return Some(record);
        };
        for p in out {
            let frame = self
                .neighbour(p.dst)
                .and_then(|n| Some((n.port, frame(&p, n.mac, port_mac(n.port)?))));
            match frame {
                Some(f) => {
                    self.frames = self.frames.wrapping_add(1);
                    egress.push_back(f);
                }
                None => self.drops = self.drops.wrapping_add(1),
            }
        }
        None
    }

    /// The first valid neighbour entry of `addr`.
    fn neighbour(&self, addr: Ipv4Addr) -> Option<Neighbour> {
        self.nbr.chunks(acp_nbr::WORDS).find_map(|e| {
            let valid = acp_nbr::VALID.get(e) == 1 && acp_nbr::ADDR.get(e) == u32::from(addr);
            valid.then(|| {
                let hi = acp_nbr::MAC_HI.get(e).to_be_bytes();
                let lo = acp_nbr::MAC_LO.get(e).to_be_bytes();
                Neighbour {
                    port: acp_nbr::PORT.get(e) as u8,
                    mac: [hi[2], hi[3], lo[0], lo[1], lo[2], lo[3]],
                }
            })
        })
    }
}

/// The ACP segment of a host record, the one the ACP block offers its engine: a punt record,
/// reason `l4_other`, of an untagged frame (the pipeline then vouches for a 20-byte IPv4 header
/// and its total length) of protocol 253, at least an ACP header long. The host counts the
/// records that have one as it reads them, for a fenced load (`ACP_FENCE`).
pub fn segment(record: &[u8]) -> Option<Packet> {
    let (hdr, frame) = (record.get(..HEADER_LEN)?, &record[HEADER_LEN..]);
    let untagged = hdr[11] & 1 == 0;
    if hdr[1] != KIND_PUNT || hdr[2] != reason::L4_OTHER || !untagged {
        return None;
    }
    let ip = frame.get(14..ETH_IP_LEN)?;
    if ip[9] != PROTO_ACP {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if total < IPV4_LEN + ACP_HEADER_LEN {
        return None;
    }
    Some(Packet {
        src: Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
        dst: Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
        segment: frame.get(ETH_IP_LEN..14 + total)?.to_vec(),
    })
}

/// The fence bucket of an address and port: the 48 bits of address (high) and port (low) folded
/// into 6 by exclusive or, so that consecutive ports fall in different buckets.
pub fn fence_bucket(addr: Ipv4Addr, port: u16) -> usize {
    let bits = (u64::from(u32::from(addr)) << 16) | u64::from(port);
    (0..8).fold(0, |b, i| b ^ ((bits >> (6 * i)) & 63)) as usize
}

/// Counts the record of segment `pkt` (one [`segment`] gives) in the fence buckets of its source
/// and of its destination, once when both are the same bucket: every segment of a flow is from or
/// to its peer, so a bucket whose count the host has read up to holds none of the flow's records
/// when it is the peer's.
pub fn count_in_buckets(counts: &mut [u32; FENCE_BUCKETS], pkt: &Packet) {
    let port = |i: usize| u16::from_be_bytes([pkt.segment[i], pkt.segment[i + 1]]);
    let src = fence_bucket(pkt.src, port(0));
    let dst = fence_bucket(pkt.dst, port(2));
    counts[src] = counts[src].wrapping_add(1);
    if dst != src {
        counts[dst] = counts[dst].wrapping_add(1);
    }
}

/// The frame of an ACP segment (one the engine sent, or the host's slow path): Ethernet to
/// `dst_mac` from `src_mac`, a 20-byte IPv4 header (identification 0, DF, TTL 64, protocol 253, its
/// checksum), zero padded to 60 bytes.
pub fn frame(p: &Packet, dst_mac: [u8; 6], src_mac: [u8; 6]) -> Vec<u8> {
    let total = (20 + p.segment.len()) as u16;
    let mut f = Vec::with_capacity(ETH_IP_LEN + p.segment.len());
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0x00]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, PROTO_ACP, 0, 0]);
    f.extend_from_slice(&p.src.octets());
    f.extend_from_slice(&p.dst.octets());
    let sum = super::checksum::header_checksum(&f[14..ETH_IP_LEN]);
    f[24..26].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&p.segment);
    f.resize(f.len().max(MIN_FRAME), 0);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fence_buckets_fold_address_and_port() {
        // 10.0.0.1 port 40000: 0x0a000001_9c40 in six-bit pieces, high first, 2 32 0 0 0 25 49 0,
        // whose exclusive or is 10; the next port lands elsewhere.
        assert_eq!(fence_bucket(Ipv4Addr::new(10, 0, 0, 1), 40000), 10);
        assert_eq!(fence_bucket(Ipv4Addr::new(10, 0, 0, 1), 40001), 11);
        let pkt = |src: [u8; 4], dst: [u8; 4], ports: [u8; 4]| Packet {
            src: src.into(),
            dst: dst.into(),
            segment: [&ports[..], &[0; 16]].concat(),
        };
        let mut counts = [0; FENCE_BUCKETS];
        // 10.0.0.1:40000 (10) to 10.0.0.100:7000 (15); then both ends in bucket 10, counted once.
        count_in_buckets(
            &mut counts,
            &pkt([10, 0, 0, 1], [10, 0, 0, 100], [0x9c, 0x40, 0x1b, 0x58]),
        );
        count_in_buckets(
            &mut counts,
            &pkt([10, 0, 0, 1], [10, 0, 0, 1], [0x9c, 0x40, 0x9c, 0x40]),
        );
        assert_eq!(
            (counts[10], counts[15], counts.iter().sum::<u32>()),
            (2, 1, 3)
        );
    }
}
