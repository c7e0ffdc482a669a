//! docs/registers.md: identification, capabilities, the table command, counters, ACT and INDIR.

mod common;

use anypoint_model::regs::{self, ctr, reg, region, table, tbl_op};
use anypoint_model::{Geometry, Switch};
use common::*;

fn small() -> Switch {
    Switch::new(lab_geometry())
}

#[test]
fn identification_and_capabilities() {
    let g = Geometry {
        ports: 3,
        services: 5,
        members: 7,
        conn_buckets_log2: 2,
        indir_slots_log2: 3,
    };
    let mut sw = Switch::new(g);
    assert_eq!(sw.geometry(), g);
    let expected = [
        (reg::ID, 0x414e_5950),
        (reg::VERSION, 0x0001_0004),
        (reg::NUM_PORTS, 3),
        (reg::NUM_SERVICES, 5),
        (reg::NUM_MEMBERS, 7),
        (reg::CONN_BUCKETS_LOG2, 2),
        (reg::CONN_WAYS, 4),
        (reg::INDIR_SLOTS_LOG2, 3),
        (reg::MAX_FRAME, 9022),
    ];
    for (offset, value) in expected {
        assert_eq!(sw.read32(offset), value, "offset {offset:#x}");
        // Read-only registers ignore writes.
        if offset != reg::MAX_FRAME {
            sw.write32(offset, 0xdead);
            assert_eq!(sw.read32(offset), value, "offset {offset:#x}");
        }
    }
}

#[test]
fn default_geometry_is_the_documented_one() {
    let mut sw = Switch::new(Geometry::default());
    assert_eq!(
        [
            reg::NUM_PORTS,
            reg::NUM_SERVICES,
            reg::NUM_MEMBERS,
            reg::CONN_BUCKETS_LOG2,
            reg::INDIR_SLOTS_LOG2
        ]
        .map(|r| sw.read32(r)),
        [4, 64, 1024, 13, 16]
    );
}

#[test]
#[should_panic]
fn a_geometry_beyond_the_register_map_panics() {
    Switch::new(Geometry {
        ports: 9,
        ..Geometry::default()
    });
}

#[test]
fn rw_registers_read_back() {
    let mut sw = small();
    sw.write32(reg::MAX_FRAME, 1518);
    assert_eq!(sw.read32(reg::MAX_FRAME), 1518);
    for i in 0..4 {
        sw.write32(reg::HASH_KEY + 4 * i, 0x1111_1111 * (i + 1));
    }
    for i in 0..4 {
        assert_eq!(sw.read32(reg::HASH_KEY + 4 * i), 0x1111_1111 * (i + 1));
    }
    for i in 0..8 {
        sw.write32(reg::TBL_WDATA + 4 * i, 100 + i);
        assert_eq!(sw.read32(reg::TBL_WDATA + 4 * i), 100 + i);
    }
    // Write-only CTR_CLEAR and TBL_CMD read 0.
    assert_eq!(sw.read32(reg::CTR_CLEAR), 0);
    assert_eq!(sw.read32(reg::TBL_CMD), 0);
}

#[test]
fn unmapped_and_unaligned_offsets_read_zero_and_ignore_writes() {
    let mut sw = small();
    for offset in [
        0x28,
        0x2c,
        0x48,
        0x90,
        0x1000,
        0x20000,
        0xc0000,
        0xfffc,
        0x10_0000,
        0xffff_fffc,
    ] {
        sw.write32(offset, 0xffff_ffff);
        assert_eq!(sw.read32(offset), 0, "offset {offset:#x}");
    }
    sw.write32(reg::MAX_FRAME + 1, 5);
    assert_eq!(sw.read32(reg::MAX_FRAME), 9022);
    assert_eq!(sw.read32(reg::ID + 2), 0);
}

#[test]
fn table_write_read_clear_round_trip() {
    let mut sw = small();
    let entries: [(u32, u32, usize); 4] = [
        (table::port::ID, 3, table::port::WORDS),
        (table::service::ID, 7, table::service::WORDS),
        (table::member::ID, 15, table::member::WORDS),
        (table::conn::ID, 127, table::conn::WORDS),
    ];
    for (t, index, words) in entries {
        let data: Vec<u32> = (0..words as u32)
            .map(|i| 0xa5a5_0000 | t << 8 | i)
            .collect();
        write_entry(&mut sw, t, index, &data);
        assert_eq!(read_entry(&mut sw, t, index, 8)[..words], data[..]);
        // Words beyond the entry read 0.
        assert!(read_entry(&mut sw, t, index, 8)[words..]
            .iter()
            .all(|&w| w == 0));
        clear_entry(&mut sw, t, index);
        assert_eq!(read_entry(&mut sw, t, index, words), vec![0; words]);
        assert!(!table_error(&mut sw));
    }
}

