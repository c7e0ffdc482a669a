//! BAR0, the register space, as the driver's [`RegisterAccess`] seam on top of any [`DeviceAccess`].
//! (Our own shell puts the register map at the start of BAR0; a shell such as OpenNIC puts its user
//! register window elsewhere, which [`RegisterWindow`] names.)
//!
//! Registers go through the mapping when the device offers one (kernel VFIO: a plain load/store per
//! register) and through region read/write otherwise (vfio-user: a socket message per register).
//! A device that stops answering behaves as on real PCIe: reads return all ones and writes vanish.
//! The first such sign (a failed transport call, or an all-ones read confirmed by an all-ones ID)
//! marks the device lost; that is sticky and [`Bar0::lost`] says why, so callers can stop instead of
//! programming tables into nothing.

use super::{DeviceAccess, DeviceError, BAR0_REGION};
use crate::access::RegisterAccess;
use crate::identity::{self, ALL_ONES};
use anypoint_model::regs::{self, reg};
use memmap2::MmapRaw;
use volatile_register::RW;

/// Where the register map sits: a BAR (VFIO region index) and a byte offset into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegisterWindow {
    pub region: u32,
    pub base: u64,
}

impl RegisterWindow {
    /// Our shell: the whole of BAR0.
    pub const BAR0: RegisterWindow = RegisterWindow {
        region: BAR0_REGION,
        base: 0,
    };
    /// OpenNIC: the 250 MHz user box's 1 MiB window at 0x100000 in BAR2 (docs/hardware.md).
    pub const OPEN_NIC_BOX0: RegisterWindow = RegisterWindow {
        region: 2,
        base: 0x10_0000,
    };
}

/// The register map of an Anypoint function.
pub struct Bar0<D: DeviceAccess> {
    /// The whole region, when mapped; registers start `window.base` bytes in. (Declared before
    /// `device`, so it is unmapped before the device is closed.)
    map: Option<MmapRaw>,
    device: D,
    window: RegisterWindow,
    size: u64,
    lost: Option<DeviceError>,
}

impl<D: DeviceAccess> Bar0<D> {
    /// The register map at the start of BAR0 (our shell): see [`Bar0::open_window`].
    pub fn open(device: D) -> Result<Self, DeviceError> {
        Self::open_window(device, RegisterWindow::BAR0)
    }

    /// Finds the window's BAR, maps it if the device allows, and checks ID and VERSION before
    /// anything else.
    pub fn open_window(mut device: D, window: RegisterWindow) -> Result<Self, DeviceError> {
        let bar = format!("BAR{}", window.region);
        let info = device.region_info(window.region)?;
        let needed = u64::from(regs::MAP_SIZE);
        if info.size < window.base + needed {
            return Err(error(
                &device,
                &format!("check {bar} size"),
                format!(
                    "{bar} is {:#x} bytes, the register map needs {needed:#x} from offset {:#x} \
                     (wrong bitstream, or the shell exposes a smaller register window)",
                    info.size, window.base
                ),
            ));
        }
        if !info.readable || !info.writable {
            return Err(error(
                &device,
                &format!("check {bar} access"),
                format!("{bar} is not both readable and writable through VFIO"),
            ));
        }
        let map = if info.mappable {
            device.region_mmap(window.region)?
        } else {
            None
        };
        if let Some(map) = &map {
            if (map.len() as u64) < window.base + needed {
                return Err(error(
                    &device,
                    &format!("map {bar}"),
                    format!(
                        "mapping is {:#x} bytes, too small for the window",
                        map.len()
                    ),
                ));
            }
        }
        let mut bar = Bar0 {
            device,
            map,
            window,
            size: needed,
            lost: None,
        };
        if let Err(e) = identity::check(&mut bar) {
            return Err(bar.lost.take().unwrap_or_else(|| {
                error(&bar.device, "check identity (ID, VERSION)", e.to_string())
            }));
        }
        Ok(bar)
    }

    /// Why the device was declared lost, if it was (sticky until the `Bar0` is dropped).
    pub fn lost(&self) -> Option<&DeviceError> {
        self.lost.as_ref()
    }

