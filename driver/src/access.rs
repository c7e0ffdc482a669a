//! The register-access seam and packet interface that every backend implements.

use anypoint_model::frame_switch::fast::Engine;

/// 32-bit register access at byte offsets of BAR0 (`anypoint_model::regs`).
pub trait RegisterAccess {
    fn read32(&mut self, offset: u32) -> u32;
    fn write32(&mut self, offset: u32, value: u32);
    /// Writes `words` to the registers from `offset` up, in order, as one transfer where the path
    /// has one (a single vfio-user message instead of one round trip per register).
    fn write_words(&mut self, offset: u32, words: &[u32]) {
        write_each(self, offset, words)
    }
}

/// `words` to the registers from `offset` up, one [`RegisterAccess::write32`] each.
pub fn write_each<A: RegisterAccess + ?Sized>(a: &mut A, offset: u32, words: &[u32]) {
    for (i, &w) in words.iter().enumerate() {
        a.write32(offset + 4 * i as u32, w);
    }
}

/// The switch's packet interface: Ethernet ports, host queue and host inject.
pub trait PacketIo {
    /// A frame arrives on Ethernet port `port`.
    fn receive(&mut self, port: u8, frame: &[u8]);
    /// Host inject record (4-byte inject header + frame); false if the device rejected it.
    fn inject(&mut self, record: &[u8]) -> bool;
    /// Next frame leaving an Ethernet port.
    fn pop_egress(&mut self) -> Option<(u8, Vec<u8>)>;
    /// Next host-queue record (32-byte header + frame).
    fn pop_host(&mut self) -> Option<Vec<u8>>;
    /// The device's ACP engine for one more `proto = "acp"` service (docs/frame-switching.md
    /// section 9a; its ACP block, docs/pipeline.md section 12, through
    /// [`crate::acp_offload::Shared`]); `None`: the device has none (or gave it to another
    /// service) and the host switches every segment.
    fn acp_engine(&mut self) -> Option<Box<dyn Engine>> {
        None
    }
}

/// A whole switch: registers plus packets.
pub trait Backend: RegisterAccess + PacketIo {}
impl<T: RegisterAccess + PacketIo> Backend for T {}

impl RegisterAccess for anypoint_model::Switch {
    fn read32(&mut self, offset: u32) -> u32 {
        anypoint_model::Switch::read32(self, offset)
    }
    fn write32(&mut self, offset: u32, value: u32) {
        anypoint_model::Switch::write32(self, offset, value)
    }
}

impl PacketIo for anypoint_model::Switch {
    fn receive(&mut self, port: u8, frame: &[u8]) {
        anypoint_model::Switch::receive(self, port, frame)
    }
    fn inject(&mut self, record: &[u8]) -> bool {
        anypoint_model::Switch::inject(self, record).is_ok()
    }
    fn pop_egress(&mut self) -> Option<(u8, Vec<u8>)> {
        anypoint_model::Switch::pop_egress(self)
    }
    fn pop_host(&mut self) -> Option<Vec<u8>> {
        anypoint_model::Switch::pop_host(self)
    }
}

impl<T: RegisterAccess + ?Sized> RegisterAccess for Box<T> {
    fn read32(&mut self, offset: u32) -> u32 {
        (**self).read32(offset)
    }
    fn write32(&mut self, offset: u32, value: u32) {
        (**self).write32(offset, value)
    }
    fn write_words(&mut self, offset: u32, words: &[u32]) {
        (**self).write_words(offset, words)
    }
}

impl<T: PacketIo + ?Sized> PacketIo for Box<T> {
    fn receive(&mut self, port: u8, frame: &[u8]) {
        (**self).receive(port, frame)
    }
    fn inject(&mut self, record: &[u8]) -> bool {
        (**self).inject(record)
    }
    fn pop_egress(&mut self) -> Option<(u8, Vec<u8>)> {
        (**self).pop_egress()
    }
    fn pop_host(&mut self) -> Option<Vec<u8>> {
        (**self).pop_host()
    }
    fn acp_engine(&mut self) -> Option<Box<dyn Engine>> {
        (**self).acp_engine()
    }
}

/// Passes everything through to `inner` and counts the register reads and writes it saw, so figures
/// (writes per connection insert, ...) are measured at the seam rather than taken from the driver.
#[derive(Debug, Default)]
pub struct CountingAccess<B> {
    pub inner: B,
    pub reads: u64,
    pub writes: u64,
}

impl<B> CountingAccess<B> {
    pub fn new(inner: B) -> Self {
        CountingAccess {
            inner,
            reads: 0,
            writes: 0,
        }
    }
}

impl<B: RegisterAccess> RegisterAccess for CountingAccess<B> {
    fn read32(&mut self, offset: u32) -> u32 {
        self.reads += 1;
        self.inner.read32(offset)
    }
    fn write32(&mut self, offset: u32, value: u32) {
        self.writes += 1;
        self.inner.write32(offset, value)
    }
    fn write_words(&mut self, offset: u32, words: &[u32]) {
        self.writes += words.len() as u64;
        self.inner.write_words(offset, words)
    }
}

impl<B: PacketIo> PacketIo for CountingAccess<B> {
    fn receive(&mut self, port: u8, frame: &[u8]) {
        self.inner.receive(port, frame)
    }
    fn inject(&mut self, record: &[u8]) -> bool {
        self.inner.inject(record)
    }
    fn pop_egress(&mut self) -> Option<(u8, Vec<u8>)> {
        self.inner.pop_egress()
    }
    fn pop_host(&mut self) -> Option<Vec<u8>> {
        self.inner.pop_host()
    }
    fn acp_engine(&mut self) -> Option<Box<dyn Engine>> {
        self.inner.acp_engine()
    }
}
