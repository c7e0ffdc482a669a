//! Fuzz harnesses of Anypoint (`make fuzz`): the model's packet path with per-frame accounting, the
//! config parser, the control protocol, the ACP segment parser and engine, and the model's ACP frame
//! switch. Each harness is a plain function, so the committed corpus (`fuzz/corpus/TARGET/`) replays
//! under `cargo test` without a fuzzer, on the model and (packet path) on the Verilated RTL.

pub mod acp_segment;
pub mod config;
pub mod control;
pub mod frame_switch;
pub mod packet_path;
mod reader;
pub mod scenario;
