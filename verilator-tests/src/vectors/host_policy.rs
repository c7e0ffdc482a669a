//! Services whose new connections the host ALRM places: the first segment is punted, the host
//! inserts the connection and re-injects the segment, and the rest of the connection hits in hardware.

use super::lab::{self, Conn, PEERS, VIP};
use crate::frames::{self, ACK, FIN, PSH};
use crate::host::Host;
use anypoint_driver::{HostDisposition, PolicyKind, Proto};
use anypoint_model::regs::reason;
use anypoint_model::{InjectHeader, InjectMode};
use std::collections::BTreeMap;
use std::net::SocketAddrV4;

/// Opens `n` connections from peers `first..` to `service`; returns them with their members.
fn open_all(host: &mut Host, service: SocketAddrV4, first: u32, n: u32) -> Vec<Conn> {
    (first..first + n)
        .map(|i| {
            let mut c = Conn::new(SocketAddrV4::new(lab::peer(i), 41000 + i as u16), service, i << 20);
            let d = c.open(host);
            assert!(
                matches!(d.host.as_slice(), [(h, HostDisposition::Redirected { .. })] if h.reason == reason::HOST_POLICY),
                "SYN to {service} punted and redirected: {d:?}"
            );
            c
        })
        .collect()
}

/// Connections per member.
fn spread(conns: &[Conn]) -> BTreeMap<SocketAddrV4, usize> {
    let mut count = BTreeMap::new();
    for c in conns {
        *count.entry(c.member.expect("opened")).or_default() += 1;
    }
    count
}

/// A request, its response and both FINs; nothing of it reaches the host.
fn exchange(host: &mut Host, c: &mut Conn, i: usize) {
    c.peer_sends(host, ACK, b"");
    c.peer_sends(host, ACK | PSH, format!("request {i}").as_bytes());
    c.member_sends(host, ACK | PSH, format!("response {i}").as_bytes());
    c.peer_sends(host, FIN | ACK, b"");
    c.member_sends(host, FIN | ACK, b"");
}

pub fn run(host: &mut Host) {
    let api = SocketAddrV4::new(VIP, 8443);
    let pool = SocketAddrV4::new(VIP, 8444);
    lab::add(
        host,
        lab::service("api", 8443, Proto::Tcp, PolicyKind::RoundRobin),
        &[
            lab::member(1, 9443, 1),
            lab::member(2, 9443, 1),
            lab::member(3, 9443, 1),
        ],
    );
    lab::add(
        host,
        lab::service("pool", 8444, Proto::Tcp, PolicyKind::LeastConn),
        &[lab::member(4, 9444, 1), lab::member(5, 9444, 1)],
    );

    let mut rr = open_all(host, api, 0, 6);
    assert!(
        spread(&rr).values().all(|&n| n == 2),
        "round robin: {:?}",
        spread(&rr)
    );
    let mut lc = open_all(host, pool, 10, 5);
    let counts: Vec<usize> = spread(&lc).into_values().collect();
    assert!(
        counts.len() == 2 && counts.iter().all(|&n| n >= 2),
        "least-conn: {counts:?}"
    );
    for (i, c) in rr.iter_mut().chain(lc.iter_mut()).enumerate() {
        exchange(host, c, i);
    }

    // ARP is the host's to answer: it injects the reply straight out of the port (direct mode).
    let asker = lab::peer(1);
    let d = host.receive(PEERS, &frames::arp_request(lab::PEER_ROUTER, asker, VIP));
    assert!(
        matches!(d.host.as_slice(), [(h, HostDisposition::Unhandled)] if h.reason == reason::ARP)
    );
    let reply = frames::arp_reply((lab::port_mac(PEERS), VIP), (lab::PEER_ROUTER, asker));
    let header = InjectHeader {
        mode: InjectMode::Direct,
        port: PEERS,
    };
    let d = host.inject(&[&header.encode()[..], &reply].concat());
    assert_eq!(d.forwarded(), (PEERS, &reply[..]));
}
