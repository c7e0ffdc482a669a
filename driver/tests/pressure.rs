//! The connection table under pressure, on the model: hash flooding by someone who knows the design
//! but not the hash key, a full table, and a SYN flood many times the table's size.
//! `cargo test -p anypoint-driver --test pressure -- --nocapture` prints the load factors.

mod common;

use anypoint_driver::control::Connection;
use anypoint_driver::{ControlPlane, DriverError, HostDisposition, PolicyKind};
use anypoint_model::hash::tuple_hash;
use anypoint_model::{FiveTuple, Geometry, HashKey, Switch};
use common::*;
use std::collections::HashSet;
use std::net::Ipv4Addr;

/// A small table: 2 x 64 buckets x 4 ways = 512 entries, 256 connections.
const SMALL: Geometry = Geometry {
    ports: 4,
    services: 64,
    members: 1024,
    conn_buckets_log2: 6,
    indir_slots_log2: 16,
};
const ENTRIES: usize = 8 << SMALL.conn_buckets_log2;
const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
const MEMBERS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(10, 1, 0, 1),
    Ipv4Addr::new(10, 1, 0, 2),
    Ipv4Addr::new(10, 1, 0, 3),
];

/// splitmix64, for keys and tuples.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn key(&mut self) -> HashKey {
        HashKey([0; 4].map(|_: u32| self.next() as u32))
    }
}

/// A switch with the small table, a maglev service on the VIP and three members.
fn switch(key: HashKey) -> (ControlPlane<Switch>, Vec<u16>) {
    let mut cp = control_plane_keyed(Switch::new(SMALL), key);
    cp.add_service(service("web", VIP, PolicyKind::Maglev))
        .unwrap();
    let members = MEMBERS
        .iter()
        .map(|a| cp.add_member("web", member(*a, 1)).unwrap())
        .collect();
    (cp, members)
}

fn peer_tuple(src_ip: u32, src_port: u16) -> FiveTuple {
    FiveTuple {
        src_ip,
        dst_ip: VIP.into(),
        src_port,
        dst_port: 80,
        proto: 6,
    }
}

