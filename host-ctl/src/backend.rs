//! Which switch implementation runs behind the driver: the one place a backend is chosen and built.

use anypoint_driver::acp_offload::Shared;
use anypoint_driver::device::vfio_user::VfioUserDevice;
use anypoint_driver::device::{DeviceAccess, DeviceSwitch, KernelVfio, Vfio};
use anypoint_driver::{Backend, PacketIo, RegisterAccess};
use anypoint_model::frame_switch::fast::Engine;
use std::os::fd::RawFd;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// The in-process reference model.
    Model,
    /// The Verilated RTL of hw/ (64-bit datapath, the model's default table sizes).
    Rtl,
}

impl BackendKind {
    pub fn build(self) -> AnySwitch {
        let dev: Box<dyn Backend> = match self {
            BackendKind::Model => Box::new(anypoint_model::Switch::new(Default::default())),
            BackendKind::Rtl => Box::new(verilator_tests::rtl::RtlSwitch::with_default_geometry()),
        };
        AnySwitch(Shared::new(dev))
    }
}

/// The switch behind `anypoint-ctl run`: in process, or a PCI function the daemon reaches through
/// VFIO (hardware) or vfio-user (`anypoint-ctl sim-device`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RunBackend {
    /// The in-process reference model.
    Model,
    /// The in-process Verilated RTL.
    Rtl,
    /// A NIC bound to vfio-pci, `--device` its PCI address (e.g. 0000:01:00.0).
    Vfio,
    /// A vfio-user device server, `--device` its socket (`anypoint-ctl sim-device`).
    VfioUser,
}

impl RunBackend {
    /// Whether the switch is a device with its own Ethernet ports (and `--device` names it).
    pub fn is_device(self) -> bool {
        matches!(self, RunBackend::Vfio | RunBackend::VfioUser)
    }
}

/// Opens the NIC at PCI address `address` through kernel VFIO: BAR0 and identity checked, mailbox
/// and interrupt ready; its ACP block's slots go to the first acp service.
pub fn open_vfio(address: &str) -> Result<Shared<DeviceSwitch<Vfio<KernelVfio>>>, String> {
    let device = anypoint_driver::device::open_vfio(address).map_err(|e| e.to_string())?;
    DeviceSwitch::open(device)
        .map(Shared::new)
        .map_err(|e| e.to_string())
}

/// Opens the vfio-user device served on `socket`: BAR0 and identity checked, mailbox and
/// interrupt ready; its ACP block's slots go to the first acp service.
pub fn open_vfio_user(socket: &Path) -> Result<Shared<DeviceSwitch<VfioUserDevice>>, String> {
    let device = VfioUserDevice::connect(socket).map_err(|e| e.to_string())?;
    DeviceSwitch::open(device)
        .map(Shared::new)
        .map_err(|e| e.to_string())
}

/// What the daemon needs of a switch beyond registers and packets.
pub trait Attachment {
    /// Readable when the switch has queued host records on its own (a device with its own ports);
    /// `None` when records only follow frames the daemon hands it.
    fn wake_fd(&self) -> Option<RawFd>;
    /// Why the switch can no longer be reached, if so.
    fn lost(&self) -> Option<String>;
}

impl Attachment for AnySwitch {
    fn wake_fd(&self) -> Option<RawFd> {
        None
    }
    fn lost(&self) -> Option<String> {
        None
    }
}

impl<D: DeviceAccess> Attachment for Shared<DeviceSwitch<D>> {
    fn wake_fd(&self) -> Option<RawFd> {
        self.device().irq_fd()
    }
    fn lost(&self) -> Option<String> {
        self.device().lost().map(ToString::to_string)
    }
}

/// A switch of any kind, shared with the engine over its ACP block. Not `Send`: a Verilated
/// model must stay on the thread that made it.
pub struct AnySwitch(Shared<Box<dyn Backend>>);

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
    fn acp_engine(&mut self) -> Option<Box<dyn Engine>> {
        self.0.acp_engine()
    }
}
