//! The control plane driving the reference model: frames in, frames and host records out.

mod common;

use anypoint_driver::control::{Activity, Connection, HostDisposition, MemberState};
use anypoint_driver::PolicyKind;
use anypoint_model::hostrec::{HostHeader, KIND_LEARN, KIND_PUNT};
use anypoint_model::regs::reason;
use anypoint_model::FiveTuple;
use common::*;
use std::net::Ipv4Addr;

const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
const MEMBERS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(10, 1, 0, 1),
    Ipv4Addr::new(10, 1, 0, 2),
    Ipv4Addr::new(10, 1, 0, 3),
];

fn inbound(peer_port: u16) -> FiveTuple {
    FiveTuple {
        src_ip: PEER.into(),
        dst_ip: VIP.into(),
        src_port: peer_port,
        dst_port: 80,
        proto: 6,
    }
}

/// A maglev service "web" on VIP:80 with the three members, weight 1 each.
fn maglev_web() -> anypoint_driver::ControlPlane<anypoint_model::Switch> {
    let mut cp = model();
    cp.add_service(service("web", VIP, PolicyKind::Maglev))
        .unwrap();
    for addr in MEMBERS {
        cp.add_member("web", member(addr, 1)).unwrap();
    }
    cp
}

/// Sends a SYN from the peer, checks it reached a member and hands the learn record to the control
/// plane. Returns the member's address.
fn connect(
    cp: &mut anypoint_driver::ControlPlane<anypoint_model::Switch>,
    peer_port: u16,
) -> Ipv4Addr {
    let (port, frame) = forward(cp, PEER_PORT, &from_peer(peer_port, VIP, true));
    assert_eq!(port, MEMBER_PORT);
    let a = addressing(&frame);
    let to = Ipv4Addr::from(a.tuple.dst_ip);
    assert!(MEMBERS.contains(&to), "forwarded to {to}");
    let record = cp.backend().pop_host().expect("a learn record");
    let header = HostHeader::decode(&record).unwrap();
    assert_eq!((header.kind, header.reason), (KIND_LEARN, reason::LEARN));
    assert_eq!(header.tuple, inbound(peer_port));
    assert_eq!(cp.handle_host_record(&record), Ok(HostDisposition::Learned));
    to
}

fn member_id(
    cp: &anypoint_driver::ControlPlane<anypoint_model::Switch>,
    service: &str,
    addr: Ipv4Addr,
) -> u16 {
    let s = cp
        .services()
        .into_iter()
        .find(|s| s.config.name == service)
        .unwrap();
    s.members.iter().find(|m| m.config.addr == addr).unwrap().id
}

#[test]
fn maglev_syn_is_forwarded_learned_and_answered_from_the_vip() {
    let mut cp = maglev_web();
    let (port, frame) = forward(&mut cp, PEER_PORT, &from_peer(40000, VIP, true));
    assert_eq!(port, MEMBER_PORT);
    let a = addressing(&frame);
    let chosen = Ipv4Addr::from(a.tuple.dst_ip);
    assert!(MEMBERS.contains(&chosen));
    assert_eq!(
        a.tuple.src_ip,
        u32::from(PEER),
        "members see the peer's address"
    );
    assert_eq!(a.tuple.dst_port, 8080);
    assert_eq!(a.dst_mac, member_mac(chosen));
    assert_eq!(a.src_mac, PORT_MAC[1]);
    assert_eq!(a.ttl, 63);

    let record = cp.backend().pop_host().expect("a learn record");
    assert_eq!(cp.handle_host_record(&record), Ok(HostDisposition::Learned));
    let id = member_id(&cp, "web", chosen);
    assert_eq!(
        cp.connections(),
        vec![Connection {
            inbound: inbound(40000),
            service: 0,
            member: id,
            peer_port: PEER_PORT,
        }]
    );
    // A learn record for a connection already present changes nothing.
    assert_eq!(cp.handle_host_record(&record), Ok(HostDisposition::Learned));
    assert_eq!(cp.connections().len(), 1);

    // The member's reply leaves towards the peer from VIP:80.
    let reply = tcp((chosen, 8080), (PEER, 40000), false, PORT_MAC[1]);
    let (port, frame) = forward(&mut cp, MEMBER_PORT, &reply);
    assert_eq!(port, PEER_PORT);
    let a = addressing(&frame);
    assert_eq!(
        a.tuple,
        FiveTuple {
            src_ip: VIP.into(),
            dst_ip: PEER.into(),
            src_port: 80,
            dst_port: 40000,
            proto: 6,
        }
    );
    assert_eq!((a.src_mac, a.dst_mac), (PORT_MAC[0], GATEWAY_MAC));
    assert!(cp.backend().pop_host().is_none());

    let counters = cp.counters();
    let web = &counters.services[0];
    assert_eq!(web.service, "web");
    assert_eq!((web.counters.in_packets, web.counters.out_packets), (1, 1));
    let m = web
        .members
        .iter()
        .find(|m| m.member == format!("{chosen}:8080"))
        .unwrap();
    assert_eq!((m.counters.in_packets, m.counters.out_packets), (1, 1));
    assert_eq!(counters.reasons.get("learn"), Some(&1));
    assert_eq!(
        counters.reasons.len(),
        1,
        "only non-zero reasons: {:?}",
        counters.reasons
    );
    assert_eq!(counters.ports[0].rx_packets, 1);
    assert_eq!(counters.ports[0].tx_packets, 1);
}

