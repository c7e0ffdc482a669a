//! Register decode: BAR0 offsets to registers, table command, counters, activity and indirection.
//!
//! Reads of unmapped or unaligned offsets return 0; writes to them, and to read-only registers, are
//! ignored.

use super::tables::CONN_WAYS;
use super::Switch;
use crate::regs::{self, reg, region};

/// Index `i` when `offset` is word `i` of the `count` words at `base`.
pub(super) fn word_index(offset: u32, base: u32, count: usize) -> Option<usize> {
    let i = (offset.checked_sub(base)? / 4) as usize;
    (i < count).then_some(i)
}

impl Switch {
    pub(super) fn reg_read(&mut self, offset: u32) -> u32 {
        if !offset.is_multiple_of(4) {
            return 0;
        }
        let g = &self.geometry;
        let t = &self.tables;
        match offset {
            reg::ID => regs::DEVICE_ID,
            reg::VERSION => regs::MAP_VERSION,
            reg::NUM_PORTS => u32::from(g.ports),
            reg::NUM_SERVICES => u32::from(g.services),
            reg::NUM_MEMBERS => u32::from(g.members),
            reg::CONN_BUCKETS_LOG2 => u32::from(g.conn_buckets_log2),
            reg::CONN_WAYS => CONN_WAYS,
            reg::INDIR_SLOTS_LOG2 => u32::from(g.indir_slots_log2),
            reg::MAX_FRAME => self.max_frame,
            reg::TBL_STATUS => reg::TBL_STATUS_ERROR.place(u32::from(t.error)),
            reg::DEV_STATUS => reg::DEV_STATUS_RESET_SEEN.place(u32::from(self.reset_seen)),
            _ => {
                if let Some(i) = word_index(offset, reg::HASH_KEY, reg::HASH_KEY_COUNT) {
                    self.hash_key.0[i]
                } else if let Some(i) = word_index(offset, reg::TBL_WDATA, reg::TBL_WDATA_COUNT) {
                    t.wdata[i]
                } else if let Some(i) = word_index(offset, reg::TBL_RDATA, reg::TBL_RDATA_COUNT) {
                    t.rdata[i]
                } else if (region::CTR..region::CTR + region::CTR_SIZE).contains(&offset) {
                    self.counters.read(offset - region::CTR)
                } else if let Some(i) = word_index(offset, region::ACT, t.activity.len()) {
                    t.activity[i]
                } else if let Some(i) = word_index(offset, region::INDIR, t.indir.len()) {
                    t.indir[i]
                } else {
                    self.acp.read(offset).unwrap_or(0)
                }
            }
        }
    }

    pub(super) fn reg_write(&mut self, offset: u32, value: u32) {
        if !offset.is_multiple_of(4) {
            return;
        }
        if offset == reg::SOFT_RESET {
            if reg::SOFT_RESET_GO.extract(value) == 1 {
                self.soft_reset();
            }
            return;
        }
        let t = &mut self.tables;
        match offset {
            reg::DEV_STATUS => {
                self.reset_seen &= reg::DEV_STATUS_RESET_SEEN.extract(value) == 0;
            }
            reg::MAX_FRAME => self.max_frame = value,
            reg::CTR_CLEAR => self.counters.clear(),
            reg::TBL_CMD => t.command(value),
            reg::TBL_STATUS => t.error &= reg::TBL_STATUS_ERROR.extract(value) == 0,
            _ => {
                if let Some(i) = word_index(offset, reg::HASH_KEY, reg::HASH_KEY_COUNT) {
                    self.hash_key.0[i] = value;
                } else if let Some(i) = word_index(offset, reg::TBL_WDATA, reg::TBL_WDATA_COUNT) {
                    t.wdata[i] = value;
                } else if let Some(i) = word_index(offset, region::ACT, t.activity.len()) {
                    t.activity[i] &= !value;
                } else if let Some(i) = word_index(offset, region::INDIR, t.indir.len()) {
                    t.indir[i] = value;
                } else {
                    self.acp.write(offset, value);
                }
            }
        }
    }
}
