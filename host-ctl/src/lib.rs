//! The `anypoint-ctl` tool as a library: configuration, switch set-up, pcap replay.

pub mod config;
pub mod pcap_io;
pub mod replay;
pub mod setup;
