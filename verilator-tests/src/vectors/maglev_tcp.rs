//! Many TCP connections through a weighted maglev service, interleaved like concurrent clients.

use super::lab::{self, Conn, VIP};
use crate::frames::{ACK, FIN, PSH};
use crate::host::Host;
use anypoint_driver::{PolicyKind, Proto};
use std::collections::BTreeSet;
use std::net::SocketAddrV4;

const CONNECTIONS: u32 = 50;

pub fn run(host: &mut Host) {
    let web = SocketAddrV4::new(VIP, 80);
    lab::add(
        host,
        lab::service("web", 80, Proto::Tcp, PolicyKind::Maglev),
        &[
            lab::member(1, 8080, 1),
            lab::member(2, 8080, 2),
            lab::member(3, 8080, 3),
        ],
    );
    let mut conns: Vec<Conn> = (0..CONNECTIONS)
        .map(|i| {
            let peer = SocketAddrV4::new(lab::peer(i), 32768 + (i * 7919 % 28000) as u16);
            Conn::new(peer, web, i.wrapping_mul(0x9e37_79b9))
        })
        .collect();
    // All SYNs first, so the table fills (100 of 128 entries) and later inserts must relocate.
    for c in &mut conns {
        c.open(host);
    }
    for c in &mut conns {
        c.peer_sends(host, ACK, b"");
    }
    for (i, c) in conns.iter_mut().enumerate() {
        let request = format!("GET /item/{i} HTTP/1.1\r\nHost: web\r\n\r\n");
        c.peer_sends(host, ACK | PSH, request.as_bytes());
        c.member_sends(
            host,
            ACK | PSH,
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        );
    }
    for c in &mut conns {
        c.peer_sends(host, FIN | ACK, b"");
        c.member_sends(host, FIN | ACK, b"");
        c.peer_sends(host, ACK, b"");
    }

    let used: BTreeSet<_> = conns.iter().filter_map(|c| c.member).collect();
    assert_eq!(used.len(), 3, "every member took connections");
    let stats = host.ctl().table_stats();
    assert!(stats.relocations > 0, "no cuckoo relocation: {stats:?}");
}
