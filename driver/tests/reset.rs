//! A device reset behind the driver's back (power cycle, PCIe reset, SOFT_RESET): the driver sees
//! DEV_STATUS.RESET_SEEN and reprograms the device from its shadow tables.

mod common;

use anypoint_driver::PolicyKind;
use anypoint_model::regs::{reg, region, tbl_op};
use anypoint_model::Switch;
use common::*;
use std::net::Ipv4Addr;

const VIP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const RR_VIP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

/// Every table word, indirection slot and the hash key, read through the registers.
fn device_tables(sw: &mut Switch) -> Vec<u32> {
    let mut words: Vec<u32> = (0..4).map(|i| sw.read32(reg::HASH_KEY + 4 * i)).collect();
    for (table, entries) in [(0u32, 4u32), (1, 64), (2, 1024), (3, 1 << 16)] {
        for index in 0..entries {
            sw.write32(
                reg::TBL_CMD,
                reg::TBL_CMD_OP.place(tbl_op::READ.into())
                    | reg::TBL_CMD_TABLE.place(table)
                    | reg::TBL_CMD_INDEX.place(index),
            );
            words.extend((0..5).map(|i| sw.read32(reg::TBL_RDATA + 4 * i)));
        }
    }
    words.extend((0..1 << 16).map(|i| sw.read32(region::INDIR + 4 * i)));
    words
}

#[test]
fn a_reset_is_detected_and_the_tables_come_back() {
    let mut cp = model();
    assert!(!cp.reset_detected(), "the driver took over the tables");
    cp.add_service(service("web", VIP, PolicyKind::Maglev))
        .unwrap();
    cp.add_service(service("rr", RR_VIP, PolicyKind::RoundRobin))
        .unwrap();
    for i in 1..=3 {
        cp.add_member("web", member(Ipv4Addr::new(10, 0, 0, i), 1))
            .unwrap();
        cp.add_member("rr", member(Ipv4Addr::new(10, 0, 1, i), 1))
            .unwrap();
    }
    // Connections learned from SYNs (maglev) and chosen by the ALRM (round-robin).
    for peer_port in 40000..40008 {
        for vip in [VIP, RR_VIP] {
            cp.backend()
                .receive(PEER_PORT, &from_peer(peer_port, vip, true));
            while let Some(record) = cp.backend().pop_host() {
                cp.handle_host_record(&record).unwrap();
            }
            while cp.backend().pop_egress().is_some() {}
        }
    }
    assert_eq!(cp.connections().len(), 16);
    let before = device_tables(cp.backend());
    let data = from_peer(40003, RR_VIP, false);
    let forwarded = forward(&mut cp, PEER_PORT, &data);

    cp.backend().write32(reg::SOFT_RESET, 1);
    assert!(cp.reset_detected());
    assert_ne!(
        device_tables(cp.backend()),
        before,
        "the reset emptied the device"
    );
    cp.reprogram().unwrap();

    assert!(!cp.reset_detected());
    assert_eq!(device_tables(cp.backend()), before);
    // An established round-robin connection goes to the same member without the host.
    assert_eq!(forward(&mut cp, PEER_PORT, &data), forwarded);
    assert!(cp.backend().pop_host().is_none());
}

#[test]
fn soft_reset_through_the_driver_keeps_the_configuration() {
    let mut cp = model();
    cp.add_service(service("web", VIP, PolicyKind::Maglev))
        .unwrap();
    cp.add_member("web", member(Ipv4Addr::new(10, 0, 0, 1), 1))
        .unwrap();
    let before = device_tables(cp.backend());
    cp.soft_reset().unwrap();
    assert!(!cp.reset_detected());
    assert_eq!(device_tables(cp.backend()), before);
}
