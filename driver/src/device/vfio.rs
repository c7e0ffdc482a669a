//! [`DeviceAccess`] over kernel VFIO: the board's PCI function bound to `vfio-pci`, opened as
//! container, group and device with `vfio-ioctls`, BAR0 mapped with `memmap2`.
//!
//! The ioctls sit behind [`VfioKernel`] so that region discovery, mapping offsets and the error
//! paths are tested without a board; [`KernelVfio`] is the real one. Region reads and writes are
//! `pread`/`pwrite` on the device fd at the region's offset, as VFIO defines them, so a failure is
//! an error here rather than a log line.

use super::vfio_sysfs::{self, Ready};
use super::{DeviceAccess, DeviceError, RegionInfo, BAR0_REGION};
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use vfio_bindings::bindings::vfio::{
    VFIO_BASE, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_REGION_INFO_FLAG_MMAP,
    VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE, VFIO_TYPE,
};

/// One region as `VFIO_DEVICE_GET_REGION_INFO` describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawRegion {
    pub flags: u32,
    pub size: u64,
    /// Where the region starts in the device fd (for pread/pwrite/mmap).
    pub offset: u64,
}

/// The VFIO ioctls one open device needs.
pub trait VfioKernel {
    /// The region's info; `None` if the device has no such region (or it is empty).
    fn region(&self, index: u32) -> Option<RawRegion>;
    /// Vectors of interrupt `index` (`VFIO_DEVICE_GET_IRQ_INFO`), 0 if none.
    fn irq_count(&self, index: u32) -> u32;
    /// The device fd: regions are read, written and mapped through it.
    fn device_fd(&self) -> BorrowedFd<'_>;
    /// `VFIO_DEVICE_RESET`.
    fn reset(&self) -> io::Result<()>;
    /// `VFIO_DEVICE_SET_IRQS` for one vector: trigger `fd`, or nothing when `None` (-1).
    fn set_irq(&self, index: u32, vector: u32, fd: Option<RawFd>) -> io::Result<()>;
}

/// An open VFIO device with the driver's error messages on top of its ioctls.
pub struct Vfio<K: VfioKernel> {
    name: String,
    /// The device fd, for positioned reads and writes (a duplicate of the kernel's; declared before
    /// `kernel` so it is closed before the kernel side releases group and container).
    file: File,
    /// Eventfds routed to interrupts, kept open while routed.
    irqs: HashMap<(u32, u32), OwnedFd>,
    kernel: K,
}

/// Opens the board at `pci_addr` (`0000:01:00.0`) through kernel VFIO, after the checks of
/// [`vfio_sysfs::check`]; each failure names the address, the step and the fix.
pub fn open_vfio(pci_addr: &str) -> Result<Vfio<KernelVfio>, DeviceError> {
    let addr = vfio_sysfs::normalize_pci_address(pci_addr)?;
    let ready = vfio_sysfs::check(Path::new("/"), &addr)?;
    let kernel = KernelVfio::open(&ready).map_err(|(step, reason)| DeviceError {
        device: addr.clone(),
        step,
        reason,
    })?;
    Vfio::new(addr, kernel)
}

impl<K: VfioKernel> Vfio<K> {
    pub fn new(name: String, kernel: K) -> Result<Self, DeviceError> {
        let file = kernel
            .device_fd()
            .try_clone_to_owned()
            .map(File::from)
            .map_err(|e| DeviceError {
                device: name.clone(),
                step: "duplicate the device fd".into(),
                reason: e.to_string(),
            })?;
        Ok(Vfio {
            name,
            kernel,
            file,
            irqs: HashMap::new(),
        })
    }

    /// MSI-X vectors the board offers (0: none, the host queue is polled or uses INTx).
    pub fn msix_vectors(&self) -> u32 {
        self.kernel.irq_count(super::MSIX_IRQ)
    }

    fn fail(&self, step: String, reason: String) -> DeviceError {
        DeviceError {
            device: self.name.clone(),
            step,
            reason,
        }
    }