#[test]
fn table_command_errors_are_sticky_and_write_one_to_clear() {
    let mut sw = small();
    let g = lab_geometry();
    let conn_entries = 2 << (g.conn_buckets_log2 + 2);
    write_entry(&mut sw, table::member::ID, 1, &[1, 2, 3, 4]);
    let cmd = |op: u32, t: u32, i: u32| {
        reg::TBL_CMD_OP.place(op) | reg::TBL_CMD_TABLE.place(t) | reg::TBL_CMD_INDEX.place(i)
    };
    let bad = [
        cmd(0, table::member::ID, 1),                            // op 0
        cmd(u32::from(tbl_op::WRITE), 4, 0),                     // unknown table
        cmd(u32::from(tbl_op::WRITE), table::indir_slot::ID, 0), // not a command table
        cmd(
            u32::from(tbl_op::WRITE),
            table::port::ID,
            u32::from(g.ports),
        ),
        cmd(
            u32::from(tbl_op::READ),
            table::service::ID,
            u32::from(g.services),
        ),
        cmd(
            u32::from(tbl_op::CLEAR),
            table::member::ID,
            u32::from(g.members),
        ),
        cmd(u32::from(tbl_op::WRITE), table::conn::ID, conn_entries),
    ];
    for c in bad {
        sw.write32(reg::TBL_WDATA, 0xbad);
        sw.write32(reg::TBL_CMD, c);
        assert!(table_error(&mut sw), "command {c:#x}");
        // Writing 0 leaves the error; reading leaves it too; writing 1 clears it.
        sw.write32(reg::TBL_STATUS, 0);
        assert!(table_error(&mut sw));
        sw.write32(reg::TBL_STATUS, reg::TBL_STATUS_ERROR.place(1));
        assert!(!table_error(&mut sw));
    }
    // None of them did anything.
    assert_eq!(
        read_entry(&mut sw, table::member::ID, 1, 4),
        vec![1, 2, 3, 4]
    );
    assert_eq!(read_entry(&mut sw, table::port::ID, 0, 4), vec![0; 4]);
    // A good command after an error keeps the error.
    sw.write32(reg::TBL_CMD, cmd(0, 0, 0));
    write_entry(&mut sw, table::member::ID, 1, &[5, 6, 7, 8]);
    assert!(table_error(&mut sw));
    assert_eq!(
        read_entry(&mut sw, table::member::ID, 1, 4),
        vec![5, 6, 7, 8]
    );
}

#[test]
fn a_failed_read_leaves_rdata_alone() {
    let mut sw = small();
    write_entry(&mut sw, table::service::ID, 0, &[9, 8, 7, 6]);
    read_entry(&mut sw, table::service::ID, 0, 4);
    assert_eq!(
        read_entry(&mut sw, table::service::ID, 1000, 4),
        vec![9, 8, 7, 6]
    );
    assert!(table_error(&mut sw));
}

#[test]
fn indirection_region_is_direct_and_bounded() {
    let mut sw = small();
    let slots = 1u32 << lab_geometry().indir_slots_log2;
    sw.write32(region::INDIR, 0x8000_0005);
    sw.write32(region::INDIR + 4 * (slots - 1), 0x1234_5678);
    sw.write32(region::INDIR + 4 * slots, 0xffff_ffff);
    assert_eq!(sw.read32(region::INDIR), 0x8000_0005);
    assert_eq!(sw.read32(region::INDIR + 4 * (slots - 1)), 0x1234_5678);
    assert_eq!(sw.read32(region::INDIR + 4 * slots), 0);
}

#[test]
fn activity_region_is_bounded_and_starts_clear() {
    let mut sw = small();
    let words = (2u32 << (lab_geometry().conn_buckets_log2 + 2)) / 32;
    for i in 0..words + 2 {
        assert_eq!(sw.read32(region::ACT + 4 * i), 0);
    }
}

