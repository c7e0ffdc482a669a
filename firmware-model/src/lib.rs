//! Bit-exact reference model of the Anypoint NIC pipeline: the executable spec (`docs/pipeline.md`).
//!
//! The model is driven exactly like the hardware: tables and settings only through the register
//! interface ([`Switch::read32`] / [`Switch::write32`] at byte offsets from [`regs`]), frames through the
//! Ethernet ports ([`Switch::receive`]), the host queue ([`Switch::pop_host`]) and host inject
//! ([`Switch::inject`]).

pub mod hash;
pub mod hostrec;
#[rustfmt::skip]
pub mod regs;
mod switch;

pub use hash::{FiveTuple, HashKey};
pub use hostrec::{HostHeader, InjectHeader, InjectMode};
pub use switch::{Geometry, InjectError, Outcome, StepOutput, Switch};
