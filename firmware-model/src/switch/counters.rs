//! The `CTR` region: 64-bit counters laid out as in `regs::ctr`, with the high-word latch.

use crate::regs::{ctr, region};

/// Counter storage, one `u64` per 8 bytes of the region (slots outside a block stay 0).
pub(super) struct Counters {
    values: Vec<u64>,
    /// High word captured by the last low-word read. One latch for the whole region, as in
    /// hardware: a high-word read returns it whichever counter it addresses.
    latch: u32,
}

/// Slot of counter `c` of instance `i` of the block at `offset` with `stride`.
const fn slot(offset: u32, stride: u32, i: usize, c: usize) -> usize {
    (offset / 8) as usize + i * (stride / 8) as usize + c
}

impl Counters {
    pub fn new() -> Counters {
        Counters {
            values: vec![0; (region::CTR_SIZE / 8) as usize],
            latch: 0,
        }
    }

    /// `CTR_CLEAR`: the latch is not a counter and keeps its value.
    pub fn clear(&mut self) {
        self.values.fill(0);
    }

    /// A read at byte `offset` within the region.
    pub fn read(&mut self, offset: u32) -> u32 {
        let value = self.values[(offset / 8) as usize];
        if offset.is_multiple_of(8) {
            self.latch = (value >> 32) as u32;
            value as u32
        } else {
            self.latch
        }
    }

    fn add(&mut self, slot: usize, n: u64) {
        self.values[slot] = self.values[slot].wrapping_add(n);
    }

    fn port(&mut self, port: u8, c: usize, n: u64) {
        use ctr::port::*;
        self.add(slot(OFFSET, STRIDE, usize::from(port), c), n);
    }

    pub fn port_rx(&mut self, port: u8, bytes: usize) {
        self.port(port, ctr::port::RX_PACKETS, 1);
        self.port(port, ctr::port::RX_BYTES, bytes as u64);
    }

    pub fn port_tx(&mut self, port: u8, bytes: usize) {
        self.port(port, ctr::port::TX_PACKETS, 1);
        self.port(port, ctr::port::TX_BYTES, bytes as u64);
    }

    pub fn port_drop(&mut self, port: u8) {
        self.port(port, ctr::port::DROP_PACKETS, 1);
    }

    pub fn port_host(&mut self, port: u8) {
        self.port(port, ctr::port::HOST_PACKETS, 1);
    }

    pub fn reason(&mut self, code: u8) {
        use ctr::reason::*;
        self.add(slot(OFFSET, STRIDE, usize::from(code), PACKETS), 1);
    }

    /// A frame forwarded for service `service` and member `member`, peer to member (`outbound`
    /// false) or member to peer. Ids beyond the register map's blocks are not counted.
    pub fn forwarded(&mut self, service: u16, member: u16, outbound: bool, bytes: usize) {
        use ctr::{member as m, service as s};
        let (s_packets, s_bytes, m_packets, m_bytes) = if outbound {
            (s::OUT_PACKETS, s::OUT_BYTES, m::OUT_PACKETS, m::OUT_BYTES)
        } else {
            (s::IN_PACKETS, s::IN_BYTES, m::IN_PACKETS, m::IN_BYTES)
        };
        let (service, member) = (usize::from(service), usize::from(member));
        if service < s::COUNT {
            self.add(slot(s::OFFSET, s::STRIDE, service, s_packets), 1);
            self.add(slot(s::OFFSET, s::STRIDE, service, s_bytes), bytes as u64);
        }
        if member < m::COUNT {
            self.add(slot(m::OFFSET, m::STRIDE, member, m_packets), 1);
            self.add(slot(m::OFFSET, m::STRIDE, member, m_bytes), bytes as u64);
        }
    }
}