/// Inserts connections for `tuples` until the first one that does not fit; the share of the
/// table's entries then in use (two per connection).
fn load_at_first_failure(key: HashKey, tuples: &[FiveTuple]) -> f64 {
    let (mut cp, members) = switch(key);
    for (i, t) in tuples.iter().enumerate() {
        let conn = Connection {
            inbound: *t,
            service: 0,
            member: members[i % members.len()],
            peer_port: PEER_PORT,
        };
        match cp.insert_connection(&conn) {
            Ok(_) => {}
            Err(DriverError::TableFull(_)) => {
                return (2 * cp.connections().len()) as f64 / ENTRIES as f64;
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("{} connections all fitted", tuples.len());
}

/// Tuples whose inbound direction lands in bank 0 bucket 0 and bank 1 bucket 0 under `key`: what an
/// attacker who knew the key would send to fill two buckets.
fn colliding(key: &HashKey, rng: &mut Rng, n: usize) -> Vec<FiveTuple> {
    let mask = (1u64 << SMALL.conn_buckets_log2) - 1;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let t = peer_tuple(0xc000_0000 | rng.next() as u32 >> 8, rng.next() as u16);
        let h = tuple_hash(key, &t);
        if h & mask == 0 && (h >> 32) & mask == 0 {
            out.push(t);
        }
    }
    out
}

#[test]
fn hash_flooding_without_the_key_fills_the_table_like_random_traffic() {
    let n = ENTRIES; // more than fit
    let mut rng = Rng(0xf100d);
    // The attacker's tuple sets, chosen without the switch's key.
    let attacker_key = HashKey([0; 4]);
    let sets: Vec<(&str, Vec<FiveTuple>)> = vec![
        (
            "random peers",
            (0..n)
                .map(|_| peer_tuple(rng.next() as u32, rng.next() as u16))
                .collect(),
        ),
        (
            "one peer, consecutive ports",
            (0..n)
                .map(|i| peer_tuple(0xc000_0201, 1024 + i as u16))
                .collect(),
        ),
        (
            "consecutive peers, one port",
            (0..n)
                .map(|i| peer_tuple(0xc000_0000 + i as u32, 40000))
                .collect(),
        ),
        (
            "colliding under a guessed key",
            colliding(&attacker_key, &mut rng, n),
        ),
    ];
    let keys: Vec<HashKey> = (0..6).map(|_| rng.key()).collect();
    let mut loads = Vec::new();
    for (name, tuples) in &sets {
        let load = keys
            .iter()
            .map(|k| load_at_first_failure(*k, tuples))
            .sum::<f64>()
            / keys.len() as f64;
        println!(
            "{name}: {:.1} % of {ENTRIES} entries in use at the first failed insert (mean of {} keys)",
            100.0 * load,
            keys.len()
        );
        loads.push(load);
    }
    let random = loads[0];
    assert!(random > 0.85, "random load factor {random:.3}");
    for ((name, _), load) in sets.iter().zip(&loads).skip(1) {
        assert!(
            *load >= random - 0.03,
            "{name}: {load:.3} against {random:.3} for random tuples"
        );
    }
    // The same colliding set against a switch that uses the guessed key: two buckets, 8 entries,
    // fill and the next insert fails. This is what the secret key prevents.
    let known = load_at_first_failure(attacker_key, &sets[3].1);
    println!(
        "colliding set when the key is known: {:.1} % at the first failed insert",
        100.0 * known
    );
    assert!(known < 0.05, "known-key flood reached {known:.3}");
}

/// Sends a peer's SYN, hands the learn record to the control plane, returns the member address the
/// SYN was forwarded to.
fn syn(cp: &mut ControlPlane<Switch>, src: (Ipv4Addr, u16)) -> Ipv4Addr {
    let frame = tcp(src, (VIP, 80), true, PORT_MAC[0]);
    let (_, out) = forward(cp, PEER_PORT, &frame);
    let learn = cp.backend().pop_host().expect("a learn record");
    assert_eq!(cp.handle_host_record(&learn), Ok(HostDisposition::Learned));
    Ipv4Addr::from(addressing(&out).tuple.dst_ip)
}

/// A peer's ACK; the member address it was forwarded to.
fn ack(cp: &mut ControlPlane<Switch>, src: (Ipv4Addr, u16)) -> Ipv4Addr {
    let frame = tcp(src, (VIP, 80), false, PORT_MAC[0]);
    let (_, out) = forward(cp, PEER_PORT, &frame);
    assert!(cp.backend().pop_host().is_none());
    Ipv4Addr::from(addressing(&out).tuple.dst_ip)
}

fn present(cp: &ControlPlane<Switch>, src: (Ipv4Addr, u16)) -> bool {
    cp.connections()
        .iter()
        .any(|c| c.inbound == peer_tuple(src.0.into(), src.1))
}

#[test]
fn a_full_table_still_forwards_counts_the_failure_and_ageing_frees_space() {
    let mut rng = Rng(0xf011);
    let (mut cp, members) = switch(rng.key());
    // Fill the table with connections that then see no traffic.
    let mut i = 0;
    loop {
        let conn = Connection {
            inbound: peer_tuple(rng.next() as u32, rng.next() as u16),
            service: 0,
            member: members[i % 3],
            peer_port: PEER_PORT,
        };
        i += 1;
        if let Err(e) = cp.insert_connection(&conn) {
            assert!(matches!(e, DriverError::TableFull(_)), "{e}");
            break;
        }
    }
    let failures = cp.table_stats().conn_insert_failures;
    // A new connection: its SYN is forwarded by the consistent hash, its insert fails and is
    // counted, and its later segments keep going to the same member without an entry.
    let peer = (Ipv4Addr::new(198, 51, 100, 7), 5555);
    let chosen = syn(&mut cp, peer);
    assert_eq!(cp.table_stats().conn_insert_failures, failures + 1);
    assert!(!present(&cp, peer));
    for _ in 0..5 {
        assert_eq!(ack(&mut cp, peer), chosen);
    }
    // Ageing: connections idle since the previous scan go; then the connection fits.
    cp.idle_connections();
    let idle = cp.idle_connections();
    assert!(idle.len() * 2 > ENTRIES / 2, "{} idle", idle.len());
    for c in &idle {
        cp.remove_connection(&c.inbound).unwrap();
    }
    assert_eq!(syn(&mut cp, peer), chosen);
    assert!(present(&cp, peer));
    assert_eq!(ack(&mut cp, peer), chosen);
}

#[test]
fn a_syn_flood_many_times_the_table_does_not_evict_active_connections() {
    let mut rng = Rng(0x5f10);
    let (mut cp, _) = switch(rng.key());
    let established: Vec<(Ipv4Addr, u16)> = (0..40)
        .map(|i| (Ipv4Addr::new(198, 51, 100, i), 10000 + u16::from(i)))
        .collect();
    let members: Vec<Ipv4Addr> = established.iter().map(|p| syn(&mut cp, *p)).collect();
    assert_eq!(
        members.iter().collect::<HashSet<_>>().len(),
        3,
        "spread over every member"
    );
    let flood = 10 * ENTRIES;
    for n in 0..flood {
        let src = (
            Ipv4Addr::from(rng.next() as u32 | 0x0100_0000),
            rng.next() as u16,
        );
        syn(&mut cp, src);
        // The established connections send a segment now and then; ageing runs with a timeout of
        // one scan interval, long enough for the flood to fill the table in between.
        if n % (ENTRIES / 4) == 0 {
            for (p, m) in established.iter().zip(&members) {
                assert_eq!(ack(&mut cp, *p), *m, "connection {p:?} moved");
            }
        }
        if n % ENTRIES == ENTRIES - 1 {
            for c in cp.idle_connections() {
                cp.remove_connection(&c.inbound).unwrap();
            }
        }
    }
    let failures = cp.table_stats().conn_insert_failures;
    println!(
        "SYN flood of {flood} connections into {} connection slots: {failures} inserts failed, \
         {} active connections all kept",
        ENTRIES / 2,
        established.len()
    );
    assert!(failures > 0, "the flood filled the table");
    for (p, m) in established.iter().zip(&members) {
        assert!(present(&cp, *p), "{p:?} evicted");
        assert_eq!(ack(&mut cp, *p), *m);
    }
}

/// Valid connection entries in the device, read back through `TBL_CMD` (both directions count).
fn device_entries(cp: &mut ControlPlane<Switch>) -> usize {
    use anypoint_model::regs::{reg, table, tbl_op};
    (0..ENTRIES as u32)
        .filter(|&i| {
            let sw = cp.backend();
            sw.write32(
                reg::TBL_CMD,
                u32::from(tbl_op::READ) << 30 | table::conn::ID << 24 | i,
            );
            table::conn::VALID.extract(sw.read32(reg::TBL_RDATA + 12)) == 1
        })
        .count()
}

#[test]
fn both_directions_of_a_connection_age_together() {
    let (mut cp, _) = switch(HashKey([9, 8, 7, 6]));
    let peer = (Ipv4Addr::new(198, 51, 100, 9), 4321);
    let m = syn(&mut cp, peer);
    assert_eq!(device_entries(&mut cp), 2);
    // Only the member talks (a download): the connection is active, both entries stay.
    let from_member = tcp((m, 8080), peer, false, PORT_MAC[1]);
    cp.idle_connections();
    for _ in 0..3 {
        forward(&mut cp, MEMBER_PORT, &from_member);
        assert!(cp.idle_connections().is_empty(), "active one way, yet idle");
    }
    // Only the peer talks (an upload): the same.
    ack(&mut cp, peer);
    assert!(cp.idle_connections().is_empty());
    // Silence: idle, and removing it removes both directions from the device.
    let idle = cp.idle_connections();
    assert_eq!(idle.len(), 1);
    cp.remove_connection(&idle[0].inbound).unwrap();
    assert_eq!(device_entries(&mut cp), 0);
}
