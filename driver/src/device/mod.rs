//! Device access: everything VFIO-shaped the driver needs from the NIC's PCI function, behind one
//! trait, so the same register layer runs on kernel VFIO (hardware) and on vfio-user (the simulated
//! NIC served out of process).
//!
//! Status for the two implementers (kept until merge): the trait below is wired into the crate;
//! [`Bar0`] (bar0.rs) is the register layer on top of any `DeviceAccess` (mmap if `region_mmap`
//! returns one, region read/write otherwise), `Bar0::open` checks BAR0 size, ID and VERSION first,
//! and `Bar0::lost()` is the sticky device-lost error. Kernel VFIO goes in `vfio.rs` (`open_vfio`),
//! vfio-user in `vfio_user.rs`. Reset: registers SOFT_RESET (0x28) and DEV_STATUS.RESET_SEEN (0x2c,
//! W1C, set by every reset incl. power-on) are in the map (since version 1.1) and the model;
//! `ControlPlane::reset_detected()` / `reprogram()` / `soft_reset()` restore the tables from the
//! shadow (driver/tests/reset.rs). `ControlPlane::new` clears RESET_SEEN once it owns the tables.
//! PCI IDs: `PCI_VENDOR_ID`/`PCI_DEVICE_ID` below. A shell's register window elsewhere than BAR0:
//! `Bar0::open_window(dev, RegisterWindow::OPEN_NIC_BOX0)`. (5A has not declared 5B's modules
//! host_mailbox/switch/vfio_user here; 5B adds those lines.)

mod bar0;
pub mod host_mailbox;
mod switch;
pub mod vfio;
pub mod vfio_sysfs;
pub mod vfio_user;

pub use bar0::{Bar0, RegisterWindow};
pub use switch::DeviceSwitch;
pub use vfio::{open_vfio, KernelVfio, Vfio};

/// The board's PCI identity: an experimental ID (docs/hardware.md), not assigned to this project.
pub const PCI_VENDOR_ID: u16 = 0x1234;
pub const PCI_DEVICE_ID: u16 = 0x4150;

use std::fmt;
use std::os::fd::OwnedFd;

/// VFIO PCI region indices (`VFIO_PCI_*_REGION_INDEX`).
pub const BAR0_REGION: u32 = 0;
pub const BAR2_REGION: u32 = 2;
pub const CONFIG_REGION: u32 = 7;

/// VFIO PCI interrupt indices (`VFIO_PCI_*_IRQ_INDEX`).
pub const INTX_IRQ: u32 = 0;
pub const MSIX_IRQ: u32 = 2;

/// What `VFIO_DEVICE_GET_REGION_INFO` reports about one region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionInfo {
    pub index: u32,
    pub size: u64,
    /// Offset of the region within the device fd (kernel VFIO) or 0 (vfio-user).
    pub offset: u64,
    pub readable: bool,
    pub writable: bool,
    pub mappable: bool,
}

/// Why a device operation failed; `Display` names the device and the step.
#[derive(Debug)]
pub struct DeviceError {
    /// PCI address or socket path.
    pub device: String,
    /// The step that failed, e.g. "open /dev/vfio/vfio" or "read BAR0 at 0x10".
    pub step: String,
    /// What went wrong and, where we know it, what to do about it.
    pub reason: String,
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.device, self.step, self.reason)
    }
}

impl std::error::Error for DeviceError {}

/// One PCI function reached through VFIO or vfio-user.
pub trait DeviceAccess {
    /// PCI address or socket path, for error messages.
    fn name(&self) -> &str;
    fn region_info(&mut self, index: u32) -> Result<RegionInfo, DeviceError>;
    fn region_read(&mut self, index: u32, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError>;
    fn region_write(&mut self, index: u32, offset: u64, data: &[u8]) -> Result<(), DeviceError>;
    /// Map a region into this process, if the device allows it (`None` = use read/write).
    fn region_mmap(&mut self, index: u32) -> Result<Option<memmap2::MmapRaw>, DeviceError>;
    /// Function-level reset (`VFIO_DEVICE_RESET`).
    fn reset(&mut self) -> Result<(), DeviceError>;
    /// Route interrupt `irq_index` vector `vector` to `eventfd` (`None` disables it).
    fn set_irq_eventfd(
        &mut self,
        irq_index: u32,
        vector: u32,
        eventfd: Option<OwnedFd>,
    ) -> Result<(), DeviceError>;
}
