//! The control plane: services and members by name, connections, and host-queue handling.

use crate::access::Backend;
use crate::counters::Counters;
use anypoint_model::{FiveTuple, HashKey};
use std::net::Ipv4Addr;

/// Errors of the control plane, each with a message an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverError {
    /// The device at the other end of the register seam is not an Anypoint switch.
    Identity { id: u32, version: u32 },
    /// Bad request: names what and why (unknown service, duplicate member, port out of range, ...).
    Invalid(String),
    /// A table has no room (services, members, indirection slots, connections).
    TableFull(&'static str),
    /// Read-back after a table write returned other words.
    Verify { table: &'static str, index: u32 },
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        todo!()
    }
}

impl std::error::Error for DriverError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

/// Service policy as configured. `maglev` and `key-hash` run in hardware from the indirection table;
/// `round-robin` and `least-conn` are the hardware `host` policy with the ALRM deciding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    Maglev,
    KeyHash,
    RoundRobin,
    LeastConn,
}

impl PolicyKind {
    /// Config / CLI name: `maglev`, `key-hash`, `round-robin`, `least-conn`.
    pub fn name(self) -> &'static str {
        todo!()
    }
    pub fn from_name(s: &str) -> Option<PolicyKind> {
        todo!()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortConfig {
    pub id: u8,
    pub mac: [u8; 6],
    /// Peer-side next hop; `None` until known (frames needing it go to the host as `no_next_hop`).
    pub next_hop_mac: Option<[u8; 6]>,
    /// Drop `no_service` traffic arriving on this port instead of sending it to the host.
    pub no_service_drop: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfig {
    pub name: String,
    pub vip: Ipv4Addr,
    pub port: u16,
    pub proto: Proto,
    pub policy: PolicyKind,
    /// key-hash only: (offset, len) in the UDP payload.
    pub key: Option<(u8, u8)>,
    /// Port towards peers for replies without a connection entry.
    pub peer_port: u8,
    /// log2 of the service's indirection slots (default 12).
    pub indir_log2: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberConfig {
    pub addr: Ipv4Addr,
    pub port: u16,
    /// Next-hop MAC; `None` until resolved.
    pub mac: Option<[u8; 6]>,
    pub out_port: u8,
    /// 0 = draining.
    pub weight: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberState {
    Active,
    Draining,
    Down,
}

/// A member as the control plane sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberInfo {
    pub id: u16,
    pub config: MemberConfig,
    pub state: MemberState,
    /// Connections currently in the table for this member.
    pub conns: u32,
}

/// A service as the control plane sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceInfo {
    pub id: u16,
    pub config: ServiceConfig,
    pub members: Vec<MemberInfo>,
}

/// A connection the host inserted (both directions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connection {
    /// Peer to VIP.
    pub inbound: FiveTuple,
    pub service: u16,
    pub member: u16,
    pub peer_port: u8,
}

/// What the control plane did with a host-queue record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostDisposition {
    /// A learn record: the connection was inserted (or already present).
    Learned,
    /// A `host_policy` punt: the ALRM chose `member`, the connection was inserted and the frame re-injected.
    Redirected { member: u16 },
    /// Not the control plane's business (ARP, no_service, ...): the caller logs, answers or drops it.
    Unhandled,
}

/// Table-manager figures for reports and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Every 32-bit register write the table manager issued.
    pub register_writes: u64,
    pub conn_inserts: u64,
    pub conn_insert_failures: u64,
    pub relocations: u64,
}

/// Services, members and connections of one switch, programmed through its registers.
pub struct ControlPlane<B: Backend> {
    backend: B,
}

impl<B: Backend> ControlPlane<B> {
    /// Checks the device identity, reads its geometry, clears its tables and sets the hash key.
    pub fn new(backend: B, hash_key: HashKey) -> Result<Self, DriverError> {
        todo!()
    }
    pub fn backend(&mut self) -> &mut B {
        &mut self.backend
    }
    pub fn set_port(&mut self, port: &PortConfig) -> Result<(), DriverError> {
        todo!()
    }
    pub fn add_service(&mut self, service: ServiceConfig) -> Result<u16, DriverError> {
        todo!()
    }
    /// Removes the service, its members and their connections.
    pub fn remove_service(&mut self, name: &str) -> Result<(), DriverError> {
        todo!()
    }
    pub fn add_member(&mut self, service: &str, member: MemberConfig) -> Result<u16, DriverError> {
        todo!()
    }
    /// Weight 0 drains: existing connections stay, new ones go elsewhere.
    pub fn set_weight(
        &mut self,
        service: &str,
        addr: Ipv4Addr,
        port: u16,
        weight: u32,
    ) -> Result<(), DriverError> {
        todo!()
    }
    /// Learns a member's MAC (e.g. by ARP).
    pub fn set_member_mac(
        &mut self,
        service: &str,
        addr: Ipv4Addr,
        port: u16,
        mac: [u8; 6],
    ) -> Result<(), DriverError> {
        todo!()
    }
    /// Removes the member and its connections.
    pub fn remove_member(
        &mut self,
        service: &str,
        addr: Ipv4Addr,
        port: u16,
    ) -> Result<(), DriverError> {
        todo!()
    }
    pub fn services(&self) -> Vec<ServiceInfo> {
        todo!()
    }
    pub fn connections(&self) -> Vec<Connection> {
        todo!()
    }
    pub fn remove_connection(&mut self, inbound: &FiveTuple) -> Result<(), DriverError> {
        todo!()
    }
    /// Acts on one host-queue record (learn, host-policy punt) and says what it did.
    pub fn handle_host_record(&mut self, record: &[u8]) -> Result<HostDisposition, DriverError> {
        todo!()
    }
    /// Reads every counter from the device.
    pub fn counters(&mut self) -> Counters {
        todo!()
    }
    pub fn table_stats(&self) -> TableStats {
        todo!()
    }
}
