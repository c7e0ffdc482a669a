//! A soft reset under a configured switch with live connections: the device forgets everything
//! (the tables read back empty, RESET_SEEN is set), the driver notices and reprograms it from its
//! shadow, and the established connections carry on without the host.

use super::lab::{self, Conn, VIP};
use crate::frames::{ACK, PSH};
use crate::host::Host;
use anypoint_driver::{PolicyKind, Proto};
use anypoint_model::regs::{reg, region, table, tbl_op};
use std::net::SocketAddrV4;

const WEB: SocketAddrV4 = SocketAddrV4::new(VIP, 80);

/// Logged reads of every table entry, indirection slot and register the reset defines.
fn read_everything(host: &mut Host) {
    let g = lab::GEOMETRY;
    for offset in (0..0x80).step_by(4) {
        host.read32(offset);
    }
    for (id, entries) in [
        (table::port::ID, u32::from(g.ports)),
        (table::service::ID, g.services.into()),
        (table::member::ID, g.members.into()),
        (table::conn::ID, 8 << g.conn_buckets_log2),
    ] {
        for index in 0..entries {
            host.write32(
                reg::TBL_CMD,
                reg::TBL_CMD_OP.place(tbl_op::READ.into())
                    | reg::TBL_CMD_TABLE.place(id)
                    | reg::TBL_CMD_INDEX.place(index),
            );
            for word in 0..5 {
                host.read32(reg::TBL_RDATA + 4 * word);
            }
        }
    }
    for slot in 0..1 << g.indir_slots_log2 {
        host.read32(region::INDIR + 4 * slot);
    }
}

pub fn run(host: &mut Host) {
    lab::add(
        host,
        lab::service("web", 80, Proto::Tcp, PolicyKind::Maglev),
        &[lab::member(1, 8080, 1), lab::member(2, 8080, 1)],
    );
    lab::add(
        host,
        lab::service("rr", 81, Proto::Tcp, PolicyKind::RoundRobin),
        &[lab::member(3, 8081, 1), lab::member(4, 8081, 1)],
    );
    let rr = SocketAddrV4::new(VIP, 81);
    let mut conns: Vec<Conn> = (0..8)
        .map(|i| {
            let service = if i % 2 == 0 { WEB } else { rr };
            let mut c = Conn::new(
                SocketAddrV4::new(lab::peer(i), 47000 + i as u16),
                service,
                i << 20,
            );
            c.open(host);
            c.peer_sends(host, ACK, b"");
            c
        })
        .collect();
    host.write32(reg::MAX_FRAME, 1500);
    assert_eq!(
        host.read32(reg::DEV_STATUS),
        0,
        "the driver cleared RESET_SEEN"
    );

    host.write32(reg::SOFT_RESET, reg::SOFT_RESET_GO.place(1));
    assert!(host.ctl().reset_detected());
    assert_eq!(host.read32(reg::MAX_FRAME), reg::MAX_FRAME_RESET);
    read_everything(host);
    // Unconfigured again: a connection's next segment is for no service.
    let d = host.receive(lab::PEERS, &conns[0].from_peer(ACK | PSH, b"lost"));
    assert!(d.egress.is_empty(), "{d:?}");

    host.ctl().reprogram().expect("reprogram after the reset");
    assert!(!host.ctl().reset_detected());
    read_everything(host);
    for c in &mut conns {
        c.peer_sends(host, ACK | PSH, b"ping");
        c.member_sends(host, ACK | PSH, b"pong");
    }
}
