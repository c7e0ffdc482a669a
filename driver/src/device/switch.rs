//! A whole switch on a PCI function: BAR0 registers ([`Bar0`]), the BAR2 host mailbox
//! ([`host_mailbox`]) and the interrupt that says records are waiting, as one driver [`Backend`].
//!
//! The Ethernet ports belong to the device: frames never cross this interface, only host-queue
//! records and host injects do.

use super::{host_mailbox, Bar0, DeviceAccess, DeviceError, INTX_IRQ, MSIX_IRQ};
use crate::access::{PacketIo, RegisterAccess};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub struct DeviceSwitch<D: DeviceAccess> {
    bar0: Bar0<D>,
    /// Signalled by the device when it queues a host record; `None`: HOST_LEN is polled.
    irq: Option<OwnedFd>,
    /// A record may be waiting: the interrupt fired since HOST_LEN last read 0.
    maybe_pending: bool,
    /// The first failure of a mailbox access (BAR0 failures are `Bar0::lost`).
    lost: Option<DeviceError>,
}

impl<D: DeviceAccess> DeviceSwitch<D> {
    /// Checks BAR0 (size, ID, VERSION) and BAR2, then routes the interrupt to an eventfd.
    pub fn open(mut device: D) -> Result<Self, DeviceError> {
        host_mailbox::check(&mut device)?;
        let mut bar0 = Bar0::open(device)?;
        let irq = route_irq(bar0.device())?;
        Ok(DeviceSwitch {
            bar0,
            irq,
            maybe_pending: true,
            lost: None,
        })
    }

    /// Readable when the device has queued host records (poll it; the driver clears it).
    pub fn irq_fd(&self) -> Option<RawFd> {
        self.irq.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Why the device was declared lost, if it was.
    pub fn lost(&self) -> Option<&DeviceError> {
        self.bar0.lost().or(self.lost.as_ref())
    }

    /// Function-level reset: the device returns to its power-on state (tables empty).
    pub fn reset(&mut self) -> Result<(), DeviceError> {
        self.maybe_pending = true;
        self.bar0.device().reset()
    }

    /// Runs one mailbox access unless the device is lost; a failure marks it lost.
    fn mailbox<T>(&mut self, f: impl FnOnce(&mut D) -> Result<T, DeviceError>) -> Option<T> {
        if self.lost().is_some() {
            return None;
        }
        match f(self.bar0.device()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.lost = Some(e);
                None
            }
        }
    }

    /// Consumes the interrupt's count; true when it fired since the last call.
    fn irq_fired(&self) -> bool {
        let Some(fd) = &self.irq else { return true };
        let mut count = 0u64;
        // SAFETY: reads one u64 from a non-blocking eventfd we own into a local.
        let n = unsafe { libc::read(fd.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
        n == 8 && count > 0
    }
}

/// An eventfd for MSI-X vector 0, or INTx if the device has no MSI-X; `None` if it has neither.
fn route_irq<D: DeviceAccess>(device: &mut D) -> Result<Option<OwnedFd>, DeviceError> {
    for index in [MSIX_IRQ, INTX_IRQ] {
        // SAFETY: eventfd returns a new descriptor or -1.
        let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if raw < 0 {
            return Err(DeviceError {
                device: device.name().to_string(),
                step: "create interrupt eventfd".into(),
                reason: std::io::Error::last_os_error().to_string(),
            });
        }
        // SAFETY: `raw` is a new descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let theirs = fd.try_clone().map_err(|e| DeviceError {
            device: device.name().to_string(),
            step: "duplicate interrupt eventfd".into(),
            reason: e.to_string(),
        })?;
        if device.set_irq_eventfd(index, 0, Some(theirs)).is_ok() {
            return Ok(Some(fd));
        }
    }
    Ok(None)
}

impl<D: DeviceAccess> RegisterAccess for DeviceSwitch<D> {
    fn read32(&mut self, offset: u32) -> u32 {
        self.bar0.read32(offset)
    }
    fn write32(&mut self, offset: u32, value: u32) {
        self.bar0.write32(offset, value)
    }
    fn write_words(&mut self, offset: u32, words: &[u32]) {
        self.bar0.write_words(offset, words)
    }
}

impl<D: DeviceAccess> PacketIo for DeviceSwitch<D> {
    /// The device's own ports receive frames; the host has none to give it.
    fn receive(&mut self, _port: u8, _frame: &[u8]) {}

    fn inject(&mut self, record: &[u8]) -> bool {
        self.mailbox(|d| host_mailbox::inject(d, record))
            .unwrap_or(false)
    }

    /// Frames leave through the device's own ports.
    fn pop_egress(&mut self) -> Option<(u8, Vec<u8>)> {
        None
    }

    fn pop_host(&mut self) -> Option<Vec<u8>> {
        // The device signals after each record it queues, so with nothing signalled since HOST_LEN
        // read 0 there is nothing to read.
        if self.irq_fired() {
            self.maybe_pending = true;
        }
        if !self.maybe_pending {
            return None;
        }
        let record = self.mailbox(host_mailbox::pop).flatten();
        if record.is_none() {
            self.maybe_pending = false;
        }
        record
    }
}
