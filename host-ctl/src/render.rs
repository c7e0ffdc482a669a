//! Human-readable tables shared by `replay` and the CLI verbs.

use crate::protocol::{AcpStats, ConnList, MemberView, ServiceView, SlowPathStats};
use anypoint_driver::Counters;
use std::fmt::Write;

/// Ports, reasons, services and their members.
pub fn counters(c: &Counters) -> String {
    let mut o = String::new();
    let w = &mut o;
    writeln!(w, "\nports:").unwrap();
    writeln!(
        w,
        "  {:>4} {:>10} {:>12} {:>10} {:>12} {:>8} {:>8}",
        "port", "rx_pkts", "rx_bytes", "tx_pkts", "tx_bytes", "drop", "host"
    )
    .unwrap();
    for p in &c.ports {
        writeln!(
            w,
            "  {:>4} {:>10} {:>12} {:>10} {:>12} {:>8} {:>8}",
            p.port,
            p.rx_packets,
            p.rx_bytes,
            p.tx_packets,
            p.tx_bytes,
            p.drop_packets,
            p.host_packets
        )
        .unwrap();
    }
    writeln!(w, "\nreasons:").unwrap();
    for (name, n) in &c.reasons {
        writeln!(w, "  {name:<18} {n:>10}").unwrap();
    }
    writeln!(w, "\nservices:").unwrap();
    for s in &c.services {
        let f = &s.counters;
        writeln!(
            w,
            "  {:<10} in {} pkts / {} bytes, out {} pkts / {} bytes",
            s.service, f.in_packets, f.in_bytes, f.out_packets, f.out_bytes
        )
        .unwrap();
        for m in &s.members {
            let f = &m.counters;
            writeln!(
                w,
                "    {:<21} in {} pkts / {} bytes, out {} pkts / {} bytes",
                m.member, f.in_packets, f.in_bytes, f.out_packets, f.out_bytes
            )
            .unwrap();
        }
    }
    o
}

pub fn slow_path(s: &SlowPathStats) -> String {
    let mut o = format!(
        "\nslow path:\n  learned {}, redirected by ALRM {}, FIN/RST seen {}, aged out {}, \
         insert failures {}\n  arp: {} replies, {} requests, {} failures; echo replies {}\n",
        s.learned,
        s.redirected,
        s.closing,
        s.aged,
        s.conn_insert_failures,
        s.arp_replies,
        s.arp_requests,
        s.arp_failures,
        s.echo_replies
    );
    if s.outbound_retried > 0 {
        writeln!(
            o,
            "  replies re-sent after their connection's insert: {}",
            s.outbound_retried
        )
        .unwrap();
    }
    if s.resets > 0 {
        writeln!(o, "  device resets recovered: {}", s.resets).unwrap();
    }
    if !s.dropped.is_empty() {
        let list: Vec<String> = s.dropped.iter().map(|(r, n)| format!("{r} {n}")).collect();
        writeln!(o, "  dropped: {}", list.join(", ")).unwrap();
    }
    o
}

/// The frame switches of acp services.
pub fn acp(list: &[AcpStats]) -> String {
    let mut o = String::new();
    for a in list {
        let pairs = |m: &std::collections::BTreeMap<String, u64>| -> Vec<String> {
            m.iter().map(|(k, n)| format!("{k} {n}")).collect()
        };
        let kinds = pairs(&a.segments);
        let device = match pairs(&a.device_segments) {
            by_kind if by_kind.is_empty() => a.device.to_string(),
            by_kind => format!("{} ({})", a.device, by_kind.join(", ")),
        };
        let events: Vec<String> = a
            .events
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        writeln!(
            o,
            "\nacp {} ({}): {} connections, ring entries in use {} in / {} out (largest {} / {}), holes {}\n  \
             segments: fast kinds {}, slow kinds {}, taken by the device's engine {} (loads refused {}, connections lost in resets {}); sent {}, unsent {}; aged out {}\n  \
             kinds: {}",
            a.service,
            a.policy,
            a.flows,
            a.in_frames,
            a.out_frames,
            a.max_in_frames,
            a.max_out_frames,
            a.holes,
            a.fast,
            a.slow,
            device,
            a.device_loads_refused,
            a.device_flows_lost,
            a.sent,
            a.unsent,
            a.aged,
            kinds.join(", ")
        )
        .unwrap();
        if !events.is_empty() {
            writeln!(o, "  events: {}", events.join(", ")).unwrap();
        }
    }
    o
}

pub fn services(list: &[ServiceView]) -> String {
    let mut o = format!(
        "{:<12} {:<22} {:<5} {:<11} {:>7} {:>11}\n",
        "NAME", "VIP:PORT", "PROTO", "POLICY", "MEMBERS", "CONNECTIONS"
    );
    for s in list {
        writeln!(
            o,
            "{:<12} {:<22} {:<5} {:<11} {:>7} {:>11}",
            s.name,
            format!("{}:{}", s.vip, s.port),
            s.proto,
            s.policy,
            s.members,
            s.connections
        )
        .unwrap();
    }
    o
}

pub fn members(list: &[MemberView]) -> String {
    let mut o = format!(
        "{:<22} {:>6} {:<8} {:>4} {:<24} {:>11} {:>10} {:>10}\n",
        "MEMBER", "WEIGHT", "STATE", "PORT", "MAC", "CONNECTIONS", "IN_PKTS", "OUT_PKTS"
    );
    for m in list {
        let mac = match &m.mac {
            Some(mac) => format!("{mac} ({})", m.mac_source),
            None => "(resolving)".into(),
        };
        writeln!(
            o,
            "{:<22} {:>6} {:<8} {:>4} {:<24} {:>11} {:>10} {:>10}",
            format!("{}:{}", m.addr, m.port),
            m.weight,
            m.state,
            m.out_port,
            mac,
            m.connections,
            m.in_packets,
            m.out_packets
        )
        .unwrap();
    }
    o
}

pub fn conns(list: &ConnList) -> String {
    let mut o = format!(
        "{:<12} {:<5} {:<22} {:<22} {:<22} {:>4} {}\n",
        "SERVICE", "PROTO", "PEER", "VIP", "MEMBER", "PORT", "STATE"
    );
    for c in &list.connections {
        writeln!(
            o,
            "{:<12} {:<5} {:<22} {:<22} {:<22} {:>4} {}",
            c.service,
            c.proto,
            c.peer,
            c.vip,
            c.member,
            c.peer_port,
            c.state.as_deref().unwrap_or("-")
        )
        .unwrap();
    }
    if list.connections.len() < list.total {
        writeln!(
            o,
            "({} of {} connections shown)",
            list.connections.len(),
            list.total
        )
        .unwrap();
    }
    o
}
