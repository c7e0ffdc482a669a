//! The build of the model's default geometry (cargo feature `replay-geometry`, used by
//! `anypoint-ctl replay --backend rtl`): capability registers and a forwarded frame against the model.
#![cfg(feature = "replay-geometry")]

use anypoint_model::regs::{reg, region};
use anypoint_model::{Geometry, Switch};
use verilator_tests::rtl::RtlSwitch;

#[test]
fn default_geometry_matches_the_model() {
    let mut rtl = RtlSwitch::with_default_geometry();
    let mut model = Switch::new(Geometry::default());
    assert_eq!(rtl.geometry(), Geometry::default());
    for a in [0u32, 4, 8, 12, 16, 20, 24, 28, 32] {
        assert_eq!(rtl.read32(a), model.read32(a), "register {a:#x}");
    }
    // The last connection entry and the last indirection slot exist.
    let mut ops = vec![];
    for i in 0..5 {
        ops.push((reg::TBL_WDATA + 4 * i, 0x0102_0304 * (i + 1)));
    }
    ops.push((reg::TBL_CMD, 1 << 30 | 3 << 24 | 65535));
    ops.push((reg::TBL_CMD, 2 << 30 | 3 << 24 | 65535));
    ops.push((region::INDIR + 4 * 65535, 0x8000_0007));
    for (a, v) in ops {
        rtl.write32(a, v);
        model.write32(a, v);
    }
    for a in [
        reg::TBL_RDATA,
        reg::TBL_RDATA + 16,
        region::INDIR + 4 * 65535,
        reg::TBL_STATUS,
    ] {
        assert_eq!(rtl.read32(a), model.read32(a), "register {a:#x}");
    }
}