    /// The region, checked to hold `len` bytes at `offset`.
    fn span(&self, index: u32, offset: u64, len: usize, what: &str) -> Result<u64, DeviceError> {
        let step = || format!("{what} region {index} at {offset:#x}");
        let region = self
            .kernel
            .region(index)
            .ok_or_else(|| self.fail(step(), "the device has no such region".into()))?;
        if offset
            .checked_add(len as u64)
            .is_none_or(|end| end > region.size)
        {
            return Err(self.fail(
                step(),
                format!("{len} bytes do not fit the {:#x}-byte region", region.size),
            ));
        }
        Ok(region.offset + offset)
    }
}

impl<K: VfioKernel> DeviceAccess for Vfio<K> {
    fn name(&self) -> &str {
        &self.name
    }

    fn region_info(&mut self, index: u32) -> Result<RegionInfo, DeviceError> {
        let r = self.kernel.region(index).ok_or_else(|| {
            let hint = if index == BAR0_REGION {
                ": the bitstream exposes no BAR0 (wrong bitstream, or the board is not configured)"
            } else {
                ""
            };
            self.fail(
                format!("get region {index} info"),
                format!("the device has no region {index}{hint}"),
            )
        })?;
        Ok(RegionInfo {
            index,
            size: r.size,
            offset: r.offset,
            readable: r.flags & VFIO_REGION_INFO_FLAG_READ != 0,
            writable: r.flags & VFIO_REGION_INFO_FLAG_WRITE != 0,
            mappable: r.flags & VFIO_REGION_INFO_FLAG_MMAP != 0,
        })
    }

    fn region_read(&mut self, index: u32, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let at = self.span(index, offset, buf.len(), "read")?;
        self.file
            .read_exact_at(buf, at)
            .map_err(|e| self.fail(format!("read region {index} at {offset:#x}"), e.to_string()))
    }

    fn region_write(&mut self, index: u32, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        let at = self.span(index, offset, data.len(), "write")?;
        self.file.write_all_at(data, at).map_err(|e| {
            self.fail(
                format!("write region {index} at {offset:#x}"),
                e.to_string(),
            )
        })
    }

    fn region_mmap(&mut self, index: u32) -> Result<Option<memmap2::MmapRaw>, DeviceError> {
        let info = self.region_info(index)?;
        if !info.mappable {
            return Ok(None);
        }
        memmap2::MmapOptions::new()
            .offset(info.offset)
            .len(info.size as usize)
            .map_raw(&self.file)
            .map(Some)
            .map_err(|e| {
                self.fail(
                    format!(
                        "map region {index} ({:#x} bytes at fd offset {:#x})",
                        info.size, info.offset
                    ),
                    e.to_string(),
                )
            })
    }

    fn reset(&mut self) -> Result<(), DeviceError> {
        self.kernel.reset().map_err(|e| {
            self.fail(
                "reset the device (VFIO_DEVICE_RESET)".into(),
                format!("{e} (the slot may not support function-level reset)"),
            )
        })
    }

    fn set_irq_eventfd(
        &mut self,
        irq_index: u32,
        vector: u32,
        eventfd: Option<OwnedFd>,
    ) -> Result<(), DeviceError> {
        let step = format!("route interrupt {irq_index} vector {vector}");
        let count = self.kernel.irq_count(irq_index);
        if vector >= count {
            return Err(self.fail(step, format!("the device has {count} vectors there")));
        }
        let raw = eventfd.as_ref().map(|fd| fd.as_raw_fd());
        self.kernel
            .set_irq(irq_index, vector, raw)
            .map_err(|e| self.fail(step, e.to_string()))?;
        match eventfd {
            Some(fd) => self.irqs.insert((irq_index, vector), fd),
            None => self.irqs.remove(&(irq_index, vector)),
        };
        Ok(())
    }
}

/// The real ioctls, through `vfio-ioctls` (legacy container/group interface, type-1 IOMMU).
pub struct KernelVfio {
    device: vfio_ioctls::VfioDevice,
}

/// `_IO(VFIO_TYPE, VFIO_BASE + n)`.
const fn vfio_io(n: u32) -> libc::c_ulong {
    ((VFIO_TYPE as u32) << 8 | (VFIO_BASE + n)) as libc::c_ulong
}
const VFIO_DEVICE_SET_IRQS: libc::c_ulong = vfio_io(10);
const VFIO_DEVICE_RESET: libc::c_ulong = vfio_io(11);

/// `struct vfio_irq_set` with room for one eventfd.
#[repr(C)]
struct IrqSetOne {
    argsz: u32,
    flags: u32,
    index: u32,
    start: u32,
    count: u32,
    fd: i32,
}