#[test]
fn round_robin_punts_are_redirected_and_reinjected() {
    let mut cp = model();
    let vip = Ipv4Addr::new(10, 0, 0, 101);
    cp.add_service(service("rr", vip, PolicyKind::RoundRobin))
        .unwrap();
    let [a, b, _] = MEMBERS;
    let ids = [a, b].map(|addr| cp.add_member("rr", member(addr, 1)).unwrap());

    for (i, peer_port) in [50000u16, 50001, 50002].into_iter().enumerate() {
        cp.backend()
            .receive(PEER_PORT, &from_peer(peer_port, vip, true));
        assert!(cp.backend().pop_egress().is_none(), "the host decides");
        let record = cp.backend().pop_host().expect("a host_policy punt");
        let header = HostHeader::decode(&record).unwrap();
        assert_eq!(
            (header.kind, header.reason),
            (KIND_PUNT, reason::HOST_POLICY)
        );
        // Round robin over members in id order: a, b, a.
        let expected = ids[i % 2];
        assert_eq!(
            cp.handle_host_record(&record),
            Ok(HostDisposition::Redirected { member: expected })
        );
        let (port, frame) = cp.backend().pop_egress().expect("the re-injected frame");
        assert_eq!(port, MEMBER_PORT);
        let to = addressing(&frame).tuple.dst_ip;
        assert_eq!(to, u32::from([a, b][i % 2]));
    }
    // The connection is in the table: the next segment goes straight to its member.
    let (port, frame) = forward(&mut cp, PEER_PORT, &from_peer(50000, vip, false));
    assert_eq!(
        (port, addressing(&frame).tuple.dst_ip),
        (MEMBER_PORT, u32::from(a))
    );
    assert!(cp.backend().pop_host().is_none());
    let info = &cp.services()[0];
    assert_eq!(
        info.members.iter().map(|m| m.conns).collect::<Vec<_>>(),
        [2, 1]
    );
}

#[test]
fn round_robin_without_an_active_member_leaves_the_punt_unhandled() {
    let mut cp = model();
    let vip = Ipv4Addr::new(10, 0, 0, 101);
    cp.add_service(service("rr", vip, PolicyKind::LeastConn))
        .unwrap();
    cp.add_member("rr", member(MEMBERS[0], 0)).unwrap();
    cp.backend()
        .receive(PEER_PORT, &from_peer(50000, vip, true));
    let record = cp.backend().pop_host().unwrap();
    assert_eq!(
        cp.handle_host_record(&record),
        Ok(HostDisposition::Unhandled)
    );
    assert!(cp.backend().pop_egress().is_none());
    assert!(cp.connections().is_empty());
}

