//! Register interface of the Verilated RTL against the model: identification, TBL_CMD, regions.

use anypoint_model::regs::{reg, region};
use anypoint_model::Switch;
use verilator_tests::rtl::{RtlSwitch, Width, GEOMETRY};

/// Applies `ops` to both: `(offset, value)` writes, `(u32::MAX, offset)` reads that must agree.
fn run(rtl: &mut RtlSwitch, model: &mut Switch, ops: &[(u32, u32)], width: Width) {
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
        run(&mut rtl, &mut model, &ops, width);
    }
}

/// The ACP block's registers (docs/pipeline.md section 12): staging, neighbours, slot and ring
/// commands (out-of-range ones included), the whole window read back, then again after a soft
/// reset (slots invalid, records and rings kept).
#[test]
fn acp_registers_match_the_model() {
    use anypoint_model::frame_switch::layout::{pack, unpack, RECORD_WORDS};
    // A record the layout holds exactly: reserved bits zero.
    let mut words = [0u32; RECORD_WORDS];
    for (i, w) in words.iter_mut().enumerate() {
        *w = 0x9e37_79b9u32.wrapping_mul(i as u32 + 1);
    }
    let rec = pack(&unpack(&words));
    for width in [Width::W64, Width::W512] {
        let mut rtl = RtlSwitch::new(width);
        let mut model = Switch::new(GEOMETRY);
        let mut ops: Vec<(u32, u32)> = Vec::new();
        for (i, w) in rec.iter().enumerate() {
            ops.push((reg::ACP_REC + 4 * i as u32, *w));
        }
        let cmd = |op: u32, slot: u32| reg::ACP_CMD_OP.place(op) | reg::ACP_CMD_SLOT.place(slot);
        let ring = |op: u32, out: u32, slot: u32, idx: u32| {
            reg::ACP_RING_CMD_OP.place(op)
                | reg::ACP_RING_CMD_OUT.place(out)
                | reg::ACP_RING_CMD_SLOT.place(slot)
                | reg::ACP_RING_CMD_INDEX.place(idx)
        };
        ops.extend([
            (reg::ACP_CMD, cmd(1, 1)),
            (reg::ACP_CMD, cmd(1, 2)),
            (reg::ACP_CMD, cmd(3, 1)),
        ]);
        for (i, v) in [0xdead_beef, 0x0123_4567, 0xffff_ffff]
            .into_iter()
            .enumerate()
        {
            ops.push((reg::ACP_RING_WDATA + 4 * i as u32, v));
        }
        ops.extend([
            (reg::ACP_RING_CMD, ring(1, 1, 1, 7)),
            (reg::ACP_RING_CMD, ring(1, 0, 0, 511)),
            (reg::ACP_RING_CMD, ring(1, 0, 0, 512)),
            (reg::ACP_RING_CMD, ring(1, 0, 3, 0)),
            (reg::ACP_RING_CMD, ring(2, 1, 1, 7)),
        ]);
        for i in 0..64 {
            ops.push((reg::ACP_NBR + 4 * i, 0x5a5a_a5a5u32.rotate_left(i)));
        }
        // Staged words changed after the load: ACP_REC shows them, ACP_RDATA the slot's.
        ops.push((reg::ACP_REC + 8, 0x1234_5678));
        let window = |ops: &mut Vec<(u32, u32)>| {
            for a in (reg::ACP_SLOTS..reg::ACP_SLOTS + 0x800).step_by(4) {
                ops.push((u32::MAX, a));
            }
        };
        window(&mut ops);
        // Fenced loads: refused while ACP_FENCE is not ACP_GIVEN (0 here), then carried out.
        let fenced = |slot: u32| cmd(1, slot) | reg::ACP_CMD_FENCED.place(1);
        ops.extend([
            (reg::ACP_CMD, cmd(2, 0)),
            (reg::ACP_FENCE, 5),
            (reg::ACP_CMD, fenced(0)),
            (reg::ACP_CMD, cmd(3, 0)),
        ]);
        window(&mut ops);
        ops.extend([(reg::ACP_FENCE, 0), (reg::ACP_CMD, fenced(0))]);
        window(&mut ops);
        ops.extend([(reg::ACP_CMD, cmd(2, 1)), (reg::ACP_CMD, cmd(3, 0))]);
        window(&mut ops);
        ops.extend([(reg::ACP_CMD, cmd(3, 1)), (reg::SOFT_RESET, 1)]);
        ops.extend([
            (reg::ACP_RING_CMD, ring(2, 0, 0, 511)),
            (reg::ACP_CMD, cmd(3, 1)),
        ]);
        window(&mut ops);
        run(&mut rtl, &mut model, &ops, width);
    }
}
