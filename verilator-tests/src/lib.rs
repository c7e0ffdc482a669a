//! Golden vectors of the Anypoint pipeline, written by the reference model with the driver in the
//! loop, for the Verilator co-simulation of `hw/` to replay (`golden/*.json`, `gen-golden`).

pub mod acp_block;
pub mod acp_out;
pub mod frames;
pub mod golden;
pub mod host;
pub mod linerate;
pub mod prng;
pub mod recorder;
pub mod rtl;
pub mod scoreboard;
pub mod snapshot;
pub mod vectors;