#[test]
fn draining_keeps_existing_connections_and_sends_new_ones_elsewhere() {
    let mut cp = maglev_web();
    let first = connect(&mut cp, 40000);
    cp.set_weight("web", first, 8080, 0).unwrap();
    let info = &cp.services()[0];
    let drained = info
        .members
        .iter()
        .find(|m| m.config.addr == first)
        .unwrap();
    assert_eq!((drained.state, drained.conns), (MemberState::Draining, 1));

    // The existing connection still reaches its member.
    let (_, frame) = forward(&mut cp, PEER_PORT, &from_peer(40000, VIP, false));
    assert_eq!(addressing(&frame).tuple.dst_ip, u32::from(first));
    // New connections never do.
    for peer_port in 41000..41100 {
        assert_ne!(connect(&mut cp, peer_port), first);
    }
    // Back to weight 1: new connections reach it again.
    cp.set_weight("web", first, 8080, 1).unwrap();
    assert!((42000..42100).any(|p| connect(&mut cp, p) == first));
}

#[test]
fn removing_a_member_removes_its_connections() {
    let mut cp = maglev_web();
    let mut to: Vec<(u16, Ipv4Addr)> = (43000..43060).map(|p| (p, connect(&mut cp, p))).collect();
    let gone = to[0].1;
    let gone_id = member_id(&cp, "web", gone);
    cp.remove_member("web", gone, 8080).unwrap();

    let conns = cp.connections();
    assert!(conns.iter().all(|c| c.member != gone_id));
    to.retain(|&(_, m)| m != gone);
    assert_eq!(
        conns.len(),
        to.len(),
        "only the removed member's connections went"
    );
    // The others stay with their members; the removed member's flows go elsewhere.
    for (p, m) in to {
        let (_, frame) = forward(&mut cp, PEER_PORT, &from_peer(p, VIP, false));
        assert_eq!(addressing(&frame).tuple.dst_ip, u32::from(m));
    }
    let (_, frame) = forward(&mut cp, PEER_PORT, &from_peer(43000, VIP, false));
    assert_ne!(addressing(&frame).tuple.dst_ip, u32::from(gone));
    assert_eq!(cp.services()[0].members.len(), 2);
}

#[test]
fn removing_a_service_empties_its_tables() {
    let mut cp = maglev_web();
    connect(&mut cp, 44000);
    cp.remove_service("web").unwrap();
    assert!(cp.services().is_empty() && cp.connections().is_empty());
    cp.backend()
        .receive(PEER_PORT, &from_peer(44000, VIP, false));
    let record = cp.backend().pop_host().expect("no_service punt");
    assert_eq!(
        HostHeader::decode(&record).unwrap().reason,
        reason::NO_SERVICE
    );
    assert_eq!(
        cp.handle_host_record(&record),
        Ok(HostDisposition::Unhandled)
    );
    // The name, the id and the indirection range are free again.
    assert_eq!(
        cp.add_service(service("web", VIP, PolicyKind::Maglev)),
        Ok(0)
    );
}

#[test]
fn idle_connections_are_those_without_hits_since_the_last_sweep() {
    let mut cp = maglev_web();
    connect(&mut cp, 45000);
    connect(&mut cp, 45001);
    cp.idle_connections();
    forward(&mut cp, PEER_PORT, &from_peer(45000, VIP, false));
    let idle: Vec<u16> = cp
        .idle_connections()
        .iter()
        .map(|c| c.inbound.src_port)
        .collect();
    assert_eq!(idle, [45001]);
    let idle = cp.idle_connections();
    assert_eq!(idle.len(), 2);
}

/// A FIN or RST segment (with ACK) from `src` to `dst`.
fn closing_segment(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), rst: bool, mac: [u8; 6]) -> Vec<u8> {
    let mut tcp = etherparse::TcpHeader::new(src.1, dst.1, 2000, 65535);
    (tcp.ack, tcp.fin, tcp.rst) = (true, !rst, rst);
    let mut frame = Vec::new();
    etherparse::PacketBuilder::ethernet2(GATEWAY_MAC, mac)
        .ipv4(src.0.octets(), dst.0.octets(), 64)
        .tcp_header(tcp)
        .write(&mut frame, b"")
        .unwrap();
    frame
}

