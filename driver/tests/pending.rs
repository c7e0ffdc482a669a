//! The pending-connection window (what SilkRoad's transit table and Cheetah's cookies address): the
//! hardware decided a connection's SYN by the indirection table and queued its learn record, but the
//! host has not inserted the entry yet when a member change rewrites the slots. Property, over random
//! sequences of SYNs, segments, member adds, drains, re-weights and removals, and host-queue
//! processing that lags behind: every segment of a connection whose member is still present goes to
//! the member its SYN went to.

mod common;

use anypoint_driver::{ControlPlane, PolicyKind};
use anypoint_model::Switch;
use common::*;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);

fn member_ip(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 1, 0, i)
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// The member address a peer's segment was forwarded to.
fn send(cp: &mut ControlPlane<Switch>, peer_port: u16, syn: bool) -> Ipv4Addr {
    let (_, out) = forward(cp, PEER_PORT, &from_peer(peer_port, VIP, syn));
    Ipv4Addr::from(addressing(&out).tuple.dst_ip)
}

/// Hands every queued host record to the control plane, as the daemon does when it gets to it.
fn catch_up(cp: &mut ControlPlane<Switch>) {
    while let Some(record) = cp.pop_host() {
        cp.handle_host_record(&record).unwrap();
    }
}

fn run(seed: u64) -> (usize, usize) {
    let mut rng = Rng(seed);
    let mut cp = model();
    cp.add_service(service("web", VIP, PolicyKind::Maglev))
        .unwrap();
    // Members 1..=8 may exist; `present` says which do, with their weight.
    let mut present: BTreeMap<u8, u32> = BTreeMap::new();
    for i in 1..=3 {
        cp.add_member("web", member(member_ip(i), 1)).unwrap();
        present.insert(i, 1);
    }
    // Peer port -> member its SYN went to.
    let mut conns: BTreeMap<u16, Ipv4Addr> = BTreeMap::new();
    let (mut changes, mut checked) = (0, 0);
    for _ in 0..300 {
        match rng.below(10) {
            0..=2 => {
                let port = 1024 + conns.len() as u16;
                // The SYN's learn record stays queued until a later catch-up.
                let m = send(&mut cp, port, true);
                conns.insert(port, m);
            }
            3..=5 if !conns.is_empty() => {
                let ports: Vec<u16> = conns.keys().copied().collect();
                let port = ports[rng.below(ports.len() as u64) as usize];
                let want = conns[&port];
                let got = send(&mut cp, port, false);
                assert_eq!(got, want, "seed {seed}: connection {port} moved");
                checked += 1;
            }
            6 => catch_up(&mut cp),
            _ => {
                let i = 1 + rng.below(8) as u8;
                let addr = member_ip(i);
                changes += 1;
                match (present.get(&i).copied(), rng.below(3)) {
                    (None, _) => {
                        cp.add_member("web", member(addr, 1)).unwrap();
                        present.insert(i, 1);
                    }
                    // Keep at least one member taking new connections.
                    (Some(_), 0) if present.values().filter(|w| **w > 0).count() > 1 => {
                        cp.remove_member("web", addr, 8080).unwrap();
                        present.remove(&i);
                        // Its connections go with it, even if a member of that address comes back.
                        conns.retain(|_, m| *m != addr);
                    }
                    (Some(_), _) => {
                        let w = if present.values().filter(|w| **w > 0).count() > 1 {
                            rng.below(4) as u32
                        } else {
                            1 + rng.below(3) as u32
                        };
                        cp.set_weight("web", addr, 8080, w).unwrap();
                        present.insert(i, w);
                    }
                }
            }
        }
    }
    (changes, checked)
}

#[test]
fn member_changes_never_move_a_connection_whose_entry_is_still_pending() {
    let (mut changes, mut checked) = (0, 0);
    for seed in 0..16 {
        let (c, k) = run(seed);
        changes += c;
        checked += k;
    }
    println!("16 sequences: {changes} member changes, {checked} segments checked");
    assert!(checked > 500 && changes > 500);
}
