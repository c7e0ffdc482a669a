//! The `anypoint-ctl` tool as a library: configuration, switch set-up, the daemon and its control
//! protocol, the CLI client, pcap replay, and the simulated NIC served over vfio-user.

pub mod backend;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod frames;
pub mod link;
pub mod log;
pub mod pcap_io;
pub mod poll;
pub mod protocol;
pub mod render;
pub mod replay;
pub mod save;
pub mod setup;
pub mod signals;
pub mod sim_device;