#[test]
fn fin_and_rst_from_either_side_name_the_connection_by_its_inbound_key() {
    let mut cp = maglev_web();
    let to = connect(&mut cp, 45100);
    connect(&mut cp, 45101);
    let cases = [
        // The peer's FIN, the member's FIN, the member's RST.
        (
            PEER_PORT,
            closing_segment((PEER, 45100), (VIP, 80), false, PORT_MAC[0]),
            false,
        ),
        (
            MEMBER_PORT,
            closing_segment((to, 8080), (PEER, 45100), false, PORT_MAC[1]),
            false,
        ),
        (
            MEMBER_PORT,
            closing_segment((to, 8080), (PEER, 45100), true, PORT_MAC[1]),
            true,
        ),
    ];
    for (port, frame, reset) in cases {
        forward(&mut cp, port, &frame);
        let record = cp.backend().pop_host().expect("a state record");
        assert_eq!(
            cp.handle_host_record(&record),
            Ok(HostDisposition::Closing {
                inbound: inbound(45100),
                reset
            })
        );
    }
    // Its member's segments show as outbound activity, the peer's as inbound.
    let activity: Vec<(u16, Activity)> = cp
        .connection_activity()
        .iter()
        .map(|(c, a)| (c.inbound.src_port, *a))
        .collect();
    let both = Activity {
        inbound: true,
        outbound: true,
    };
    let idle = Activity {
        inbound: false,
        outbound: false,
    };
    assert!(activity.contains(&(45100, both)), "{activity:?}");
    // Its SYN was decided by the indirection table before the entry existed: no hit yet.
    assert!(activity.contains(&(45101, idle)), "{activity:?}");
    // Removed meanwhile: a late record changes nothing.
    let late = {
        forward(
            &mut cp,
            PEER_PORT,
            &closing_segment((PEER, 45101), (VIP, 80), true, PORT_MAC[0]),
        );
        cp.backend().pop_host().expect("a state record")
    };
    cp.remove_connection(&inbound(45101)).unwrap();
    assert_eq!(cp.handle_host_record(&late), Ok(HostDisposition::Unhandled));
}

#[test]
fn requests_are_checked() {
    let mut cp = maglev_web();
    let dup = cp.add_service(service(
        "web",
        Ipv4Addr::new(10, 0, 0, 7),
        PolicyKind::Maglev,
    ));
    assert!(matches!(dup, Err(anypoint_driver::DriverError::Invalid(_))));
    let same_vip = cp.add_service(service("other", VIP, PolicyKind::RoundRobin));
    assert!(matches!(
        same_vip,
        Err(anypoint_driver::DriverError::Invalid(_))
    ));
    let dup_member = cp.add_member("web", member(MEMBERS[0], 1));
    assert!(matches!(
        dup_member,
        Err(anypoint_driver::DriverError::Invalid(_))
    ));
    let mut far = member(Ipv4Addr::new(10, 9, 9, 9), 1);
    far.out_port = 9;
    assert!(cp.add_member("web", far).is_err());
    let err = cp.set_weight("nope", MEMBERS[0], 8080, 1).unwrap_err();
    assert_eq!(err.to_string(), "no service named \"nope\"");
    assert!(cp.remove_connection(&inbound(1)).is_err());
    let to_elsewhere = Connection {
        inbound: FiveTuple {
            dst_port: 81,
            ..inbound(1)
        },
        service: 0,
        member: 0,
        peer_port: PEER_PORT,
    };
    assert!(matches!(
        cp.insert_connection(&to_elsewhere),
        Err(anypoint_driver::DriverError::Invalid(_))
    ));
    let wrong_member = Connection {
        member: 7,
        ..to_elsewhere
    };
    assert!(cp.insert_connection(&wrong_member).is_err());
}

/// A switch whose connection table has one bucket per bank: 8 entries, room for 4 connections.
fn tiny() -> anypoint_driver::ControlPlane<anypoint_model::Switch> {
    control_plane(anypoint_model::Switch::new(anypoint_model::Geometry {
        conn_buckets_log2: 0,
        ..Default::default()
    }))
}