    /// Registers go through a mapping (true) or region read/write messages (false).
    pub fn is_mapped(&self) -> bool {
        self.map.is_some()
    }

    pub fn device(&mut self) -> &mut D {
        &mut self.device
    }

    /// The register at `offset` in the mapping, or why there is none.
    fn mapped(&self, offset: u32) -> Option<&RW<u32>> {
        let map = self.map.as_ref()?;
        let at = self.window.base as usize + offset as usize;
        // SAFETY: `offset` is 4-aligned and below `size` (checked by the callers), base + size fits
        // the mapping (checked in `open_window`), and the mapping lives as long as `self`.
        Some(unsafe { &*(map.as_mut_ptr().add(at) as *const RW<u32>) })
    }

    fn check_offset(&mut self, offset: u32, what: &str) -> bool {
        if offset.is_multiple_of(4) && u64::from(offset) + 4 <= self.size {
            return true;
        }
        let e = error(
            &self.device,
            &format!("{what} BAR0 at {offset:#x}"),
            format!("not a 32-bit register inside the {:#x}-byte map", self.size),
        );
        self.mark_lost(e);
        false
    }

    fn mark_lost(&mut self, e: DeviceError) {
        self.lost.get_or_insert(e);
    }

    fn raw_read(&mut self, offset: u32) -> Result<u32, DeviceError> {
        if let Some(r) = self.mapped(offset) {
            return Ok(r.read());
        }
        let mut buf = [0u8; 4];
        let at = self.window.base + u64::from(offset);
        self.device.region_read(self.window.region, at, &mut buf)?;
        Ok(u32::from_le_bytes(buf))
    }
}

impl<D: DeviceAccess> RegisterAccess for Bar0<D> {
    fn read32(&mut self, offset: u32) -> u32 {
        if self.lost.is_some() || !self.check_offset(offset, "read") {
            return ALL_ONES;
        }
        match self.raw_read(offset) {
            // Counters and table words may legitimately be all ones; the ID never is.
            Ok(ALL_ONES) if offset == reg::ID || self.raw_read(reg::ID).ok() == Some(ALL_ONES) => {
                let e = error(
                    &self.device,
                    &format!("read BAR0 at {offset:#x}"),
                    "device not responding (reads return all ones: link down, surprise \
                     removal, or FPGA reconfigured)"
                        .into(),
                );
                self.mark_lost(e);
                ALL_ONES
            }
            Ok(value) => value,
            Err(e) => {
                self.mark_lost(e);
                ALL_ONES
            }
        }
    }

    fn write32(&mut self, offset: u32, value: u32) {
        if self.lost.is_some() || !self.check_offset(offset, "write") {
            return;
        }
        if let Some(r) = self.mapped(offset) {
            // SAFETY: a device register; a write has no effect on Rust-visible memory.
            unsafe { r.write(value) };
            return;
        }
        let at = self.window.base + u64::from(offset);
        if let Err(e) = self
            .device
            .region_write(self.window.region, at, &value.to_le_bytes())
        {
            self.mark_lost(e);
        }
    }

    /// Mapped: one store per register. Else one region write for all of them.
    fn write_words(&mut self, offset: u32, words: &[u32]) {
        let Some(last) = (words.len() as u32).checked_sub(1) else {
            return;
        };
        if self.map.is_some() {
            return crate::access::write_each(self, offset, words);
        }
        if self.lost.is_some()
            || !self.check_offset(offset, "write")
            || !self.check_offset(offset + 4 * last, "write")
        {
            return;
        }
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let at = self.window.base + u64::from(offset);
        if let Err(e) = self.device.region_write(self.window.region, at, &bytes) {
            self.mark_lost(e);
        }
    }
}