#[test]
fn counters_are_64_bit_and_a_low_word_read_latches_the_high_word() {
    let mut sw = lab();
    sw.write32(reg::MAX_FRAME, 0xffff);
    let mut spec = FrameSpec::new(peer_tcp(60100));
    spec.payload = vec![0; 1400];
    spec.padding = vec![0; 0xffff - spec.build().len()];
    let frame = spec.build();
    // 65538 frames of 65535 bytes: 0x1_0000_fffe bytes.
    let n = 65538u64;
    let mut out = anypoint_model::StepOutput::default();
    for _ in 0..n {
        sw.step(0, &frame, false, &mut out);
    }
    assert_eq!(port_ctr(&mut sw, 0, ctr::port::RX_BYTES), 0x1_0000_fffe);
    assert_eq!(port_ctr(&mut sw, 0, ctr::port::RX_PACKETS), n);

    let rx_bytes = region::CTR + ctr::port::OFFSET + 8 * ctr::port::RX_BYTES as u32;
    let rx_packets = region::CTR + ctr::port::OFFSET + 8 * ctr::port::RX_PACKETS as u32;
    // One latch: the high-word read returns what the last low-word read captured.
    assert_eq!(sw.read32(rx_bytes), 0xfffe);
    assert_eq!(sw.read32(rx_packets + 4), 1);
    assert_eq!(sw.read32(rx_packets), n as u32);
    assert_eq!(sw.read32(rx_bytes + 4), 0);
    // The latch holds the value at the low-word read, not at the high-word read.
    assert_eq!(sw.read32(rx_bytes), 0xfffe);
    sw.write32(reg::CTR_CLEAR, 1);
    assert_eq!(sw.read32(rx_bytes + 4), 1);
    assert_eq!(sw.read32(rx_bytes), 0);
}

#[test]
fn ctr_clear_zeroes_every_counter() {
    let mut sw = lab();
    let frame = FrameSpec::new(peer_tcp(60200)).build();
    step(&mut sw, 0, &frame);
    step(&mut sw, 0, &frame[..5]);
    assert_ne!(port_ctr(&mut sw, 0, ctr::port::RX_PACKETS), 0);
    sw.write32(reg::CTR_CLEAR, 1);
    for offset in (0..region::CTR_SIZE).step_by(4) {
        assert_eq!(
            sw.read32(region::CTR + offset),
            0,
            "counter word {offset:#x}"
        );
    }
}

#[test]
fn device_id_constant_matches_the_register() {
    assert_eq!(small().read32(reg::ID), regs::DEVICE_ID);
}

/// Every register and region word a reset defines, for comparing two switches.
fn reset_visible_state(sw: &mut Switch) -> Vec<u32> {
    let g = sw.geometry();
    let mut words: Vec<u32> = (0..0x90).step_by(4).map(|a| sw.read32(a)).collect();
    for (t, n, w) in [
        (table::port::ID, u32::from(g.ports), 4),
        (table::service::ID, g.services.into(), 4),
        (table::member::ID, g.members.into(), 4),
        (table::conn::ID, 8 << g.conn_buckets_log2, 5),
    ] {
        for i in 0..n {
            words.extend(read_entry(sw, t, i, w));
        }
    }
    let act_words = (8u32 << g.conn_buckets_log2).div_ceil(32);
    words.extend((0..act_words).map(|i| sw.read32(region::ACT + 4 * i)));
    words.extend((0..1u32 << g.indir_slots_log2).map(|i| sw.read32(region::INDIR + 4 * i)));
    words.extend((0..0x10000).step_by(4).map(|a| sw.read32(region::CTR + a)));
    words
}

#[test]
fn soft_reset_returns_to_power_on_and_flags_it() {
    let mut power_on = Switch::new(lab_geometry());
    assert_eq!(
        power_on.read32(reg::DEV_STATUS),
        1,
        "RESET_SEEN at power-on"
    );
    let mut sw = lab();
    sw.write32(reg::MAX_FRAME, 1500);
    sw.write32(reg::TBL_CMD, 0xf << 24 | 1 << 30); // unknown table: sets TBL_STATUS.ERROR
    let mut syn = FrameSpec::new(peer_tcp(40000));
    syn.dst_mac = port_mac(0);
    (syn.syn, syn.ack) = (true, false);
    sw.receive(0, &syn.build());
    sw.write32(reg::DEV_STATUS, 1);
    assert_eq!(sw.read32(reg::DEV_STATUS), 0);
    // Bit 0 clear: nothing happens.
    sw.write32(reg::SOFT_RESET, 0xfffe);
    assert_eq!(sw.read32(reg::MAX_FRAME), 1500);
    sw.write32(reg::SOFT_RESET, 1);
    assert_eq!(
        reset_visible_state(&mut sw),
        reset_visible_state(&mut power_on)
    );
    assert_eq!(sw.read32(reg::DEV_STATUS), 1, "RESET_SEEN after soft reset");
    // What left the pipeline before the reset (the forwarded SYN, its learn record) stays delivered.
    assert_eq!(sw.pop_egress().map(|(port, _)| port), Some(1));
    assert!(sw.pop_host().is_some());
}
