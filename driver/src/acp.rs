//! The device's ACP block through the register seam (docs/pipeline.md section 12): its flow slots,
//! their rings and its neighbour table. A slot or ring command's write completes once the block has
//! carried it out, between segments.

use std::net::Ipv4Addr;

use anypoint_model::frame_switch::fast::{Entries, FlowRecord, Ring, RingEntry, TakenCount};
use anypoint_model::frame_switch::layout::{
    pack, pack_entry, unpack, unpack_entry, RECORD_WORDS, RING_WORDS,
};
use anypoint_model::regs::{reg, table::acp_nbr};
use anypoint_model::{acp_fence_bucket, ACP_FENCE_BUCKETS};

use crate::access::RegisterAccess;

const CMD_LOAD: u32 = 1;
const CMD_UNLOAD: u32 = 2;
const CMD_SELECT: u32 = 3;
const RING_WRITE: u32 = 1;
const RING_READ: u32 = 2;

/// The block's size as its capability registers give it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    pub slots: usize,
    pub ring_entries: usize,
    pub neighbours: usize,
    /// Buckets of the load fence.
    pub fence_buckets: usize,
}

/// Where the block sends a segment to one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbour {
    pub addr: Ipv4Addr,
    pub port: u8,
    pub mac: [u8; 6],
}

pub fn size(a: &mut impl RegisterAccess) -> Size {
    Size {
        slots: a.read32(reg::ACP_SLOTS) as usize,
        ring_entries: 1 << a.read32(reg::ACP_RING_LOG2).min(16),
        neighbours: a.read32(reg::ACP_NEIGHBOURS) as usize,
        fence_buckets: a.read32(reg::ACP_BUCKETS) as usize,
    }
}

fn slot_cmd(a: &mut impl RegisterAccess, slot: usize, op: u32) {
    a.write32(
        reg::ACP_CMD,
        reg::ACP_CMD_SLOT.place(slot as u32) | reg::ACP_CMD_OP.place(op),
    );
}

fn ring_cmd(a: &mut impl RegisterAccess, slot: usize, ring: Ring, idx: u16, op: u32) {
    a.write32(
        reg::ACP_RING_CMD,
        reg::ACP_RING_CMD_INDEX.place(idx.into())
            | reg::ACP_RING_CMD_SLOT.place(slot as u32)
            | reg::ACP_RING_CMD_OUT.place(u32::from(ring == Ring::Out))
            | reg::ACP_RING_CMD_OP.place(op),
    );
}

/// Writes entry `idx` of slot `slot`'s ring `ring`.
pub fn write_ring(a: &mut impl RegisterAccess, slot: usize, ring: Ring, idx: u16, e: &RingEntry) {
    a.write_words(reg::ACP_RING_WDATA, &pack_entry(e));
    ring_cmd(a, slot, ring, idx, RING_WRITE);
}

/// Entry `idx` of slot `slot`'s ring `ring`.
pub fn read_ring(a: &mut impl RegisterAccess, slot: usize, ring: Ring, idx: u16) -> RingEntry {
    ring_cmd(a, slot, ring, idx, RING_READ);
    let mut words = [0; RING_WORDS];
    for (i, w) in words.iter_mut().enumerate() {
        *w = a.read32(reg::ACP_RING_RDATA + 4 * i as u32);
    }
    unpack_entry(&words)
}

/// Loads slot `slot` with `rec` and the flow's frames in flight (oldest first, from ring index
/// `rec.in_idx` inbound and `rec.out_lidx` outbound): the rings first, then the record, which makes
/// the slot valid with its taken counts zero.
pub fn load(a: &mut impl RegisterAccess, slot: usize, rec: &FlowRecord, in_flight: &Entries) {
    stage(a, slot, rec, in_flight);
    slot_cmd(a, slot, CMD_LOAD);
}

/// [`load`] fenced: carried out only if the block has given back exactly as many segments
/// (wrapping) in the fence bucket of the flow's peer (`anypoint_model::acp_fence_bucket`) as
/// `records_read` holds for it, the ACP records (`anypoint_model::acp_segment`) the host has read
/// and handled by bucket, so that no record of the flow is still on its way to the host. False
/// when the block refused it (the slot is then invalid, its rings overwritten). The bucket's count
/// only grows, so one that already differs refuses the load before anything is staged.
pub fn load_fenced(
    a: &mut impl RegisterAccess,
    slot: usize,
    rec: &FlowRecord,
    in_flight: &Entries,
    records_read: &[u32; ACP_FENCE_BUCKETS],
) -> bool {
    let bucket = acp_fence_bucket(*rec.peer.ip(), rec.peer.port());
    let records_read = records_read[bucket];
    if given_in(a, bucket) != records_read {
        return false;
    }
    stage(a, slot, rec, in_flight);
    a.write32(reg::ACP_FENCE, records_read);
    a.write32(
        reg::ACP_CMD,
        reg::ACP_CMD_SLOT.place(slot as u32)
            | reg::ACP_CMD_FENCED.place(1)
            | reg::ACP_CMD_OP.place(CMD_LOAD),
    );
    reg::ACP_STATUS_REFUSED.extract(a.read32(reg::ACP_STATUS)) == 0
}