impl KernelVfio {
    /// Container, group, device: errors as (step, reason).
    fn open(ready: &Ready) -> Result<KernelVfio, (String, String)> {
        use vfio_ioctls::VfioError as E;
        let container = vfio_ioctls::VfioContainer::new(None).map_err(|e| {
            let hint = match e {
                E::VfioExtension => ": the kernel has no type-1 IOMMU (enable the IOMMU)",
                _ => "",
            };
            ("open the VFIO container".to_string(), format!("{e}{hint}"))
        })?;
        let device = vfio_ioctls::VfioDevice::new(&ready.sysfs, Arc::new(container), false)
            .map_err(|e| {
                let group = ready.group;
                let hint = match e {
                    E::GroupViable => format!(
                        ": every device of /sys/kernel/iommu_groups/{group}/devices must be \
                         bound to vfio-pci or unbound"
                    ),
                    E::OpenGroup(..) => " (permissions on the group node?)".into(),
                    _ => String::new(),
                };
                (
                    format!("open the device in IOMMU group {group}"),
                    format!("{e}{hint}"),
                )
            })?;
        Ok(KernelVfio { device })
    }

    fn ioctl<T>(&self, request: libc::c_ulong, arg: *mut T) -> io::Result<()> {
        // SAFETY: `request` is a VFIO device ioctl whose argument is `T` (or none, for reset).
        let ret = unsafe { libc::ioctl(self.device.as_raw_fd(), request as _, arg) };
        if ret < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

impl VfioKernel for KernelVfio {
    fn region(&self, index: u32) -> Option<RawRegion> {
        let size = self.device.get_region_size(index);
        (size > 0).then(|| RawRegion {
            flags: self.device.get_region_flags(index),
            size,
            offset: self.device.get_region_offset(index),
        })
    }
    fn irq_count(&self, index: u32) -> u32 {
        self.device.get_irq_info(index).map_or(0, |i| i.count)
    }
    fn device_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the fd belongs to `self.device` and lives as long as it.
        unsafe { BorrowedFd::borrow_raw(self.device.as_raw_fd()) }
    }
    fn reset(&self) -> io::Result<()> {
        self.ioctl(VFIO_DEVICE_RESET, std::ptr::null_mut::<u8>())
    }
    fn set_irq(&self, index: u32, vector: u32, fd: Option<RawFd>) -> io::Result<()> {
        let mut set = IrqSetOne {
            argsz: std::mem::size_of::<IrqSetOne>() as u32,
            flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
            index,
            start: vector,
            count: 1,
            fd: fd.unwrap_or(-1),
        };
        self.ioctl(VFIO_DEVICE_SET_IRQS, &mut set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::RegisterAccess;
    use crate::device::{Bar0, RegisterWindow, MSIX_IRQ};
    use anypoint_model::regs::{self, reg};
    use std::cell::RefCell;

    /// Where the fake puts region `index` in the device fd: not the kernel's `index << 40`, so a
    /// driver that assumed the kernel's layout instead of using the reported offset would fail.
    fn fake_offset(index: u32) -> u64 {
        0x30_0000 * (u64::from(index) + 1)
    }

    const RW_MMAP: u32 =
        VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP;

    /// The ioctl layer of a board whose device fd is a temporary file.
    struct FakeKernel {
        file: File,
        regions: HashMap<u32, RawRegion>,
        msix: u32,
        reset: Option<i32>,
        irq_calls: RefCell<Vec<(u32, u32, bool)>>,
    }

    impl FakeKernel {
        /// An Anypoint board: BAR0 of the register map's size with ID and VERSION in place.
        fn board(bar0_flags: u32) -> FakeKernel {
            let mut k = FakeKernel {
                file: tempfile::tempfile().unwrap(),
                regions: HashMap::new(),
                msix: 1,
                reset: None,
                irq_calls: RefCell::new(Vec::new()),
            };
            k.add_region(BAR0_REGION, bar0_flags, regs::MAP_SIZE.into());
            k.poke(BAR0_REGION, reg::ID, regs::DEVICE_ID);
            k.poke(BAR0_REGION, reg::VERSION, regs::MAP_VERSION);
            k
        }
        fn add_region(&mut self, index: u32, flags: u32, size: u64) {
            let offset = fake_offset(index);
            self.regions.insert(
                index,
                RawRegion {
                    flags,
                    size,
                    offset,
                },
            );
            self.file.set_len(offset + size).unwrap();
        }
        fn poke(&self, index: u32, offset: u32, value: u32) {
            let at = self.regions[&index].offset + u64::from(offset);
            self.file.write_all_at(&value.to_le_bytes(), at).unwrap();
        }
    }

    impl VfioKernel for FakeKernel {
        fn region(&self, index: u32) -> Option<RawRegion> {
            self.regions.get(&index).copied()
        }
        fn irq_count(&self, index: u32) -> u32 {
            if index == MSIX_IRQ {
                self.msix
            } else {
                0
            }
        }
        fn device_fd(&self) -> BorrowedFd<'_> {
            use std::os::fd::AsFd;
            self.file.as_fd()
        }
        fn reset(&self) -> io::Result<()> {
            self.reset
                .map_or(Ok(()), |errno| Err(io::Error::from_raw_os_error(errno)))
        }
        fn set_irq(&self, index: u32, vector: u32, fd: Option<RawFd>) -> io::Result<()> {
            self.irq_calls
                .borrow_mut()
                .push((index, vector, fd.is_some()));
            Ok(())
        }
    }

    fn vfio(kernel: FakeKernel) -> Vfio<FakeKernel> {
        Vfio::new("0000:01:00.0".into(), kernel).unwrap()
    }

    /// The word at `offset` of region `index` as the device fd holds it.
    fn peek(v: &Vfio<FakeKernel>, index: u32, offset: u32) -> u32 {
        let mut b = [0u8; 4];
        let at = fake_offset(index) + u64::from(offset);
        v.kernel.file.read_exact_at(&mut b, at).unwrap();
        u32::from_le_bytes(b)
    }

    #[test]
    fn region_discovery_reports_the_kernel_flags_and_offsets() {
        let mut k = FakeKernel::board(RW_MMAP);
        k.add_region(2, VFIO_REGION_INFO_FLAG_READ, 0x1_0000);
        let mut v = vfio(k);
        let bar0 = v.region_info(BAR0_REGION).unwrap();
        assert_eq!(
            (
                bar0.size,
                bar0.offset,
                bar0.readable,
                bar0.writable,
                bar0.mappable
            ),
            (0x10_0000, 0x30_0000, true, true, true)
        );
        let bar2 = v.region_info(2).unwrap();
        assert_eq!(
            (bar2.offset, bar2.writable, bar2.mappable),
            (0x90_0000, false, false)
        );
        let e = v.region_info(4).unwrap_err().to_string();
        assert_eq!(
            e,
            "0000:01:00.0: get region 4 info: the device has no region 4"
        );
    }

    #[test]
    fn a_board_without_bar0_says_so() {
        let mut k = FakeKernel::board(RW_MMAP);
        k.regions.clear();
        let e = Bar0::open(vfio(k)).err().unwrap().to_string();
        assert!(
            e.contains("get region 0 info: the device has no region 0: the bitstream"),
            "{e}"
        );
    }

    #[test]
    fn bar0_is_mapped_at_the_region_offset() {
        let mut bar = Bar0::open(vfio(FakeKernel::board(RW_MMAP))).unwrap();
        assert!(bar.is_mapped());
        bar.write32(reg::MAX_FRAME, 1500);
        assert_eq!(peek(bar.device(), BAR0_REGION, reg::MAX_FRAME), 1500);
        bar.device().kernel.poke(BAR0_REGION, reg::NUM_PORTS, 4);
        assert_eq!(bar.read32(reg::NUM_PORTS), 4);
    }

    #[test]
    fn an_open_nic_window_is_found_inside_bar2() {
        let mut k = FakeKernel::board(RW_MMAP);
        k.regions.clear();
        k.add_region(2, RW_MMAP, 0x40_0000);
        let base = RegisterWindow::OPEN_NIC_BOX0.base as u32;
        k.poke(2, base + reg::ID, regs::DEVICE_ID);
        k.poke(2, base + reg::VERSION, regs::MAP_VERSION);
        let mut bar = Bar0::open_window(vfio(k), RegisterWindow::OPEN_NIC_BOX0).unwrap();
        bar.write32(reg::MAX_FRAME, 1500);
        assert_eq!(peek(bar.device(), 2, base + reg::MAX_FRAME), 1500);
        // The same board is no Anypoint switch at the start of BAR2.
        let mut k = FakeKernel::board(RW_MMAP);
        k.add_region(2, RW_MMAP, 0x40_0000);
        let window = RegisterWindow { region: 2, base: 0 };
        let e = Bar0::open_window(vfio(k), window)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("device not responding") || e.contains("not an Anypoint"),
            "{e}"
        );
    }

    #[test]
    fn an_unmappable_bar0_goes_through_pread_and_pwrite() {
        let flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
        let mut bar = Bar0::open(vfio(FakeKernel::board(flags))).unwrap();
        assert!(!bar.is_mapped());
        bar.write32(reg::MAX_FRAME, 1500);
        assert_eq!(peek(bar.device(), BAR0_REGION, reg::MAX_FRAME), 1500);
        assert_eq!(bar.read32(reg::ID), regs::DEVICE_ID);
    }

    #[test]
    fn a_small_bar0_is_refused() {
        let mut k = FakeKernel::board(RW_MMAP);
        k.regions.get_mut(&BAR0_REGION).unwrap().size = 0x1_0000;
        let e = Bar0::open(vfio(k)).err().unwrap().to_string();
        assert!(
            e.starts_with("0000:01:00.0: check BAR0 size: BAR0 is 0x10000 bytes"),
            "{e}"
        );
    }

    #[test]
    fn another_device_behind_vfio_is_refused() {
        let k = FakeKernel::board(RW_MMAP);
        k.poke(BAR0_REGION, reg::ID, 0x1d0f_ec20);
        let e = Bar0::open(vfio(k)).err().unwrap().to_string();
        assert!(
            e.starts_with(
                "0000:01:00.0: check identity (ID, VERSION): not an Anypoint switch: ID 0x1d0fec20"
            ),
            "{e}"
        );
    }

    #[test]
    fn accesses_outside_a_region_are_errors() {
        let mut v = vfio(FakeKernel::board(RW_MMAP));
        let mut b = [0u8; 4];
        let e = v
            .region_read(BAR0_REGION, 0xf_fffe, &mut b)
            .unwrap_err()
            .to_string();
        assert!(e.contains("read region 0 at 0xffffe: 4 bytes do not fit the 0x100000-byte region"));
        let e = v.region_write(3, 0, &b).unwrap_err().to_string();
        assert!(
            e.contains("write region 3 at 0x0: the device has no such region"),
            "{e}"
        );
    }

    #[test]
    fn reset_failures_name_the_ioctl() {
        let mut k = FakeKernel::board(RW_MMAP);
        k.reset = Some(libc::ENOTTY);
        let e = vfio(k).reset().unwrap_err().to_string();
        assert!(
            e.starts_with("0000:01:00.0: reset the device (VFIO_DEVICE_RESET): "),
            "{e}"
        );
    }

    #[test]
    fn msix_vectors_are_routed_only_when_the_board_has_them() {
        let mut v = vfio(FakeKernel::board(RW_MMAP));
        assert_eq!(v.msix_vectors(), 1);
        let fd: OwnedFd = tempfile::tempfile().unwrap().into();
        v.set_irq_eventfd(MSIX_IRQ, 0, Some(fd)).unwrap();
        let e = v
            .set_irq_eventfd(MSIX_IRQ, 1, None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "0000:01:00.0: route interrupt 2 vector 1: the device has 1 vectors there"
        );
        v.set_irq_eventfd(MSIX_IRQ, 0, None).unwrap();
        assert_eq!(
            *v.kernel.irq_calls.borrow(),
            [(MSIX_IRQ, 0, true), (MSIX_IRQ, 0, false)]
        );
        assert!(v.irqs.is_empty());
    }

    #[test]
    fn the_ioctl_numbers_are_the_kernels() {
        // include/uapi/linux/vfio.h: VFIO_DEVICE_SET_IRQS = _IO(';', 110), VFIO_DEVICE_RESET = _IO(';', 111).
        assert_eq!(VFIO_DEVICE_SET_IRQS, 0x3b6e);
        assert_eq!(VFIO_DEVICE_RESET, 0x3b6f);
        assert_eq!(std::mem::size_of::<IrqSetOne>(), 24);
    }
}
