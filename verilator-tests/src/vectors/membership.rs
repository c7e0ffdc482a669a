//! Membership changes under traffic: drain, weight change, removal (with its connections) and a
//! new member, each followed by old and new connections.

use super::lab::{self, Conn, PEERS, VIP};
use crate::frames::{ACK, FIN, PSH};
use crate::host::Host;
use anypoint_driver::{PolicyKind, Proto};
use anypoint_model::regs::reason;
use std::net::SocketAddrV4;

const WEB: SocketAddrV4 = SocketAddrV4::new(VIP, 80);

/// Opens connections from peers `range` and sends their first ACK.
fn open(host: &mut Host, range: std::ops::Range<u32>) -> Vec<Conn> {
    range
        .map(|i| {
            let mut c = Conn::new(
                SocketAddrV4::new(lab::peer(i), 46000 + i as u16),
                WEB,
                i << 16,
            );
            c.open(host);
            c.peer_sends(host, ACK, b"");
            c
        })
        .collect()
}

fn count(conns: &[Conn], member: SocketAddrV4) -> usize {
    conns.iter().filter(|c| c.member == Some(member)).count()
}

/// A request and its response on every connection.
fn traffic(host: &mut Host, conns: &mut [Conn]) {
    for c in conns {
        c.peer_sends(host, ACK | PSH, b"ping");
        c.member_sends(host, ACK | PSH, b"pong");
    }
}

pub fn run(host: &mut Host) {
    let m: Vec<SocketAddrV4> = (1..=4)
        .map(|n| SocketAddrV4::new(lab::member_addr(n), 8080))
        .collect();
    lab::add(
        host,
        lab::service("web", 80, Proto::Tcp, PolicyKind::Maglev),
        &[
            lab::member(1, 8080, 1),
            lab::member(2, 8080, 1),
            lab::member(3, 8080, 1),
        ],
    );
    let mut old = open(host, 0..12);
    assert!(
        m[..3].iter().all(|&x| count(&old, x) > 0),
        "all three members in use"
    );

    // Drain member 3: its connections go on, new ones avoid it.
    host.ctl()
        .set_weight("web", *m[2].ip(), 8080, 0)
        .expect("drain");
    traffic(host, &mut old);
    let drained = open(host, 12..20);
    assert_eq!(
        count(&drained, m[2]),
        0,
        "new connections avoid a draining member"
    );

    // Member 1 gets three times the weight of member 2.
    host.ctl()
        .set_weight("web", *m[0].ip(), 8080, 3)
        .expect("weight");
    let weighted = open(host, 20..28);
    assert!(
        count(&weighted, m[0]) > count(&weighted, m[1]),
        "weight 3 beats weight 1"
    );

    // Remove member 2 and its connections: the peers' segments are re-hashed onto the others
    // (no SYN, so nothing is learned), and the removed member's own segments are nobody's.
    let gone = lab::member_id(host, "web", m[1]);
    host.ctl()
        .remove_member("web", *m[1].ip(), 8080)
        .expect("remove");
    let left = host.ctl().connections();
    assert!(
        left.iter().all(|c| c.member != gone),
        "the removed member's connections are gone"
    );
    let (mut orphans, mut kept): (Vec<Conn>, Vec<Conn>) = old
        .into_iter()
        .chain(drained)
        .chain(weighted)
        .partition(|c| c.member == Some(m[1]));
    assert!(!orphans.is_empty());
    for c in &mut orphans {
        let reply = c.from_member(ACK | PSH, b"too late");
        let d = host.receive(lab::MEMBERS, &reply);
        assert!(
            matches!(d.host.as_slice(), [(h, _)] if h.reason == reason::NO_SERVICE),
            "{d:?}"
        );
        let f = c.from_peer(ACK, b"");
        let out = lab::forwarded(host, PEERS, &f, lab::MEMBERS);
        let (_, to) = crate::frames::endpoints(&out).expect("TCP");
        assert_ne!(to, m[1]);
    }
    traffic(host, &mut kept);

    // Member 3 back at weight 1 and a new member 4.
    host.ctl()
        .set_weight("web", *m[2].ip(), 8080, 1)
        .expect("undrain");
    lab::add_members(host, "web", &[lab::member(4, 8080, 1)]);
    let mut fresh = open(host, 28..36);
    assert!(count(&fresh, m[3]) > 0, "the new member takes connections");
    traffic(host, &mut fresh);
    for c in kept.iter_mut().chain(&mut fresh) {
        c.peer_sends(host, FIN | ACK, b"");
        c.member_sends(host, FIN | ACK, b"");
    }
}
