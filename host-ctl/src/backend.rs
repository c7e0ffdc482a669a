//! Which switch implementation runs behind the driver: the one place a backend is chosen and built.

use anypoint_driver::{Backend, PacketIo, RegisterAccess};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// The in-process reference model.
    Model,
    /// The Verilated RTL of hw/ (64-bit datapath, the model's default table sizes).
    Rtl,
}

impl BackendKind {
    pub fn build(self) -> AnySwitch {
        AnySwitch(match self {
            BackendKind::Model => Box::new(anypoint_model::Switch::new(Default::default())),
            BackendKind::Rtl => Box::new(verilator_tests::rtl::RtlSwitch::with_default_geometry()),
        })
    }
}

/// A switch of any kind. Not `Send`: a Verilated model must stay on the thread that made it.
pub struct AnySwitch(Box<dyn Backend>);

impl RegisterAccess for AnySwitch {
    fn read32(&mut self, offset: u32) -> u32 {
        self.0.read32(offset)
    }
    fn write32(&mut self, offset: u32, value: u32) {
        self.0.write32(offset, value)
    }
}

impl PacketIo for AnySwitch {
    fn receive(&mut self, port: u8, frame: &[u8]) {
        self.0.receive(port, frame)
    }
    fn inject(&mut self, record: &[u8]) -> bool {
        self.0.inject(record)
    }
    fn pop_egress(&mut self) -> Option<(u8, Vec<u8>)> {
        self.0.pop_egress()
    }
    fn pop_host(&mut self) -> Option<Vec<u8>> {
        self.0.pop_host()
    }
}