/// The rings' entries in flight and the staged record of a load.
fn stage(a: &mut impl RegisterAccess, slot: usize, rec: &FlowRecord, in_flight: &Entries) {
    let w = usize::from(rec.w.max(1));
    let rings = [
        (Ring::In, rec.in_idx, &in_flight.inbound),
        (Ring::Out, rec.out_lidx, &in_flight.outbound),
    ];
    for (ring, from, entries) in rings {
        for (k, e) in entries.iter().enumerate() {
            write_ring(a, slot, ring, ((usize::from(from) + k) % w) as u16, e);
        }
    }
    a.write_words(reg::ACP_REC, &pack(rec));
}

/// Segments the block gave back (`ACP_GIVEN`, wrapping).
pub fn given(a: &mut impl RegisterAccess) -> u32 {
    a.read32(reg::ACP_GIVEN)
}

/// Segments the block gave back in fence bucket `bucket` (`ACP_BUCKET_GIVEN`, wrapping).
pub fn given_in(a: &mut impl RegisterAccess, bucket: usize) -> u32 {
    a.read32(reg::ACP_BUCKET_GIVEN + 4 * bucket as u32)
}

/// Makes slot `slot` invalid: the block gives its flow's segments back from then on.
pub fn unload(a: &mut impl RegisterAccess, slot: usize) {
    slot_cmd(a, slot, CMD_UNLOAD);
}

/// Slot `slot`'s record as the block holds it (steady once the slot is invalid).
pub fn read(a: &mut impl RegisterAccess, slot: usize) -> FlowRecord {
    slot_cmd(a, slot, CMD_SELECT);
    let mut words = [0; RECORD_WORDS];
    for (i, w) in words.iter_mut().enumerate() {
        *w = a.read32(reg::ACP_RDATA + 4 * i as u32);
    }
    unpack(&words)
}

/// Whether slot `slot` is valid.
pub fn valid(a: &mut impl RegisterAccess, slot: usize) -> bool {
    slot_cmd(a, slot, CMD_SELECT);
    reg::ACP_STATUS_VALID.extract(a.read32(reg::ACP_STATUS)) == 1
}

/// Segments slot `slot` took since it was loaded, by kind.
pub fn taken(a: &mut impl RegisterAccess, slot: usize) -> TakenCount {
    slot_cmd(a, slot, CMD_SELECT);
    let mut words = [0u32; 6];
    for (i, v) in words.iter_mut().enumerate() {
        *v = a.read32(reg::ACP_TAKEN + 4 * i as u32);
    }
    TakenCount::from_device(words)
}

/// Sets neighbour entry `i` (`None`: unused). The entry is invalid while it changes, so the block
/// never uses half of one.
pub fn set_neighbour(a: &mut impl RegisterAccess, i: usize, n: Option<Neighbour>) {
    let base = reg::ACP_NBR + (4 * acp_nbr::WORDS * i) as u32;
    let word = |k: usize| base + 4 * k as u32;
    a.write32(word(acp_nbr::VALID.word), 0);
    let Some(n) = n else {
        return;
    };
    let mut e = [0u32; acp_nbr::WORDS];
    acp_nbr::ADDR.set(&mut e, n.addr.into());
    acp_nbr::MAC_LO.set(&mut e, u32::from_be_bytes(n.mac[2..6].try_into().unwrap()));
    acp_nbr::MAC_HI.set(&mut e, u16::from_be_bytes([n.mac[0], n.mac[1]]).into());
    acp_nbr::PORT.set(&mut e, n.port.into());
    for (k, w) in e
        .iter()
        .enumerate()
        .filter(|(k, _)| *k != acp_nbr::VALID.word)
    {
        a.write32(word(k), *w);
    }
    acp_nbr::VALID.set(&mut e, 1);
    a.write32(word(acp_nbr::VALID.word), e[acp_nbr::VALID.word]);
}

/// Frames the block sent, and segments it dropped for want of a neighbour entry.
pub fn frames_and_drops(a: &mut impl RegisterAccess) -> (u32, u32) {
    (a.read32(reg::ACP_FRAMES), a.read32(reg::ACP_DROPS))
}
