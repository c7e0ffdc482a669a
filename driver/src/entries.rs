//! Table entries as words, per the layouts in docs/registers.md (`anypoint_model::regs::table`).

use crate::control::{Connection, MemberConfig, PortConfig, ServiceConfig};
use anypoint_model::regs::{table, Field};
use anypoint_model::FiveTuple;

/// Connection entry direction (`dir` field).
pub(crate) const INBOUND: u32 = 0;
pub(crate) const OUTBOUND: u32 = 1;

/// `mac_hi` (bytes 0-1) and `mac_lo` (bytes 2-5), big-endian like every other table word.
fn mac_words(mac: [u8; 6]) -> (u32, u32) {
    (
        u32::from(u16::from_be_bytes([mac[0], mac[1]])),
        u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]]),
    )
}

fn set(words: &mut [u32], fields: &[(Field, u32)]) {
    for &(f, v) in fields {
        f.set(words, v);
    }
}

pub(crate) fn port_entry(p: &PortConfig) -> [u32; table::port::WORDS] {
    use table::port::*;
    let mut w = [0; WORDS];
    let (hi, lo) = mac_words(p.mac);
    set(
        &mut w,
        &[
            (MAC_HI, hi),
            (MAC_LO, lo),
            (ENABLED, 1),
            (NO_SERVICE_DROP, p.no_service_drop.into()),
        ],
    );
    if let Some(nh) = p.next_hop_mac {
        let (hi, lo) = mac_words(nh);
        set(&mut w, &[(NH_MAC_HI, hi), (NH_MAC_LO, lo), (NH_VALID, 1)]);
    }
    w
}

/// A valid service entry; `indir` = (base, log2) of its indirection range, if it has one.
pub(crate) fn service_entry(
    s: &ServiceConfig,
    policy: u8,
    indir: Option<(u32, u8)>,
) -> [u32; table::service::WORDS] {
    use table::service::*;
    let mut w = [0; WORDS];
    set(
        &mut w,
        &[
            (VIP, u32::from(s.vip)),
            (PORT, s.port.into()),
            (PROTO, s.proto.number().into()),
            (POLICY, policy.into()),
            (VALID, 1),
            (PEER_PORT, s.peer_port.into()),
        ],
    );
    if let Some((base, log2)) = indir {
        set(&mut w, &[(INDIR_BASE, base), (INDIR_LOG2, log2.into())]);
    }
    if let Some((offset, len)) = s.key {
        set(
            &mut w,
            &[(KEY_OFFSET, offset.into()), (KEY_LEN, len.into())],
        );
    }
    w
}

pub(crate) fn member_entry(
    m: &MemberConfig,
    service: u16,
    state: u8,
) -> [u32; table::member::WORDS] {
    use table::member::*;
    let mut w = [0; WORDS];
    set(
        &mut w,
        &[
            (ADDR, u32::from(m.addr)),
            (PORT, m.port.into()),
            (OUT_PORT, m.out_port.into()),
            (STATE, state.into()),
            (SERVICE, service.into()),
        ],
    );
    if let Some(mac) = m.mac {
        let (hi, lo) = mac_words(mac);
        set(&mut w, &[(MAC_HI, hi), (MAC_LO, lo), (MAC_VALID, 1)]);
    }
    w
}

pub(crate) fn conn_entry(key: &FiveTuple, c: &Connection, dir: u32) -> [u32; table::conn::WORDS] {
    use table::conn::*;
    let mut w = [0; WORDS];
    set(
        &mut w,
        &[
            (SRC_IP, key.src_ip),
            (DST_IP, key.dst_ip),
            (SRC_PORT, key.src_port.into()),
            (DST_PORT, key.dst_port.into()),
            (PROTO, key.proto.into()),
            (SERVICE, c.service.into()),
            (PEER_PORT, c.peer_port.into()),
            (DIR, dir),
            (VALID, 1),
            (MEMBER, c.member.into()),
        ],
    );
    w
}

/// The connection an inbound entry describes.
pub(crate) fn decode_conn(e: &[u32]) -> Connection {
    use table::conn::*;
    Connection {
        inbound: FiveTuple {
            src_ip: SRC_IP.get(e),
            dst_ip: DST_IP.get(e),
            src_port: SRC_PORT.get(e) as u16,
            dst_port: DST_PORT.get(e) as u16,
            proto: PROTO.get(e) as u8,
        },
        service: SERVICE.get(e) as u16,
        member: MEMBER.get(e) as u16,
        peer_port: PEER_PORT.get(e) as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{PolicyKind, Proto};
    use std::net::Ipv4Addr;

    /// Expected words below are worked out by hand from the layouts in docs/registers.md.
    #[test]
    fn entries_follow_the_register_map() {
        let member = MemberConfig {
            addr: Ipv4Addr::new(10, 1, 0, 1),
            port: 8080,
            mac: Some([0x02, 0xaa, 0x10, 0x20, 0x30, 0x40]),
            out_port: 1,
            weight: 3,
        };
        // word 1: port 0x1f90, out_port 1 << 16, state active 1 << 20, service 2 << 24.
        assert_eq!(
            member_entry(&member, 2, 1),
            [0x0a01_0001, 0x0211_1f90, 0x1020_3040, 0x0001_02aa]
        );

        let service = ServiceConfig {
            name: "dns".into(),
            vip: Ipv4Addr::new(10, 0, 0, 53),
            port: 53,
            proto: Proto::Udp,
            policy: PolicyKind::KeyHash,
            key: Some((2, 16)),
            peer_port: 3,
            indir_log2: 12,
        };
        // word 1: port 53, proto 17 << 16, key-hash 2 << 24, valid 1 << 31;
        // word 2: base 0x1000, log2 12 << 16, peer port 3 << 24; word 3: offset 2, len 16 << 8.
        assert_eq!(
            service_entry(&service, 2, Some((0x1000, 12))),
            [0x0a00_0035, 0x8211_0035, 0x030c_1000, 0x0000_1002]
        );

        let port = PortConfig {
            id: 0,
            mac: [0x02, 0, 0, 0, 0, 0x10],
            next_hop_mac: None,
            no_service_drop: true,
        };
        // word 1: mac_hi 0x0200, enabled 1 << 16, no_service_drop 1 << 17; no next hop.
        assert_eq!(port_entry(&port), [0x0000_0010, 0x0003_0200, 0, 0]);

        let tuple = FiveTuple {
            src_ip: 0xc000_020a,
            dst_ip: 0x0a00_0064,
            src_port: 40000,
            dst_port: 80,
            proto: 6,
        };
        let conn = Connection {
            inbound: tuple,
            service: 5,
            member: 300,
            peer_port: 2,
        };
        // word 2: dst_port | src_port << 16; word 3: proto 6, service 5 << 16, peer port 2 << 24,
        // dir outbound 1 << 30, valid 1 << 31; word 4: member.
        let words = conn_entry(&tuple, &conn, OUTBOUND);
        assert_eq!(
            words,
            [0xc000_020a, 0x0a00_0064, 0x9c40_0050, 0xc205_0006, 300]
        );
        let mut inbound_words = words;
        table::conn::DIR.set(&mut inbound_words, INBOUND);
        assert_eq!(decode_conn(&inbound_words), conn);
    }
}
