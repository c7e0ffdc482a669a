//! The host mailbox in BAR2: how records reach the host (learn records, punts) and how the host
//! injects frames, on a device reached through [`DeviceAccess`] without shared memory.
//!
//! The simulated NIC (`anypoint-ctl sim-device`) implements it; registers are 32-bit little endian.
//!
//! | offset   | name          | access | meaning                                                         |
//! |----------|---------------|--------|-----------------------------------------------------------------|
//! | `0x0000` | HOST_LEN      | RO     | bytes of the record at the head of the host queue; 0 = empty    |
//! | `0x0004` | HOST_POP      | WO     | any write drops the head record and shows the next              |
//! | `0x0008` | HOST_PENDING  | RO     | records waiting, the head included                              |
//! | `0x0010` | INJECT_PUSH   | WO     | writing N injects the first N bytes of the inject window        |
//! | `0x0014` | INJECT_RESULT | RO     | 1 when the last push was accepted, 0 when the device refused it |
//! | `0x1000` | HOST_DATA     | RO     | the head record (32-byte host header + frame), HOST_LEN bytes   |
//! | `0x8000` | INJECT_DATA   | WO     | the record to inject (4-byte inject header + frame)             |
//!
//! The device raises its interrupt (MSI-X vector 0, or INTx) whenever it queues a record, so the
//! host need not poll HOST_LEN while nothing is waiting.

use super::{DeviceAccess, DeviceError, BAR2_REGION};

pub const HOST_LEN: u64 = 0x0000;
pub const HOST_POP: u64 = 0x0004;
pub const HOST_PENDING: u64 = 0x0008;
pub const INJECT_PUSH: u64 = 0x0010;
pub const INJECT_RESULT: u64 = 0x0014;
pub const HOST_DATA: u64 = 0x1000;
pub const INJECT_DATA: u64 = 0x8000;
/// Bytes of each data window: a host header and the largest frame (MAX_FRAME's limit) fit.
pub const WINDOW: u64 = 0x4000;
/// BAR2 size.
pub const SIZE: u64 = 0x10000;

fn read_u32<D: DeviceAccess>(dev: &mut D, offset: u64) -> Result<u32, DeviceError> {
    let mut b = [0u8; 4];
    dev.region_read(BAR2_REGION, offset, &mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn write_u32<D: DeviceAccess>(dev: &mut D, offset: u64, value: u32) -> Result<(), DeviceError> {
    dev.region_write(BAR2_REGION, offset, &value.to_le_bytes())
}

/// Checks that the device has a BAR2 large enough to hold the mailbox.
pub fn check<D: DeviceAccess>(dev: &mut D) -> Result<(), DeviceError> {
    let info = dev.region_info(BAR2_REGION)?;
    if info.size < SIZE || !info.readable || !info.writable {
        return Err(DeviceError {
            device: dev.name().to_string(),
            step: "check BAR2 (host mailbox)".into(),
            reason: format!(
                "BAR2 is {:#x} bytes (readable {}, writable {}); the host mailbox needs {SIZE:#x} \
                 read/write bytes",
                info.size, info.readable, info.writable
            ),
        });
    }
    Ok(())
}

/// Takes the head record of the host queue, if any.
pub fn pop<D: DeviceAccess>(dev: &mut D) -> Result<Option<Vec<u8>>, DeviceError> {
    let len = u64::from(read_u32(dev, HOST_LEN)?);
    if len == 0 {
        return Ok(None);
    }
    if len > WINDOW {
        return Err(DeviceError {
            device: dev.name().to_string(),
            step: "read HOST_LEN".into(),
            reason: format!("{len} bytes, more than the {WINDOW}-byte window"),
        });
    }
    let mut record = vec![0u8; len as usize];
    dev.region_read(BAR2_REGION, HOST_DATA, &mut record)?;
    write_u32(dev, HOST_POP, 1)?;
    Ok(Some(record))
}

/// Injects `record`; false when the device refused it (bad header, port out of range, too long).
pub fn inject<D: DeviceAccess>(dev: &mut D, record: &[u8]) -> Result<bool, DeviceError> {
    if record.len() as u64 > WINDOW {
        return Ok(false);
    }
    dev.region_write(BAR2_REGION, INJECT_DATA, record)?;
    write_u32(dev, INJECT_PUSH, record.len() as u32)?;
    Ok(read_u32(dev, INJECT_RESULT)? == 1)
}
