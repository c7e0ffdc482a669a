//! ARP resolution of next hops and members the config gives no MAC for: probe until answered,
//! refresh while in use, count neighbours that stop answering.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// Between probes of an unanswered neighbour, for the first [`PROBES`] probes.
pub const RETRY: Duration = Duration::from_secs(1);
/// Unanswered probes that make one failure.
pub const PROBES: u32 = 3;
/// Between probes after a failure, so a dead neighbour costs little.
pub const BACKOFF: Duration = Duration::from_secs(10);
/// Age at which a resolved neighbour is probed again.
pub const REFRESH: Duration = Duration::from_secs(60);

/// A neighbour on a port.
pub type Key = (u8, Ipv4Addr);

#[derive(Clone, Debug)]
struct Neighbor {
    mac: Option<[u8; 6]>,
    /// Probes sent since the neighbour was last heard.
    unanswered: u32,
    next_probe: Instant,
}

#[derive(Default)]
pub struct Neighbors {
    table: BTreeMap<Key, Neighbor>,
    pub failures: u64,
}

impl Neighbors {
    /// Makes the table hold exactly `wanted`: new neighbours are probed at once, unwanted ones forgotten.
    pub fn sync(&mut self, wanted: impl IntoIterator<Item = Key>, now: Instant) {
        let mut keep = BTreeMap::new();
        for key in wanted {
            let n = self.table.remove(&key).unwrap_or(Neighbor {
                mac: None,
                unanswered: 0,
                next_probe: now,
            });
            keep.insert(key, n);
        }
        self.table = keep;
    }

    pub fn mac(&self, key: Key) -> Option<[u8; 6]> {
        self.table.get(&key)?.mac
    }

    /// Records that `key` spoke from `mac`: `None` for a neighbour nobody asked for, else whether
    /// the MAC is new or changed (so its users must be reprogrammed).
    pub fn heard(&mut self, key: Key, mac: [u8; 6], now: Instant) -> Option<bool> {
        let n = self.table.get_mut(&key)?;
        n.unanswered = 0;
        n.next_probe = now + REFRESH;
        Some(n.mac.replace(mac) != Some(mac))
    }

    /// Neighbours to probe now; schedules their next probe and counts the ones that just failed.
    pub fn due(&mut self, now: Instant) -> Vec<(Key, bool)> {
        let mut out = Vec::new();
        for (key, n) in &mut self.table {
            if n.next_probe > now {
                continue;
            }
            if n.unanswered == PROBES {
                self.failures += 1;
            }
            n.unanswered += 1;
            n.next_probe = now
                + if n.unanswered <= PROBES {
                    RETRY
                } else {
                    BACKOFF
                };
            // The failure is reported with the probe that follows it.
            out.push((*key, n.unanswered == PROBES + 1));
        }
        out
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.table.values().map(|n| n.next_probe).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: Key = (1, Ipv4Addr::new(10, 0, 0, 1));
    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

    #[test]
    fn probes_until_heard_then_refreshes() {
        let t0 = Instant::now();
        let mut n = Neighbors::default();
        n.sync([K], t0);
        assert_eq!(n.due(t0), vec![(K, false)]);
        assert_eq!(n.due(t0), vec![], "next probe is a second away");
        assert_eq!(n.next_deadline(), Some(t0 + RETRY));
        assert_eq!(n.heard(K, MAC, t0 + RETRY / 2), Some(true));
        assert_eq!(
            n.heard(K, MAC, t0 + RETRY / 2),
            Some(false),
            "same MAC: nothing to reprogram"
        );
        assert_eq!(n.mac(K), Some(MAC));
        assert_eq!(n.due(t0 + RETRY), vec![]);
        assert_eq!(n.due(t0 + RETRY / 2 + REFRESH), vec![(K, false)]);
        assert_eq!(n.heard((2, K.1), MAC, t0), None, "not wanted on port 2");
    }

    #[test]
    fn silent_neighbours_count_one_failure_and_back_off() {
        let t0 = Instant::now();
        let mut n = Neighbors::default();
        n.sync([K], t0);
        let mut t = t0;
        for _ in 0..PROBES {
            assert_eq!(n.due(t), vec![(K, false)]);
            t += RETRY;
        }
        assert_eq!(n.failures, 0);
        assert_eq!(n.due(t), vec![(K, true)]);
        assert_eq!(n.failures, 1);
        assert_eq!(n.due(t + RETRY), vec![], "backed off");
        assert_eq!(n.due(t + BACKOFF), vec![(K, false)]);
        assert_eq!(n.failures, 1, "one failure per episode");
        n.sync([], t);
        assert_eq!(n.next_deadline(), None);
    }
}
