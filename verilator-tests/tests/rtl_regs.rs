//! Register interface of the Verilated RTL against the model: identification, TBL_CMD, regions.

use anypoint_model::regs::{reg, region};
use anypoint_model::Switch;
use verilator_tests::rtl::{RtlSwitch, Width, GEOMETRY};

#[test]
fn table_write_then_read_back() {
    for width in [Width::W64, Width::W512] {
        let mut rtl = RtlSwitch::new(width);
        let mut model = Switch::new(GEOMETRY);
        let mut ops: Vec<(u32, u32)> = Vec::new();
        for i in 0..8 {
            ops.push((reg::TBL_WDATA + 4 * i, 0x1000_0001 * (i + 1)));
        }
        for (table, index) in [
            (0u32, 0u32),
            (0, 3),
            (1, 5),
            (2, 63),
            (3, 127),
            (3, 128),
            (4, 0),
            (2, 64),
        ] {
            ops.push((reg::TBL_CMD, 1 << 30 | table << 24 | index));
        }
        for (table, index) in [(0u32, 3u32), (1, 5), (2, 63), (3, 127)] {
            ops.push((reg::TBL_CMD, 2 << 30 | table << 24 | index));
            for i in 0..8 {
                ops.push((u32::MAX, reg::TBL_RDATA + 4 * i));
            }
        }
        ops.push((u32::MAX, reg::TBL_STATUS));
        ops.push((reg::TBL_STATUS, 1));
        ops.push((u32::MAX, reg::TBL_STATUS));
        for a in [
            0u32, 4, 8, 12, 16, 20, 24, 28, 32, 0x30, 0x34, 0x40, 0x44, 0x24,
        ] {
            ops.push((u32::MAX, a));
        }
        ops.push((region::INDIR + 8, 0x8000_0005));
        ops.push((u32::MAX, region::INDIR + 8));
        ops.push((u32::MAX, region::INDIR + 4 * 4096));
        for (i, &(a, v)) in ops.iter().enumerate() {
            if a == u32::MAX {
                let (r, m) = (rtl.read32(v), model.read32(v));
                assert_eq!(
                    r, m,
                    "op {i}: read {v:#x} rtl {r:#x} model {m:#x} ({width:?})"
                );
            } else {
                rtl.write32(a, v);
                model.write32(a, v);
            }
        }
    }
}
