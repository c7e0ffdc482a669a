//! Connection ageing from the device's activity bitmap: a connection idle (no frame in either
//! direction) for its protocol's timeout is removed.
//!
//! The datapath forwards FIN and RST without telling the host, so a closed TCP connection cannot
//! be told from an idle one: both age out after the `tcp` timeout.

use crate::config::Timeouts;
use anypoint_driver::control::Connection;
use anypoint_model::FiveTuple;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const TCP: u8 = 6;

#[derive(Default)]
pub struct Ageing {
    /// Connections idle at the last scans, with the time they were last known active.
    idle_since: HashMap<FiveTuple, Instant>,
    last_scan: Option<Instant>,
}

/// Time between scans: fine enough to keep the timeout within 1/4 of itself, at most 30 s.
pub fn scan_interval(t: &Timeouts) -> Duration {
    (t.tcp.min(t.udp) / 4).clamp(Duration::from_millis(250), Duration::from_secs(30))
}

impl Ageing {
    /// Takes the connections idle since the previous scan and returns those now idle for longer
    /// than their timeout.
    pub fn scan(&mut self, idle: &[Connection], t: &Timeouts, now: Instant) -> Vec<FiveTuple> {
        // Idle since the previous scan at least (first scan: from now on).
        let since = self.last_scan.replace(now).unwrap_or(now);
        let mut next = HashMap::with_capacity(idle.len());
        let mut expired = Vec::new();
        for c in idle {
            let start = self.idle_since.get(&c.inbound).copied().unwrap_or(since);
            let timeout = if c.inbound.proto == TCP { t.tcp } else { t.udp };
            if now.duration_since(start) >= timeout {
                expired.push(c.inbound);
            } else {
                next.insert(c.inbound, start);
            }
        }
        self.idle_since = next;
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(proto: u8, port: u16) -> Connection {
        Connection {
            inbound: FiveTuple {
                src_ip: 1,
                dst_ip: 2,
                src_port: port,
                dst_port: 80,
                proto,
            },
            service: 0,
            member: 0,
            peer_port: 0,
        }
    }

    #[test]
    fn expires_by_protocol_timeout_and_forgets_active_connections() {
        let t = Timeouts {
            tcp: Duration::from_secs(10),
            udp: Duration::from_secs(4),
        };
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let (tcp, udp) = (conn(TCP, 1), conn(17, 2));
        let mut a = Ageing::default();
        assert_eq!(a.scan(&[tcp, udp], &t, s(0)), vec![]);
        assert_eq!(a.scan(&[tcp, udp], &t, s(3)), vec![]);
        assert_eq!(a.scan(&[tcp, udp], &t, s(4)), vec![udp.inbound]);
        // Active between scans: its idle time starts over.
        assert_eq!(a.scan(&[], &t, s(6)), vec![]);
        assert_eq!(a.scan(&[tcp], &t, s(9)), vec![]);
        assert_eq!(a.scan(&[tcp], &t, s(15)), vec![]);
        assert_eq!(a.scan(&[tcp], &t, s(16)), vec![tcp.inbound]);
    }

    #[test]
    fn scan_interval_follows_the_shortest_timeout() {
        assert_eq!(scan_interval(&Timeouts::default()), Duration::from_secs(30));
        let short = Timeouts {
            tcp: Duration::from_secs(2),
            udp: Duration::from_secs(300),
        };
        assert_eq!(scan_interval(&short), Duration::from_millis(500));
    }
}
