//! A userspace impairment relay: a transparent bridge between two interfaces (packet sockets)
//! that drops, delays, reorders and duplicates packets with a seeded generator. It stands in for
//! `netem`, which the test hosts' kernels lack.
//!
//! ```text
//!  ns A --veth-- [a_if  relay ns  b_if] --veth-- ns B
//! ```
//! The relay namespace has no addresses and no forwarding, so the kernel there ignores the traffic
//! and only the relay carries it (ARP included, never impaired).

use std::collections::BinaryHeap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::raw::{poll_readable, PacketSocket};

/// What happens to packets in one direction. Probabilities are per packet, in 0..=1.
#[derive(Clone, Copy, Debug, Default)]
pub struct Profile {
    pub loss: f64,
    /// Chance a packet is held back by `reorder_delay` so later ones overtake it.
    pub reorder: f64,
    pub reorder_delay: Duration,
    pub duplicate: f64,
    /// Delay added to every packet.
    pub delay: Duration,
    /// Only IPv4 packets of this protocol are impaired (`None`: every IPv4 packet).
    pub protocol: Option<u8>,
}

/// What the relay did, both directions together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImpairCounts {
    pub relayed: u64,
    pub dropped: u64,
    pub reordered: u64,
    pub duplicated: u64,
}

#[derive(Default)]
struct Counters {
    relayed: AtomicU64,
    dropped: AtomicU64,
    reordered: AtomicU64,
    duplicated: AtomicU64,
}

/// splitmix64: small, seeded, and the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// A packet waiting for its release time; ties keep arrival order.
#[derive(PartialEq, Eq)]
struct Held {
    at: Instant,
    n: u64,
    to_b: bool,
    bytes: Vec<u8>,
}

impl Ord for Held {
    fn cmp(&self, o: &Held) -> std::cmp::Ordering {
        (o.at, o.n).cmp(&(self.at, self.n))
    }
}

impl PartialOrd for Held {
    fn partial_cmp(&self, o: &Held) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// The running relay; stops when dropped.
pub struct Impair {
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

impl Impair {
    /// Relays between interfaces `a_if` and `b_if` of the calling thread's network namespace,
    /// impairing A-to-B packets with `a_to_b` and B-to-A packets with `b_to_a`.
    pub fn start(
        a_if: &str,
        b_if: &str,
        a_to_b: Profile,
        b_to_a: Profile,
        seed: u64,
    ) -> io::Result<Impair> {
        let a = PacketSocket::open(a_if)?;
        let b = PacketSocket::open(b_if)?;
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let (s, c) = (stop.clone(), counters.clone());
        let thread = std::thread::Builder::new()
            .name("acp-impair".into())
            .spawn(move || relay(a, b, [a_to_b, b_to_a], seed, &s, &c))?;
        Ok(Impair {
            stop,
            counters,
            thread: Some(thread),
        })
    }

    pub fn counts(&self) -> ImpairCounts {
        let c = &self.counters;
        ImpairCounts {
            relayed: c.relayed.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            reordered: c.reordered.load(Ordering::Relaxed),
            duplicated: c.duplicated.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Impair {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Whether an Ethernet frame is an IPv4 packet `profile` impairs.
fn impaired(frame: &[u8], profile: &Profile) -> bool {
    let ipv4 = frame.len() >= 34 && frame[12..14] == [0x08, 0x00];
    ipv4 && profile.protocol.is_none_or(|p| frame[23] == p)
}

fn relay(
    a: PacketSocket,
    b: PacketSocket,
    profiles: [Profile; 2],
    seed: u64,
    stop: &AtomicBool,
    c: &Counters,
) {
    let mut rng = [Rng(seed), Rng(seed ^ 0x5555_5555_5555_5555)];
    let mut held = BinaryHeap::new();
    let mut n = 0u64;
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        while held.peek().is_some_and(|h: &Held| h.at <= now) {
            let h = held.pop().expect("peeked");
            let out = if h.to_b { &b } else { &a };
            // A full queue on the far side is a loss like any other.
            let _ = out.send(&h.bytes);
            c.relayed.fetch_add(1, Ordering::Relaxed);
        }
        let timeout = held
            .peek()
            .map(|h| h.at.saturating_duration_since(now))
            .unwrap_or(Duration::from_millis(50))
            .min(Duration::from_millis(50));
        let Ok(ready) = poll_readable([a.fd(), b.fd()], timeout) else {
            continue;
        };
        for (dir, sock) in [(0, &a), (1, &b)] {
            if !ready[dir] {
                continue;
            }
            while let Ok(len) = sock.recv(&mut buf) {
                let frame = &buf[..len];
                let p = &profiles[dir];
                let r = &mut rng[dir];
                let mut at = Instant::now();
                let mut copies = 1;
                if impaired(frame, p) {
                    if r.chance(p.loss) {
                        c.dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    at += p.delay;
                    if r.chance(p.reorder) {
                        at += p.reorder_delay;
                        c.reordered.fetch_add(1, Ordering::Relaxed);
                    }
                    if r.chance(p.duplicate) {
                        copies = 2;
                        c.duplicated.fetch_add(1, Ordering::Relaxed);
                    }
                }
                for _ in 0..copies {
                    n += 1;
                    held.push(Held {
                        at,
                        n,
                        to_b: dir == 0,
                        bytes: frame.to_vec(),
                    });
                }
            }
        }
    }
}