#[test]
fn a_full_connection_table_is_not_fatal_for_learn_records() {
    let mut cp = tiny();
    cp.add_service(service("web", VIP, PolicyKind::Maglev))
        .unwrap();
    cp.add_member("web", member(MEMBERS[0], 1)).unwrap();
    for peer_port in 46000..46006 {
        assert_eq!(connect(&mut cp, peer_port), MEMBERS[0]);
    }
    assert_eq!(cp.connections().len(), 4);
    let stats = cp.table_stats();
    assert_eq!((stats.conn_inserts, stats.conn_insert_failures), (4, 2));
    // An explicit insert reports it.
    let conn = Connection {
        inbound: inbound(46010),
        service: 0,
        member: 0,
        peer_port: PEER_PORT,
    };
    assert_eq!(
        cp.insert_connection(&conn),
        Err(anypoint_driver::DriverError::TableFull("connection"))
    );
    // The flows that did not fit are still forwarded by the indirection table.
    let (_, frame) = forward(&mut cp, PEER_PORT, &from_peer(46005, VIP, false));
    assert_eq!(addressing(&frame).tuple.dst_ip, u32::from(MEMBERS[0]));
}

#[test]
fn with_a_full_table_a_retransmitted_punt_waits_for_room_and_keeps_its_member() {
    let mut cp = tiny();
    let vip = Ipv4Addr::new(10, 0, 0, 101);
    cp.add_service(service("rr", vip, PolicyKind::RoundRobin))
        .unwrap();
    let ids = [MEMBERS[0], MEMBERS[1]].map(|a| cp.add_member("rr", member(a, 1)).unwrap());
    let punt = |cp: &mut anypoint_driver::ControlPlane<anypoint_model::Switch>, peer_port| {
        cp.backend()
            .receive(PEER_PORT, &from_peer(peer_port, vip, true));
        let record = cp.backend().pop_host().unwrap();
        let disposition = cp.handle_host_record(&record).unwrap();
        let out = cp.backend().pop_egress();
        match disposition {
            HostDisposition::Redirected { member } => {
                assert_eq!(
                    addressing(&out.expect("re-injected").1).tuple.src_port,
                    peer_port
                );
                Some(member)
            }
            _ => {
                assert!(out.is_none());
                None
            }
        }
    };
    let fitted: Vec<Option<u16>> = (47000..47004).map(|p| punt(&mut cp, p)).collect();
    assert_eq!(fitted, [ids[0], ids[1], ids[0], ids[1]].map(Some));
    // The fifth does not fit (round robin decided ids[0] for it); its retransmission neither.
    assert_eq!(punt(&mut cp, 47004), None);
    assert_eq!(punt(&mut cp, 47004), None);
    assert_eq!(cp.table_stats().conn_insert_failures, 2);
    // Room again: the retransmission gets the member decided first, while round robin moved on.
    for peer_port in [47000, 47001] {
        let conn = FiveTuple {
            dst_ip: vip.into(),
            ..inbound(peer_port)
        };
        cp.remove_connection(&conn).unwrap();
    }
    assert_eq!(punt(&mut cp, 47004), Some(ids[0]));
    assert_eq!(punt(&mut cp, 47000), Some(ids[1]));
}

#[test]
fn key_hash_sends_the_same_key_to_the_same_member() {
    let mut cp = model();
    let vip = Ipv4Addr::new(10, 0, 0, 53);
    let mut dns = service("dns", vip, PolicyKind::KeyHash);
    dns.proto = anypoint_driver::Proto::Udp;
    dns.port = 53;
    dns.key = Some((0, 4));
    cp.add_service(dns).unwrap();
    for addr in MEMBERS {
        cp.add_member("dns", member(addr, 1)).unwrap();
    }
    let datagram = |src_port: u16, key: [u8; 4]| {
        let mut frame = Vec::new();
        etherparse::PacketBuilder::ethernet2(GATEWAY_MAC, PORT_MAC[0])
            .ipv4(PEER.octets(), vip.octets(), 64)
            .udp(src_port, 53)
            .write(&mut frame, &[&key[..], b"query"].concat())
            .unwrap();
        frame
    };
    let mut seen = std::collections::BTreeSet::new();
    for key in 0..32u32 {
        let members: Vec<u32> = (0..4)
            .map(|i| {
                let (_, frame) =
                    forward(&mut cp, PEER_PORT, &datagram(5000 + i, key.to_be_bytes()));
                addressing(&frame).tuple.dst_ip
            })
            .collect();
        assert!(
            members.iter().all(|&m| m == members[0]),
            "key {key}: {members:?}"
        );
        seen.insert(members[0]);
    }
    assert_eq!(seen.len(), 3, "keys spread over all members");
    assert!(cp.backend().pop_host().is_none(), "key-hash never learns");
}
