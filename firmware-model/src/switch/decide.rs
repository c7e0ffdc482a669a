//! Classify and decide (docs/pipeline.md section 3): connection, service or member match, the
//! service policy, then the forwarding checks.

use super::parse::{Packet, PROTO_UDP};
use super::tables::{Member, Tables};
use super::Punt;
use crate::hash::{key_hash, MAX_KEY_LEN};
use crate::hostrec::NONE_ID;
use crate::regs::{member_state, policy, reason};
use crate::HashKey;

/// Where a forwarded frame goes and what the rewrite changes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Forward {
    /// Member to peer (outbound rewrite) rather than peer to member (inbound).
    pub outbound: bool,
    pub service: u16,
    pub member: u16,
    pub port: u8,
    /// New destination (inbound) or source (outbound) address and L4 port.
    pub ip: u32,
    pub l4_port: u16,
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    /// Also emit a header-only record with this reason: `learn` (a SYN decided by the indirection
    /// table) or `tcp_fin`/`tcp_rst` (a FIN or RST on a connection, for the host's ageing).
    pub record: Option<u8>,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Decision {
    Forward(Forward),
    /// Host or drop, with the service and member it concerns (`NONE_ID` if none).
    Punt {
        punt: Punt,
        service: u16,
        member: u16,
    },
}

fn host(code: u8, service: u16, member: u16) -> Decision {
    Decision::Punt {
        punt: Punt::Host(code),
        service,
        member,
    }
}

/// The decision for a parsed frame arriving on `in_port`; `hash` is its 5-tuple hash.
pub(super) fn decide(
    tables: &mut Tables,
    key: &HashKey,
    pkt: &Packet,
    frame: &[u8],
    in_port: u8,
    hash: u64,
) -> Decision {
    let t = &pkt.tuple;
    if let Some(index) = tables.lookup_conn(t, hash) {
        let c = tables.conn(index);
        let record = pkt.state_reason();
        if c.outbound {
            return outbound(tables, pkt, c.service, c.member, c.peer_port, record);
        }
        let m = tables.member(c.member);
        return match m.state {
            member_state::ACTIVE | member_state::DRAINING => {
                inbound(tables, pkt, c.service, c.member, &m, record)
            }
            _ => host(reason::MEMBER_DOWN, c.service, c.member),
        };
    }

    if let Some(sid) = tables.match_service(t) {
        let s = tables.service(sid);
        let slot_hash = match s.policy {
            policy::MAGLEV => hash,
            policy::KEY_HASH if t.proto == PROTO_UDP => {
                let payload = pkt.udp_payload(frame);
                let key_bytes = payload.get(s.key_offset..s.key_offset + s.key_len);
                // A short payload, or a key length outside 1-16, falls back to the 5-tuple hash.
                match key_bytes {
                    Some(k) if (1..=MAX_KEY_LEN).contains(&k.len()) => key_hash(key, k),
                    _ => hash,
                }
            }
            policy::KEY_HASH => hash,
            // `host` and the undefined policy codes leave the choice to the host.
            _ => return host(reason::HOST_POLICY, sid, NONE_ID),
        };
        let hash_hi = (slot_hash >> 32) as u32;
        let slot = s.indir_base + ((hash_hi >> 16) & ((1 << s.indir_log2) - 1));
        let Some(mid) = tables.indir_member(slot) else {
            return host(reason::NO_MEMBER, sid, NONE_ID);
        };
        let m = tables.member(mid);
        if m.state != member_state::ACTIVE {
            // The record names the slot's member so the host sees which one is not active.
            return host(reason::NO_MEMBER, sid, mid);
        }
        // Only TCP SYNs learn, so a UDP key-hash service never does.
        let record = pkt.syn().then_some(reason::LEARN);
        return inbound(tables, pkt, sid, mid, &m, record);
    }

    if let Some(mid) = tables.match_member(t) {
        let m = tables.member(mid);
        if t.proto != PROTO_UDP {
            return host(reason::OUTBOUND_NO_CONN, m.service, mid);
        }
        let peer_port = tables.service(m.service).peer_port;
        return outbound(tables, pkt, m.service, mid, peer_port, None);
    }

    let punt = if tables.port(in_port).no_service_drop {
        Punt::Drop(reason::NO_SERVICE)
    } else {
        Punt::Host(reason::NO_SERVICE)
    };
    Decision::Punt {
        punt,
        service: NONE_ID,
        member: NONE_ID,
    }
}

/// Peer to member `m`.
fn inbound(
    tables: &Tables,
    pkt: &Packet,
    service: u16,
    member: u16,
    m: &Member,
    record: Option<u8>,
) -> Decision {
    let p = tables.port(m.out_port);
    let fwd = Forward {
        outbound: false,
        service,
        member,
        port: m.out_port,
        ip: m.addr,
        l4_port: m.port,
        src_mac: p.mac,
        dst_mac: m.mac,
        record,
    };
    checked(pkt, fwd, m.mac_valid, p.enabled)
}

/// Member to peer, as service `service`, out of `port`.
fn outbound(
    tables: &Tables,
    pkt: &Packet,
    service: u16,
    member: u16,
    port: u8,
    record: Option<u8>,
) -> Decision {
    let s = tables.service(service);
    let p = tables.port(port);
    let fwd = Forward {
        outbound: true,
        service,
        member,
        port,
        ip: s.vip,
        l4_port: s.port,
        src_mac: p.mac,
        dst_mac: p.nh_mac,
        record,
    };
    checked(pkt, fwd, p.nh_valid, p.enabled)
}

/// The checks every forward decision passes, in order: TTL, next hop, output port.
fn checked(pkt: &Packet, fwd: Forward, next_hop_valid: bool, port_enabled: bool) -> Decision {
    let (service, member) = (fwd.service, fwd.member);
    if pkt.ttl <= 1 {
        return host(reason::TTL_EXPIRED, service, member);
    }
    if !next_hop_valid {
        return host(reason::NO_NEXT_HOP, service, member);
    }
    if !port_enabled {
        return Decision::Punt {
            punt: Punt::Drop(reason::PORT_DOWN),
            service,
            member,
        };
    }
    Decision::Forward(fwd)
}
