//! Maglev through the whole stack: 100k real 5-tuples hashed by the model (SipHash, indirection slot)
//! over the table the driver filled, against the configured weights and across a member removal.

mod common;

use anypoint_driver::{ControlPlane, PolicyKind};
use anypoint_model::Switch;
use common::*;
use std::collections::HashMap;
use std::net::Ipv4Addr;

const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
const FLOWS: u32 = 100_000;
const WEIGHTS: [u32; 4] = [1, 2, 3, 4];

fn member_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 1, 0, 1 + i as u8)
}

/// Flow `i`: a distinct (peer address, peer port) pair.
fn peer(i: u32) -> (Ipv4Addr, u16) {
    (
        Ipv4Addr::from(0xc633_0000 | (i >> 4)),
        1024 + (i & 0xf) as u16 * 997,
    )
}

/// The member each flow's mid-connection segment reaches (no SYN, so no learn: pure Maglev).
fn members_of_flows(cp: &mut ControlPlane<Switch>) -> Vec<Ipv4Addr> {
    (0..FLOWS)
        .map(|i| {
            let frame = tcp(peer(i), (VIP, 80), false, PORT_MAC[0]);
            let (port, out) = forward(cp, PEER_PORT, &frame);
            assert_eq!(port, MEMBER_PORT);
            Ipv4Addr::from(addressing(&out).tuple.dst_ip)
        })
        .collect()
}

fn weighted_web() -> ControlPlane<Switch> {
    let mut cp = model();
    cp.add_service(service("web", VIP, PolicyKind::Maglev))
        .unwrap();
    for (i, w) in WEIGHTS.iter().enumerate() {
        cp.add_member("web", member(member_addr(i), *w)).unwrap();
    }
    cp
}

#[test]
fn flows_spread_by_weight_and_only_the_removed_members_flows_move() {
    let mut cp = weighted_web();
    let before = members_of_flows(&mut cp);
    assert_eq!(
        before,
        members_of_flows(&mut cp),
        "the same 5-tuple always reaches the same member"
    );

    let mut counts: HashMap<Ipv4Addr, u32> = HashMap::new();
    for m in &before {
        *counts.entry(*m).or_default() += 1;
    }
    let total: u32 = WEIGHTS.iter().sum();
    for (i, w) in WEIGHTS.iter().enumerate() {
        let expected = f64::from(FLOWS) * f64::from(*w) / f64::from(total);
        let got = f64::from(counts.get(&member_addr(i)).copied().unwrap_or(0));
        let error = (got - expected).abs() / expected;
        println!(
            "maglev spread: member {i} weight {w}: {got} flows, expected {expected:.0} ({:+.2} %)",
            100.0 * (got - expected) / expected
        );
        assert!(
            error <= 0.05,
            "member {i}: {got} flows, expected {expected:.0}"
        );
    }

    let removed = member_addr(2);
    cp.remove_member("web", removed, 8080).unwrap();
    let after = members_of_flows(&mut cp);
    let mut moved = 0;
    for (b, a) in before.iter().zip(&after) {
        if *b == removed {
            assert_ne!(*a, removed);
            moved += 1;
        } else {
            assert_eq!(a, b, "a flow of a remaining member moved");
        }
    }
    println!("maglev removal: {moved} of {FLOWS} flows moved, all of them the removed member's");
}
