//! The identity check every backend passes before the driver writes anything: a wrong device, an
//! incompatible register map or a device that does not answer must stop the driver, not receive
//! table writes meant for something else.

use crate::access::RegisterAccess;
use crate::control::DriverError;
use anypoint_model::regs::{self, reg};

/// What a read from a PCIe function that is gone (surprise removal, link down, powered off) returns.
pub const ALL_ONES: u32 = 0xffff_ffff;

/// Reads ID then VERSION (nothing else) and accepts the device if the ID matches and the register
/// map has our major version and at least our minor version (minor versions only add registers).
pub fn check<R: RegisterAccess + ?Sized>(regs: &mut R) -> Result<(), DriverError> {
    let id = regs.read32(reg::ID);
    let version = regs.read32(reg::VERSION);
    let compatible =
        version >> 16 == regs::MAP_VERSION >> 16 && version & 0xffff >= regs::MAP_VERSION & 0xffff;
    if id != regs::DEVICE_ID || !compatible {
        return Err(DriverError::Identity { id, version });
    }
    Ok(())
}
