//! Connection ageing: a connection idle (no frame in either direction, by the device's activity
//! bitmap) for the timeout of its state is removed, both directions together.
//!
//! A TCP connection's state is what the datapath shows the host: the slow path inserted it for a
//! SYN (`opening` until its member's first segment shows as outbound activity), then
//! `established`; a state record (a FIN or RST forwarded on it, docs/pipeline.md section 3) makes
//! it `closing` or `reset`. A connection the daemon did not see open (restored after a restart,
//! inserted by an operator) counts as established. UDP has one timeout.

use crate::config::Timeouts;
use anypoint_driver::control::Connection;
use anypoint_driver::Activity;
use anypoint_model::FiveTuple;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const TCP: u8 = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Opening,
    Established,
    Closing,
    Reset,
}

#[derive(Clone, Copy, Debug)]
struct Track {
    phase: Phase,
    /// `None` while active.
    idle_since: Option<Instant>,
}

const ESTABLISHED: Track = Track {
    phase: Phase::Established,
    idle_since: None,
};

#[derive(Default)]
pub struct Ageing {
    /// Connections not established or idle at the last scan; every other one is established and
    /// active.
    tracks: HashMap<FiveTuple, Track>,
    last_scan: Option<Instant>,
}

/// Time between scans: fine enough to keep each timeout within 1/4 of itself, at most 30 s.
pub fn scan_interval(t: &Timeouts) -> Duration {
    let shortest = t.entries().into_iter().map(|(_, d)| d).min().unwrap();
    (shortest / 4).clamp(Duration::from_millis(250), Duration::from_secs(30))
}

impl Ageing {
    /// The slow path inserted a connection for its first segment, whose last traffic that was (a
    /// TCP connection opens; UDP has no states).
    pub fn opened(&mut self, inbound: FiveTuple, now: Instant) {
        if inbound.proto != TCP {
            return;
        }
        self.tracks.insert(
            inbound,
            Track {
                phase: Phase::Opening,
                idle_since: Some(now),
            },
        );
    }

    /// A FIN (`reset` false) or RST was forwarded on the connection; a reset stays reset.
    pub fn closing(&mut self, inbound: FiveTuple, reset: bool) {
        let track = self.tracks.entry(inbound).or_insert(ESTABLISHED);
        if reset {
            track.phase = Phase::Reset;
        } else if track.phase != Phase::Reset {
            track.phase = Phase::Closing;
        }
    }

