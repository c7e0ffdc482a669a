//! A snapshot of every device counter, read through registers.

use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PortCounters {
    pub port: u8,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub drop_packets: u64,
    pub host_packets: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FlowCounters {
    pub in_packets: u64,
    pub in_bytes: u64,
    pub out_packets: u64,
    pub out_bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemberCounters {
    /// `addr:port`.
    pub member: String,
    #[serde(flatten)]
    pub counters: FlowCounters,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServiceCounters {
    pub service: String,
    #[serde(flatten)]
    pub counters: FlowCounters,
    pub members: Vec<MemberCounters>,
}

/// Every counter, as read from the device. Reasons are listed by name with non-zero counts only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub ports: Vec<PortCounters>,
    pub reasons: std::collections::BTreeMap<String, u64>,
    pub services: Vec<ServiceCounters>,
}
