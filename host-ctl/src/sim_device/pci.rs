//! The simulated NIC's PCI configuration space: a type-0 header with the board's IDs, an Ethernet
//! class code, two 32-bit memory BARs (BAR0 registers, BAR2 host mailbox) that size as on real
//! hardware, and INTA. Only the command register and the BARs are writable.

use anypoint_driver::device::{
    host_mailbox, PCI_DEVICE_ID as DEVICE_ID, PCI_VENDOR_ID as VENDOR_ID,
};
use anypoint_model::regs;

/// Bytes of configuration space (conventional PCI header, no extended space).
pub const SIZE: u64 = 256;

const COMMAND: usize = 0x04;
const BAR0: usize = 0x10;
const BAR_COUNT: usize = 6;

pub struct ConfigSpace {
    bytes: [u8; SIZE as usize],
    /// Size of each BAR; 0 = not implemented.
    bar_sizes: [u32; BAR_COUNT],
}

impl ConfigSpace {
    pub fn new() -> ConfigSpace {
        let mut bytes = [0u8; SIZE as usize];
        let mut put = |at: usize, v: &[u8]| bytes[at..at + v.len()].copy_from_slice(v);
        put(0x00, &VENDOR_ID.to_le_bytes());
        put(0x02, &DEVICE_ID.to_le_bytes());
        put(0x08, &[1, 0x00, 0x00, 0x02]); // revision 1; class 02/00/00: Ethernet controller
        put(0x0e, &[0x00]); // header type 0, single function
        put(0x2c, &VENDOR_ID.to_le_bytes()); // subsystem vendor
        put(0x2e, &DEVICE_ID.to_le_bytes()); // subsystem
        put(0x3d, &[1]); // interrupt pin INTA
        let mut bar_sizes = [0; BAR_COUNT];
        bar_sizes[0] = regs::MAP_SIZE;
        bar_sizes[2] = host_mailbox::SIZE as u32;
        ConfigSpace { bytes, bar_sizes }
    }

    pub fn read(&self, offset: u64, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = usize::try_from(offset + i as u64)
                .ok()
                .and_then(|at| self.bytes.get(at).copied())
                .unwrap_or(0);
        }
    }

    /// Writes the bytes that land in writable fields; the rest are ignored as on hardware.
    pub fn write(&mut self, offset: u64, data: &[u8]) {
        for (i, &b) in data.iter().enumerate() {
            let Some(at) = usize::try_from(offset + i as u64)
                .ok()
                .filter(|&a| a < SIZE as usize)
            else {
                return;
            };
            if (COMMAND..COMMAND + 2).contains(&at) {
                self.bytes[at] = b;
            } else if (BAR0..BAR0 + 4 * BAR_COUNT).contains(&at) {
                let bar = (at - BAR0) / 4;
                // A BAR keeps only the address bits above its size (all ones reads back the size
                // mask); the low four bits say "32-bit memory, not prefetchable" (zero).
                let mask = !(self.bar_sizes[bar].wrapping_sub(1)) & !0xf;
                let byte_mask = if self.bar_sizes[bar] == 0 {
                    0
                } else {
                    (mask >> (8 * ((at - BAR0) % 4))) as u8
                };
                self.bytes[at] = b & byte_mask;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dword(c: &ConfigSpace, at: u64) -> u32 {
        let mut b = [0u8; 4];
        c.read(at, &mut b);
        u32::from_le_bytes(b)
    }

    #[test]
    fn bars_size_like_pci_and_ids_are_read_only() {
        let mut c = ConfigSpace::new();
        c.write(0x00, &[0; 4]);
        assert_eq!(
            dword(&c, 0),
            u32::from(VENDOR_ID) | u32::from(DEVICE_ID) << 16
        );
        for (bar, size) in [(0u64, 0x10_0000u32), (1, 0), (2, 0x1_0000)] {
            c.write(0x10 + 4 * bar, &u32::MAX.to_le_bytes());
            let got = dword(&c, 0x10 + 4 * bar);
            // Decoding per the PCI spec: size = ~(value & ~0xf) + 1.
            let decoded = if got == 0 {
                0
            } else {
                (!(got & !0xf)).wrapping_add(1)
            };
            assert_eq!(decoded, size, "BAR{bar}");
        }
        c.write(0x10, &0xfe40_0000u32.to_le_bytes());
        assert_eq!(dword(&c, 0x10), 0xfe40_0000);
        c.write(0x04, &[0x06, 0x00]);
        assert_eq!(dword(&c, 0x04) & 0xffff, 0x0006);
        assert_eq!(dword(&c, 0x08) >> 8, 0x02_0000, "Ethernet class");
    }
}