    /// Takes every connection in the table with its activity since the previous scan and returns
    /// those idle for longer than the timeout of their state.
    pub fn scan(
        &mut self,
        conns: &[(Connection, Activity)],
        t: &Timeouts,
        now: Instant,
    ) -> Vec<FiveTuple> {
        // Idle since the previous scan at least (first scan: from now on).
        let since = self.last_scan.replace(now).unwrap_or(now);
        let mut next = HashMap::new();
        let mut expired = Vec::new();
        for (c, a) in conns {
            let mut track = self.tracks.remove(&c.inbound).unwrap_or(ESTABLISHED);
            if track.phase == Phase::Opening && a.outbound {
                track.phase = Phase::Established;
            }
            track.idle_since = if a.inbound || a.outbound {
                None
            } else {
                Some(track.idle_since.unwrap_or(since))
            };
            let timeout = match (c.inbound.proto, track.phase) {
                (TCP, Phase::Opening) => t.tcp_syn,
                (TCP, Phase::Established) => t.tcp,
                (TCP, Phase::Closing) => t.tcp_fin,
                (TCP, Phase::Reset) => t.tcp_rst,
                _ => t.udp,
            };
            match track.idle_since {
                Some(idle) if now.duration_since(idle) >= timeout => expired.push(c.inbound),
                None if track.phase == Phase::Established => {}
                _ => {
                    next.insert(c.inbound, track);
                }
            }
        }
        // Connections gone from the table (removed, aged) are forgotten.
        self.tracks = next;
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

    const IDLE: Activity = Activity {
        inbound: false,
        outbound: false,
    };
    const PEER_ONLY: Activity = Activity {
        inbound: true,
        outbound: false,
    };
    const BOTH: Activity = Activity {
        inbound: true,
        outbound: true,
    };

    fn timeouts() -> Timeouts {
        let s = Duration::from_secs;
        Timeouts {
            tcp_syn: s(6),
            tcp: s(20),
            tcp_fin: s(8),
            tcp_rst: s(2),
            udp: s(4),
        }
    }

    /// Scans every second from `from` with `activity` for `c` alone; the second of the scan that
    /// expired it.
    fn expires_at(
        a: &mut Ageing,
        c: Connection,
        activity: Activity,
        t0: Instant,
        from: u64,
    ) -> u64 {
        let t = timeouts();
        for n in from..100 {
            let now = t0 + Duration::from_secs(n);
            if a.scan(&[(c, activity)], &t, now) == [c.inbound] {
                return n;
            }
        }
        panic!("never expired");
    }

    #[test]
    fn each_tcp_state_and_udp_expire_after_their_own_idle_timeout() {
        let t0 = Instant::now();
        let (tcp, udp) = (conn(TCP, 1), conn(17, 2));
        // Established (not opened by the daemon) and UDP: idle from the first scan on.
        assert_eq!(expires_at(&mut Ageing::default(), tcp, IDLE, t0, 0), 20);
        assert_eq!(expires_at(&mut Ageing::default(), udp, IDLE, t0, 0), 4);

        // Opening: idle since its SYN, even though the peer retransmits nothing.
        let mut a = Ageing::default();
        a.opened(tcp.inbound, t0);
        assert_eq!(expires_at(&mut a, tcp, IDLE, t0, 1), 6);
        // The peer alone is active (a SYN flood's retransmissions): still opening, and aged 6 s
        // after its last segment.
        let mut a = Ageing::default();
        a.opened(tcp.inbound, t0);
        a.scan(
            &[(tcp, PEER_ONLY)],
            &timeouts(),
            t0 + Duration::from_secs(3),
        );
        assert_eq!(expires_at(&mut a, tcp, IDLE, t0, 4), 9);

        // The member answered: established, the 20 s timeout.
        let mut a = Ageing::default();
        a.opened(tcp.inbound, t0);
        a.scan(&[(tcp, BOTH)], &timeouts(), t0);
        assert_eq!(expires_at(&mut a, tcp, IDLE, t0, 1), 20);

        // FIN, then RST: the shorter timeouts; a FIN after a RST does not lengthen it.
        let mut a = Ageing::default();
        a.scan(&[(tcp, BOTH)], &timeouts(), t0);
        a.closing(tcp.inbound, false);
        assert_eq!(expires_at(&mut a, tcp, IDLE, t0, 1), 8);
        let mut a = Ageing::default();
        a.closing(tcp.inbound, true);
        a.closing(tcp.inbound, false);
        assert_eq!(expires_at(&mut a, tcp, IDLE, t0, 0), 2);
    }

    #[test]
    fn activity_restarts_the_idle_time_and_gone_connections_are_forgotten() {
        let t = timeouts();
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let (tcp, udp) = (conn(TCP, 1), conn(17, 2));
        let mut a = Ageing::default();
        assert_eq!(a.scan(&[(tcp, IDLE), (udp, IDLE)], &t, s(0)), vec![]);
        assert_eq!(a.scan(&[(tcp, IDLE), (udp, IDLE)], &t, s(3)), vec![]);
        assert_eq!(
            a.scan(&[(tcp, IDLE), (udp, IDLE)], &t, s(4)),
            vec![udp.inbound]
        );
        // Active between scans: its idle time starts over.
        assert_eq!(a.scan(&[(tcp, BOTH)], &t, s(6)), vec![]);
        assert_eq!(a.scan(&[(tcp, IDLE)], &t, s(9)), vec![]);
        assert_eq!(a.scan(&[(tcp, IDLE)], &t, s(25)), vec![]);
        assert_eq!(a.scan(&[(tcp, IDLE)], &t, s(26)), vec![tcp.inbound]);
        // Closed by the operator between scans: its state goes with it.
        a.closing(tcp.inbound, true);
        assert_eq!(a.scan(&[], &t, s(27)), vec![]);
        assert!(a.tracks.is_empty());
    }

    #[test]
    fn scan_interval_follows_the_shortest_timeout() {
        assert_eq!(
            scan_interval(&Timeouts::default()),
            Duration::from_millis(2500)
        );
        let long = Timeouts {
            tcp_syn: Duration::from_secs(600),
            tcp_rst: Duration::from_secs(600),
            tcp_fin: Duration::from_secs(600),
            ..Timeouts::default()
        };
        assert_eq!(scan_interval(&long), Duration::from_secs(30));
    }
}
