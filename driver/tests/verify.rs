//! Read-back verification catches writes that do not arrive intact, and identity checks.

mod common;

use anypoint_driver::control::Connection;
use anypoint_driver::{ControlPlane, DriverError, PacketIo, PolicyKind, RegisterAccess};
use anypoint_model::regs::{reg, region};
use anypoint_model::{FiveTuple, Geometry, Switch};
use common::*;
use std::net::Ipv4Addr;
use std::ops::Range;

/// Flips bit 0 of the next register write into `target` once armed.
struct FlipBit {
    inner: Switch,
    target: Option<Range<u32>>,
}

impl FlipBit {
    fn arm(&mut self, target: Range<u32>) {
        self.target = Some(target);
    }
}

impl RegisterAccess for FlipBit {
    fn read32(&mut self, offset: u32) -> u32 {
        self.inner.read32(offset)
    }
    fn write32(&mut self, offset: u32, value: u32) {
        let hit = self.target.as_ref().is_some_and(|t| t.contains(&offset));
        if hit {
            self.target = None;
        }
        self.inner.write32(offset, value ^ u32::from(hit));
    }
}

impl PacketIo for FlipBit {
    fn receive(&mut self, port: u8, frame: &[u8]) {
        self.inner.receive(port, frame)
    }
    fn inject(&mut self, record: &[u8]) -> bool {
        PacketIo::inject(&mut self.inner, record)
    }
    fn pop_egress(&mut self) -> Option<(u8, Vec<u8>)> {
        self.inner.pop_egress()
    }
    fn pop_host(&mut self) -> Option<Vec<u8>> {
        self.inner.pop_host()
    }
}

const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
const WDATA0: Range<u32> = reg::TBL_WDATA..reg::TBL_WDATA + 4;

fn setup() -> ControlPlane<FlipBit> {
    let mut cp = control_plane(FlipBit {
        inner: Switch::new(Geometry::default()),
        target: None,
    });
    cp.add_service(service("web", VIP, PolicyKind::RoundRobin))
        .unwrap();
    cp
}

#[test]
fn a_corrupted_member_write_is_detected() {
    let mut cp = setup();
    cp.backend().arm(WDATA0);
    let err = cp.add_member("web", member(Ipv4Addr::new(10, 1, 0, 1), 1));
    assert_eq!(
        err,
        Err(DriverError::Verify {
            table: "member",
            index: 0
        })
    );
}

#[test]
fn a_corrupted_connection_write_is_detected() {
    let mut cp = setup();
    let m = cp
        .add_member("web", member(Ipv4Addr::new(10, 1, 0, 1), 1))
        .unwrap();
    cp.backend().arm(WDATA0);
    let conn = Connection {
        inbound: FiveTuple {
            src_ip: PEER.into(),
            dst_ip: VIP.into(),
            src_port: 40000,
            dst_port: 80,
            proto: 6,
        },
        service: 0,
        member: m,
        peer_port: PEER_PORT,
    };
    assert!(matches!(
        cp.insert_connection(&conn),
        Err(DriverError::Verify { table: "conn", .. })
    ));
}

#[test]
fn a_corrupted_indirection_slot_is_detected() {
    let mut cp = setup();
    cp.add_service(service(
        "mag",
        Ipv4Addr::new(10, 0, 0, 7),
        PolicyKind::Maglev,
    ))
    .unwrap();
    cp.backend()
        .arm(region::INDIR..region::INDIR + region::INDIR_SIZE);
    let err = cp.add_member("mag", member(Ipv4Addr::new(10, 1, 0, 1), 1));
    assert!(matches!(
        err,
        Err(DriverError::Verify {
            table: "indir_slot",
            ..
        })
    ));
}

#[test]
fn without_verification_the_corruption_goes_unnoticed() {
    let mut cp = setup();
    cp.set_verify(false);
    cp.backend().arm(WDATA0);
    assert!(cp
        .add_member("web", member(Ipv4Addr::new(10, 1, 0, 1), 1))
        .is_ok());
}

/// A device whose every register reads one value: 0 for another device, all ones for a PCIe
/// function that is gone. Nothing may be written to a device that failed the identity check.
struct Reads(u32);

impl RegisterAccess for Reads {
    fn read32(&mut self, _: u32) -> u32 {
        self.0
    }
    fn write32(&mut self, _: u32, _: u32) {
        panic!("nothing may be written to a device that failed the identity check");
    }
}

impl PacketIo for Reads {
    fn receive(&mut self, _: u8, _: &[u8]) {}
    fn inject(&mut self, _: &[u8]) -> bool {
        false
    }
    fn pop_egress(&mut self) -> Option<(u8, Vec<u8>)> {
        None
    }
    fn pop_host(&mut self) -> Option<Vec<u8>> {
        None
    }
}

#[test]
fn another_device_is_refused() {
    let err = ControlPlane::new(Reads(0), KEY).err().unwrap();
    assert_eq!(err, DriverError::Identity { id: 0, version: 0 });
    assert_eq!(
        err.to_string(),
        format!(
            "not an Anypoint switch: ID 0x00000000, VERSION 0x00000000 \
             (expected ID 0x414e5950, version 1.x with x >= {})",
            anypoint_model::regs::MAP_VERSION & 0xffff
        )
    );
}

#[test]
fn a_device_reading_all_ones_is_not_responding() {
    let err = ControlPlane::new(Reads(u32::MAX), KEY).err().unwrap();
    assert!(
        err.to_string()
            .starts_with("device not responding: ID reads 0xffffffff"),
        "{err}"
    );
}
