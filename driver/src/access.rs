//! The register-access seam and packet interface that every backend implements.

/// 32-bit register access at byte offsets of BAR0 (`anypoint_model::regs`).
pub trait RegisterAccess {
    fn read32(&mut self, offset: u32) -> u32;
    fn write32(&mut self, offset: u32, value: u32);
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
}

/// A whole switch: registers plus packets.
pub trait Backend: RegisterAccess + PacketIo {}
impl<T: RegisterAccess + PacketIo> Backend for T {}
