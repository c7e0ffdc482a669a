//! The closing reads of a vector: every counter and activity word that is not zero.

use crate::recorder::Recorder;
use anypoint_driver::cuckoo::WAYS;
use anypoint_driver::{Backend, RegisterAccess};
use anypoint_model::regs::{ctr, region};
use anypoint_model::Geometry;

/// Byte offset of every counter the geometry has, block by block.
fn counter_offsets(g: &Geometry) -> Vec<u32> {
    let blocks = [
        (
            ctr::port::OFFSET,
            ctr::port::STRIDE,
            usize::from(g.ports),
            ctr::port::NAMES.len(),
        ),
        (
            ctr::reason::OFFSET,
            ctr::reason::STRIDE,
            ctr::reason::COUNT,
            ctr::reason::NAMES.len(),
        ),
        (
            ctr::service::OFFSET,
            ctr::service::STRIDE,
            usize::from(g.services),
            ctr::service::NAMES.len(),
        ),
        (
            ctr::member::OFFSET,
            ctr::member::STRIDE,
            usize::from(g.members),
            ctr::member::NAMES.len(),
        ),
    ];
    let mut offsets = Vec::new();
    for (offset, stride, instances, counters) in blocks {
        for i in 0..instances as u32 {
            for c in 0..counters as u32 {
                offsets.push(region::CTR + offset + i * stride + 8 * c);
            }
        }
    }
    offsets
}

/// Byte offset of every activity word: one bit per connection entry.
fn activity_offsets(g: &Geometry) -> impl Iterator<Item = u32> {
    let entries = (2 * WAYS) << g.conn_buckets_log2;
    (0..entries.div_ceil(32)).map(|w| region::ACT + 4 * w)
}

/// Logs a `read` of every non-zero counter (low word, then the latched high word) and of every
/// non-zero activity word. Zero values are skipped to keep vectors short.
pub fn read_nonzero<B: Backend>(rec: &mut Recorder<B>, g: &Geometry) {
    for offset in counter_offsets(g) {
        if rec.peek32(offset) != 0 || rec.peek32(offset + 4) != 0 {
            rec.read32(offset);
            rec.read32(offset + 4);
        }
    }
    for offset in activity_offsets(g) {
        if rec.peek32(offset) != 0 {
            rec.read32(offset);
        }
    }
}
