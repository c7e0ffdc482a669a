//! Pieces for tests that run ACP over real sockets: network namespaces with veth links, and the
//! impairment relay. Used by this crate's tests and meant for the switch's tests too.

mod impair;
mod netns;

pub use impair::{Impair, ImpairCounts, Profile};
pub use netns::{can_run_live, direct, in_ns, relayed, spawn_in, veth, Netns};
