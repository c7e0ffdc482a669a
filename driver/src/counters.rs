//! A snapshot of every device counter, read through registers.

use crate::access::RegisterAccess;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortCounters {
    pub port: u8,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub drop_packets: u64,
    pub host_packets: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowCounters {
    pub in_packets: u64,
    pub in_bytes: u64,
    pub out_packets: u64,
    pub out_bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberCounters {
    /// `addr:port`.
    pub member: String,
    #[serde(flatten)]
    pub counters: FlowCounters,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceCounters {
    pub service: String,
    #[serde(flatten)]
    pub counters: FlowCounters,
    pub members: Vec<MemberCounters>,
}

/// Every counter, as read from the device. Reasons are listed by name with non-zero counts only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub ports: Vec<PortCounters>,
    pub reasons: std::collections::BTreeMap<String, u64>,
    pub services: Vec<ServiceCounters>,
}

/// A service's counter instance and name, with its members'.
pub(crate) struct ServiceNames {
    pub id: u16,
    pub name: String,
    /// (member id, `addr:port`).
    pub members: Vec<(u16, String)>,
}

impl Counters {
    /// Reads the counters of the first `ports` ports, of every reason code, and of the services and
    /// members named.
    pub(crate) fn read(
        bus: &mut impl RegisterAccess,
        ports: u8,
        services: &[ServiceNames],
    ) -> Counters {
        use anypoint_model::regs::ctr::{member, port, reason, service};
        let ports = (0..ports)
            .map(|p| {
                let mut c = |i| read(bus, port::OFFSET, port::STRIDE, p.into(), i);
                PortCounters {
                    port: p,
                    rx_packets: c(port::RX_PACKETS),
                    rx_bytes: c(port::RX_BYTES),
                    tx_packets: c(port::TX_PACKETS),
                    tx_bytes: c(port::TX_BYTES),
                    drop_packets: c(port::DROP_PACKETS),
                    host_packets: c(port::HOST_PACKETS),
                }
            })
            .collect();
        let reasons = anypoint_model::regs::reason::ALL
            .iter()
            .map(|&(code, name)| {
                let n = read(
                    bus,
                    reason::OFFSET,
                    reason::STRIDE,
                    code.into(),
                    reason::PACKETS,
                );
                (name.to_string(), n)
            })
            .filter(|&(_, n)| n != 0)
            .collect();
        let services = services
            .iter()
            .map(|s| ServiceCounters {
                service: s.name.clone(),
                counters: FlowCounters::read(bus, service::OFFSET, service::STRIDE, s.id.into()),
                members: s
                    .members
                    .iter()
                    .map(|(id, name)| MemberCounters {
                        member: name.clone(),
                        counters: FlowCounters::read(
                            bus,
                            member::OFFSET,
                            member::STRIDE,
                            (*id).into(),
                        ),
                    })
                    .collect(),
            })
            .collect();
        Counters {
            ports,
            reasons,
            services,
        }
    }
}

/// Reads counter `counter` of instance `instance` of the block at `block` (offset within `CTR`,
/// instances `stride` bytes apart): the low word first, which latches the high word.
fn read(
    bus: &mut impl RegisterAccess,
    block: u32,
    stride: u32,
    instance: u32,
    counter: usize,
) -> u64 {
    let offset = anypoint_model::regs::region::CTR + block + instance * stride + 8 * counter as u32;
    let lo = bus.read32(offset);
    let hi = bus.read32(offset + 4);
    u64::from(hi) << 32 | u64::from(lo)
}

impl FlowCounters {
    /// The four service or member counters of one instance.
    fn read(bus: &mut impl RegisterAccess, block: u32, stride: u32, instance: u32) -> FlowCounters {
        // The member block has the service block's layout.
        use anypoint_model::regs::ctr::service::*;
        let mut c = |i| read(bus, block, stride, instance, i);
        FlowCounters {
            in_packets: c(IN_PACKETS),
            in_bytes: c(IN_BYTES),
            out_packets: c(OUT_PACKETS),
            out_bytes: c(OUT_BYTES),
        }
    }
}
