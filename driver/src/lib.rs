//! Anypoint userspace driver: register access seam, table manager, ALRM plugin host and the slow path.
//!
//! Layers, bottom up: [`access`] (the register/packet seam every backend implements: the in-process
//! model now, the Verilated RTL and VFIO hardware later), [`tables`] (shadow tables and ordered register
//! writes, with [`cuckoo`] placement of connections and the entry layouts of `entries`), [`maglev`] and
//! [`alrm`] (routing policy), [`counters`], and [`control`] (services and members by name, host-queue
//! handling).

pub mod access;
pub mod acp;
pub mod acp_offload;
pub mod alrm;
pub mod control;
pub mod counters;
pub mod cuckoo;
pub mod device;
mod entries;
pub mod identity;
pub mod maglev;
pub mod tables;

pub use access::{Backend, PacketIo, RegisterAccess};
pub use control::{
    Activity, ControlPlane, DriverError, HostDisposition, MemberConfig, MemberState, PolicyKind,
    PortConfig, Proto, ServiceConfig,
};
pub use counters::Counters;

/// A seeded generator for tests, so figures and failures reproduce.
#[cfg(test)]
mod test_rng {
    use proptest::test_runner::{RngAlgorithm, TestRng};

    pub fn rng(seed: u64) -> TestRng {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
    }
}
