//! Anypoint userspace driver: register access seam, table manager, ALRM plugin host and the slow path.
//!
//! Layers, bottom up: [`access`] (the register/packet seam every backend implements: the in-process
//! model now, the Verilated RTL and VFIO hardware later), [`tables`] (shadow tables and ordered register
//! writes, cuckoo placement of connections), [`maglev`] and [`alrm`] (routing policy), and [`control`]
//! (services and members by name, host-queue handling).

pub mod access;
pub mod alrm;
pub mod control;
pub mod counters;
pub mod cuckoo;
pub mod maglev;
pub mod tables;

pub use access::{Backend, PacketIo, RegisterAccess};
pub use control::{
    ControlPlane, DriverError, HostDisposition, MemberConfig, MemberState, PolicyKind, PortConfig,
    Proto, ServiceConfig,
};
pub use counters::Counters;
