//! Figures measured at the register seam: writes (and read-back reads) per connection insert.
//! `cargo test -p anypoint-driver --test figures -- --nocapture` prints them.

mod common;

use anypoint_driver::access::CountingAccess;
use anypoint_driver::control::Connection;
use anypoint_driver::PolicyKind;
use anypoint_model::{FiveTuple, Geometry, Switch};
use common::*;
use std::net::Ipv4Addr;

/// Both directions, each 5 staged words + 1 write command + 1 read-back command, when no entry
/// has to move (conn entries are 5 words: docs/registers.md).
const WRITES_WITHOUT_RELOCATION: u64 = 2 * (5 + 1 + 1);

#[test]
fn register_writes_per_connection_insert() {
    let mut cp = control_plane(CountingAccess::new(Switch::new(Geometry::default())));
    let vip = Ipv4Addr::new(10, 0, 0, 100);
    cp.add_service(service("web", vip, PolicyKind::Maglev))
        .unwrap();
    let member = cp
        .add_member("web", member(Ipv4Addr::new(10, 1, 0, 1), 1))
        .unwrap();
    let entries = 2 * 4 * (1u64 << Geometry::default().conn_buckets_log2);
    let stats_before = cp.table_stats();

    let mut per_insert = Vec::new();
    let mut reads = 0;
    let report = |per_insert: &[u64], reads: u64| {
        let load = 200.0 * per_insert.len() as f64 / entries as f64;
        let avg = per_insert.iter().sum::<u64>() as f64 / per_insert.len() as f64;
        let max = per_insert.iter().max().unwrap();
        println!(
            "register writes per connection insert (both directions, read-back on), {} inserts \
             up to {load:.0} % load: average {avg:.2}, max {max}",
            per_insert.len()
        );
        println!(
            "register reads per connection insert (read-back verification): average {:.2}",
            reads as f64 / per_insert.len() as f64
        );
        avg
    };
    // Up to 90 % of the entries, two per connection.
    let connections = entries * 9 / 20;
    for i in 0..connections as u32 {
        let conn = Connection {
            inbound: FiveTuple {
                src_ip: 0xc000_0000 | i >> 8,
                dst_ip: vip.into(),
                src_port: 1024 + (i & 0xff) as u16,
                dst_port: 80,
                proto: 6,
            },
            service: 0,
            member,
            peer_port: PEER_PORT,
        };
        let (before, reads_before) = (cp.backend().writes, cp.backend().reads);
        assert_eq!(cp.insert_connection(&conn), Ok(true));
        per_insert.push(cp.backend().writes - before);
        reads += cp.backend().reads - reads_before;
        if per_insert.len() as u64 == connections / 2 {
            report(&per_insert, reads);
        }
    }
    assert_eq!(per_insert[0], WRITES_WITHOUT_RELOCATION);
    let avg = report(&per_insert, reads);
    assert!(avg <= 16.0, "average {avg:.2} writes per insert");

    // The driver's own count agrees with the seam's.
    let stats = cp.table_stats();
    assert_eq!(
        stats.register_writes - stats_before.register_writes,
        per_insert.iter().sum::<u64>()
    );
    assert_eq!(stats.conn_inserts, connections);
    let relocation_writes = per_insert
        .iter()
        .map(|w| w - WRITES_WITHOUT_RELOCATION)
        .sum::<u64>();
    assert_eq!(relocation_writes, stats.relocations * (5 + 1 + 1));
    println!("relocations: {}", stats.relocations);
}
