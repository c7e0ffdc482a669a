//! The inbound/outbound rewrite (docs/pipeline.md section 7) with incremental checksum updates.

use super::checksum::update;
use super::decide::Forward;
use super::parse::{Packet, PROTO_TCP};

/// IPv4 header offsets.
const IP_TTL: usize = 8;
const IP_CHECKSUM: usize = 10;
const IP_SRC: usize = 12;
const IP_DST: usize = 16;
/// L4 header offsets.
const L4_SRC_PORT: usize = 0;
const L4_DST_PORT: usize = 2;
const TCP_CHECKSUM: usize = 16;
const UDP_CHECKSUM: usize = 6;

fn get16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Rewrites `frame` (a copy of the parsed frame) in place.
pub(super) fn rewrite(frame: &mut [u8], pkt: &Packet, fwd: &Forward) {
    frame[0..6].copy_from_slice(&fwd.dst_mac);
    frame[6..12].copy_from_slice(&fwd.src_mac);

    let (ip_at, port_at) = if fwd.outbound {
        (pkt.l3 + IP_SRC, pkt.l4 + L4_SRC_PORT)
    } else {
        (pkt.l3 + IP_DST, pkt.l4 + L4_DST_PORT)
    };
    let old_ip = [get16(frame, ip_at), get16(frame, ip_at + 2)];
    let new_ip = [(fwd.ip >> 16) as u16, fwd.ip as u16];
    let ttl_at = pkt.l3 + IP_TTL;
    let old_ttl_word = get16(frame, ttl_at);
    let new_ttl_word = old_ttl_word - 0x0100;
    let old_port = get16(frame, port_at);

    // Every listed word is folded in, changed or not, in the order of section 7.
    let ip_sum_at = pkt.l3 + IP_CHECKSUM;
    let mut hc = get16(frame, ip_sum_at);
    hc = update(hc, old_ip[0], new_ip[0]);
    hc = update(hc, old_ip[1], new_ip[1]);
    hc = update(hc, old_ttl_word, new_ttl_word);
    put16(frame, ip_sum_at, hc);

    let is_tcp = pkt.tuple.proto == PROTO_TCP;
    let l4_sum_at = pkt.l4 + if is_tcp { TCP_CHECKSUM } else { UDP_CHECKSUM };
    let mut hc = get16(frame, l4_sum_at);
    // A UDP checksum of 0 means "none" and stays so.
    if is_tcp || hc != 0 {
        hc = update(hc, old_ip[0], new_ip[0]);
        hc = update(hc, old_ip[1], new_ip[1]);
        hc = update(hc, old_port, fwd.l4_port);
        if !is_tcp && hc == 0 {
            hc = 0xffff;
        }
        put16(frame, l4_sum_at, hc);
    }

    frame[ip_at..ip_at + 4].copy_from_slice(&fwd.ip.to_be_bytes());
    put16(frame, port_at, fwd.l4_port);
    put16(frame, ttl_at, new_ttl_word);
}
