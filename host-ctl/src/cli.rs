//! The client side of the control protocol: one request, one reply.

use crate::protocol::{self, Request};
use anypoint_driver::counters::FlowCounters;
use anypoint_driver::Counters;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// How long a verb waits for the daemon.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `req` to the daemon at `socket` and returns its result.
pub fn call(socket: &Path, req: &Request) -> Result<serde_json::Value, String> {
    let show = socket.display();
    let stream = UnixStream::connect(socket).map_err(|e| {
        format!(
            "cannot reach the daemon at {show}: {e} (is `anypoint-ctl run` running? see --socket)"
        )
    })?;
    let io = |e: std::io::Error| format!("{show}: {e}");
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    let mut line = protocol::encode_request(req);
    line.push('\n');
    (&stream).write_all(line.as_bytes()).map_err(io)?;
    let mut reply = Vec::new();
    BufReader::new(&stream)
        .read_until(b'\n', &mut reply)
        .map_err(io)?;
    if reply.is_empty() {
        return Err(format!(
            "{show}: the daemon closed the connection without a reply"
        ));
    }
    protocol::decode_reply(&reply)
}

/// Per-second rates between two counter snapshots `secs` apart.
pub fn rates(before: &Counters, after: &Counters, secs: f64) -> Counters {
    let r = |a: u64, b: u64| (b.saturating_sub(a) as f64 / secs).round() as u64;
    let flow = |a: &FlowCounters, b: &FlowCounters| FlowCounters {
        in_packets: r(a.in_packets, b.in_packets),
        in_bytes: r(a.in_bytes, b.in_bytes),
        out_packets: r(a.out_packets, b.out_packets),
        out_bytes: r(a.out_bytes, b.out_bytes),
    };
    let mut out = after.clone();
    for p in &mut out.ports {
        let a = before
            .ports
            .iter()
            .find(|x| x.port == p.port)
            .cloned()
            .unwrap_or_default();
        p.rx_packets = r(a.rx_packets, p.rx_packets);
        p.rx_bytes = r(a.rx_bytes, p.rx_bytes);
        p.tx_packets = r(a.tx_packets, p.tx_packets);
        p.tx_bytes = r(a.tx_bytes, p.tx_bytes);
        p.drop_packets = r(a.drop_packets, p.drop_packets);
        p.host_packets = r(a.host_packets, p.host_packets);
    }
    for (name, n) in &mut out.reasons {
        *n = r(before.reasons.get(name).copied().unwrap_or(0), *n);
    }
    for s in &mut out.services {
        let a = before.services.iter().find(|x| x.service == s.service);
        s.counters = flow(
            &a.map(|a| a.counters.clone()).unwrap_or_default(),
            &s.counters,
        );
        for m in &mut s.members {
            let am = a
                .and_then(|a| a.members.iter().find(|x| x.member == m.member))
                .map(|x| x.counters.clone())
                .unwrap_or_default();
            m.counters = flow(&am, &m.counters);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use anypoint_driver::counters::{MemberCounters, PortCounters, ServiceCounters};

    #[test]
    fn rates_are_deltas_per_second() {
        let snap = |k: u64| Counters {
            ports: vec![PortCounters {
                port: 0,
                rx_packets: 10 * k,
                tx_bytes: 1000 * k,
                ..Default::default()
            }],
            reasons: [("arp".to_string(), 4 * k)].into(),
            services: vec![ServiceCounters {
                service: "web".into(),
                counters: FlowCounters {
                    in_packets: 6 * k,
                    ..Default::default()
                },
                members: vec![MemberCounters {
                    member: "10.0.0.1:80".into(),
                    counters: FlowCounters {
                        out_packets: 2 * k,
                        ..Default::default()
                    },
                }],
            }],
        };
        let r = rates(&snap(1), &snap(3), 2.0);
        assert_eq!((r.ports[0].rx_packets, r.ports[0].tx_bytes), (10, 1000));
        assert_eq!(r.reasons["arp"], 4);
        assert_eq!(r.services[0].counters.in_packets, 6);
        assert_eq!(r.services[0].members[0].counters.out_packets, 2);
    }
}
