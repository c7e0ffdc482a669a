//! On a machine with an Anypoint board bound to vfio-pci: open it through kernel VFIO, check its
//! identity, read its geometry and soft-reset it. Elsewhere the test says loudly that it was
//! skipped and why (it cannot pass without a board).
//!
//! The board is `ANYPOINT_PCI=0000:01:00.0`, or else the first PCI function with our ID.

use anypoint_driver::device::{open_vfio, Bar0, PCI_DEVICE_ID, PCI_VENDOR_ID};
use anypoint_driver::tables::read_geometry;
use anypoint_driver::RegisterAccess;
use anypoint_model::regs::reg;
use std::io::Write;
use std::path::Path;

/// The board's PCI address, or why there is none to test.
fn board() -> Result<String, String> {
    if let Ok(addr) = std::env::var("ANYPOINT_PCI") {
        return Ok(addr);
    }
    if !Path::new("/dev/vfio/vfio").exists() {
        return Err("/dev/vfio/vfio is absent (no VFIO on this machine)".into());
    }
    let id = |dev: &Path, file: &str| {
        let text = std::fs::read_to_string(dev.join(file)).unwrap_or_default();
        u16::from_str_radix(text.trim().trim_start_matches("0x"), 16).ok()
    };
    std::fs::read_dir("/sys/bus/pci/devices")
        .map_err(|e| format!("/sys/bus/pci/devices: {e}"))?
        .filter_map(|e| e.ok())
        .find(|e| {
            id(&e.path(), "vendor") == Some(PCI_VENDOR_ID)
                && id(&e.path(), "device") == Some(PCI_DEVICE_ID)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .ok_or_else(|| {
            format!(
                "no PCI function {PCI_VENDOR_ID:04x}:{PCI_DEVICE_ID:04x} (and ANYPOINT_PCI unset)"
            )
        })
}

#[test]
fn board_identity_geometry_and_soft_reset() {
    let addr = match board() {
        Ok(addr) => addr,
        Err(why) => {
            // Straight to stderr, past the test harness's capture: a skip must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED hardware test: {why} ***\n"
            );
            return;
        }
    };
    let device = open_vfio(&addr).unwrap_or_else(|e| panic!("{e}"));
    let mut bar = Bar0::open(device).unwrap_or_else(|e| panic!("{e}"));
    let geometry = read_geometry(&mut bar).unwrap_or_else(|e| panic!("{addr}: {e}"));
    println!("{addr}: mapped={} geometry {geometry:?}", bar.is_mapped());
    bar.write32(reg::DEV_STATUS, 1);
    assert_eq!(bar.read32(reg::DEV_STATUS), 0, "RESET_SEEN clears");
    bar.write32(reg::SOFT_RESET, 1);
    assert_eq!(
        bar.read32(reg::DEV_STATUS),
        1,
        "RESET_SEEN after SOFT_RESET"
    );
    assert_eq!(bar.read32(reg::MAX_FRAME), reg::MAX_FRAME_RESET);
    assert!(bar.lost().is_none(), "{:?}", bar.lost());
}