fn error<D: DeviceAccess>(device: &D, step: &str, reason: String) -> DeviceError {
    DeviceError {
        device: device.name().to_string(),
        step: step.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::RegionInfo;
    use anypoint_model::{Geometry, Switch};
    use std::os::fd::OwnedFd;

    /// The in-process model behind the device trait, with switches for the failures under test.
    struct ModelFunction {
        switch: Switch,
        bar_size: u64,
        /// Every read returns all ones, as after a surprise removal.
        unplugged: bool,
        /// Every transport call fails, as when the vfio-user server died.
        broken: bool,
        /// Memory handed out as the BAR0 mapping (ID and VERSION preset), if any.
        map: Option<MmapRaw>,
        region_calls: u32,
    }

    impl ModelFunction {
        fn new() -> Self {
            ModelFunction {
                switch: Switch::new(Geometry::default()),
                bar_size: regs::MAP_SIZE.into(),
                unplugged: false,
                broken: false,
                map: None,
                region_calls: 0,
            }
        }
        fn transport(&mut self, step: &str) -> Result<(), DeviceError> {
            self.region_calls += 1;
            if self.broken {
                return Err(error(self, step, "connection reset by peer".into()));
            }
            Ok(())
        }
    }

    impl DeviceAccess for ModelFunction {
        fn name(&self) -> &str {
            "model"
        }
        fn region_info(&mut self, index: u32) -> Result<RegionInfo, DeviceError> {
            Ok(RegionInfo {
                index,
                size: self.bar_size,
                offset: 0,
                readable: true,
                writable: true,
                mappable: self.map.is_some(),
            })
        }
        fn region_read(&mut self, _: u32, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
            self.transport("read")?;
            let value = if self.unplugged {
                ALL_ONES
            } else {
                self.switch.read32(offset as u32)
            };
            buf.copy_from_slice(&value.to_le_bytes());
            Ok(())
        }
        fn region_write(&mut self, _: u32, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
            self.transport("write")?;
            for (i, word) in data.chunks_exact(4).enumerate() {
                let value = u32::from_le_bytes(word.try_into().unwrap());
                self.switch.write32(offset as u32 + 4 * i as u32, value);
            }
            Ok(())
        }
        fn region_mmap(&mut self, _: u32) -> Result<Option<MmapRaw>, DeviceError> {
            Ok(self.map.take())
        }
        fn reset(&mut self) -> Result<(), DeviceError> {
            Ok(())
        }
        fn set_irq_eventfd(
            &mut self,
            _: u32,
            _: u32,
            _: Option<OwnedFd>,
        ) -> Result<(), DeviceError> {
            Ok(())
        }
    }

    fn open_err(device: ModelFunction) -> String {
        Bar0::open(device)
            .err()
            .expect("open must fail")
            .to_string()
    }

    #[test]
    fn registers_reach_the_model() {
        let mut bar = Bar0::open(ModelFunction::new()).unwrap();
        assert!(!bar.is_mapped());
        bar.write32(reg::MAX_FRAME, 1500);
        assert_eq!(bar.read32(reg::MAX_FRAME), 1500);
        assert_eq!(bar.device().switch.read32(reg::MAX_FRAME), 1500);
        assert!(bar.lost().is_none());
    }

    #[test]
    fn open_rejects_a_small_bar() {
        let mut device = ModelFunction::new();
        device.bar_size = 0x1000;
        let msg = open_err(device);
        assert!(
            msg.starts_with("model: check BAR0 size: BAR0 is 0x1000 bytes"),
            "{msg}"
        );
    }

    #[test]
    fn open_reports_a_silent_device_as_not_responding() {
        let mut device = ModelFunction::new();
        device.unplugged = true;
        let msg = open_err(device);
        assert!(msg.contains("device not responding"), "{msg}");
    }

    #[test]
    fn open_rejects_a_foreign_device_before_writing() {
        // Memory that is not an Anypoint switch: ID 0x12345678.
        let mut device = ModelFunction::new();
        let mut mem = memmap2::MmapMut::map_anon(regs::MAP_SIZE as usize).unwrap();
        mem[0..4].copy_from_slice(&0x1234_5678u32.to_le_bytes());
        device.map = Some(mem.into());
        let msg = open_err(device);
        assert!(
            msg.contains("not an Anypoint switch: ID 0x12345678"),
            "{msg}"
        );
    }

    #[test]
    fn open_rejects_an_older_minor_version() {
        let mut device = ModelFunction::new();
        let mut mem = memmap2::MmapMut::map_anon(regs::MAP_SIZE as usize).unwrap();
        mem[0..4].copy_from_slice(&regs::DEVICE_ID.to_le_bytes());
        let older = (regs::MAP_VERSION & 0xffff_0000) | ((regs::MAP_VERSION & 0xffff) - 1);
        mem[4..8].copy_from_slice(&older.to_le_bytes());
        device.map = Some(mem.into());
        let msg = open_err(device);
        assert!(msg.contains("not an Anypoint switch"), "{msg}");
    }

    #[test]
    fn a_mapping_is_used_instead_of_region_calls() {
        let mut device = ModelFunction::new();
        let mut mem = memmap2::MmapMut::map_anon(regs::MAP_SIZE as usize).unwrap();
        mem[0..4].copy_from_slice(&regs::DEVICE_ID.to_le_bytes());
        mem[4..8].copy_from_slice(&regs::MAP_VERSION.to_le_bytes());
        device.map = Some(mem.into());
        let mut bar = Bar0::open(device).unwrap();
        assert!(bar.is_mapped());
        bar.write32(0x10_0000 - 4, 0xdead_beef);
        assert_eq!(bar.read32(0x10_0000 - 4), 0xdead_beef);
        assert_eq!(bar.device().region_calls, 0);
    }

    #[test]
    fn words_go_in_one_region_write_and_only_inside_the_map() {
        let mut bar = Bar0::open(ModelFunction::new()).unwrap();
        let calls = bar.device().region_calls;
        bar.write_words(reg::HASH_KEY, &[1, 2, 3, 4]);
        assert_eq!(bar.device().region_calls, calls + 1);
        for i in 0..4 {
            assert_eq!(bar.read32(reg::HASH_KEY + 4 * i), i + 1);
        }
        assert!(bar.lost().is_none());
        bar.write_words(regs::MAP_SIZE - 4, &[1, 2]);
        let msg = bar.lost().expect("lost").to_string();
        assert!(msg.contains("not a 32-bit register inside"), "{msg}");
    }

    #[test]
    fn all_ones_data_is_not_a_lost_device() {
        let mut bar = Bar0::open(ModelFunction::new()).unwrap();
        bar.write32(reg::HASH_KEY, ALL_ONES);
        assert_eq!(bar.read32(reg::HASH_KEY), ALL_ONES);
        assert!(bar.lost().is_none());
    }

    #[test]
    fn an_unplugged_device_is_lost_for_good() {
        let mut bar = Bar0::open(ModelFunction::new()).unwrap();
        bar.device().unplugged = true;
        assert_eq!(bar.read32(reg::MAX_FRAME), ALL_ONES);
        let msg = bar.lost().expect("lost").to_string();
        assert!(
            msg.contains("read BAR0 at 0x20: device not responding"),
            "{msg}"
        );
        // Sticky: the device coming back does not hide that state was lost, and writes stop.
        bar.device().unplugged = false;
        bar.write32(reg::MAX_FRAME, 1500);
        assert_eq!(
            bar.device().switch.read32(reg::MAX_FRAME),
            reg::MAX_FRAME_RESET
        );
        assert_eq!(bar.read32(reg::ID), ALL_ONES);
    }

    #[test]
    fn a_failed_transport_is_a_lost_device() {
        let mut bar = Bar0::open(ModelFunction::new()).unwrap();
        bar.device().broken = true;
        bar.write32(reg::MAX_FRAME, 1500);
        let msg = bar.lost().expect("lost").to_string();
        assert_eq!(msg, "model: write: connection reset by peer");
    }

    #[test]
    fn an_access_outside_the_map_is_refused() {
        let mut bar = Bar0::open(ModelFunction::new()).unwrap();
        assert_eq!(bar.read32(regs::MAP_SIZE), ALL_ONES);
        let msg = bar.lost().expect("lost").to_string();
        assert!(
            msg.contains("read BAR0 at 0x100000: not a 32-bit register"),
            "{msg}"
        );
    }
}
