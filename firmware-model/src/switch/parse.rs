//! Parse and validate a frame (docs/pipeline.md section 2), in the documented order.

use super::checksum::ipv4_header_valid;
use super::Punt;
use crate::regs::reason;
use crate::FiveTuple;

const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETH_LEN: usize = 14;
const VLAN_ETH_LEN: usize = 18;
pub(super) const IPV4_LEN: usize = 20;
const TCP_LEN: usize = 20;
const UDP_LEN: usize = 8;
pub(super) const PROTO_TCP: u8 = 6;
pub(super) const PROTO_UDP: u8 = 17;
const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;
/// The flags/fragment-offset word: MF and the 13-bit offset (DF is ignored).
const IP_MF_OR_OFFSET: u16 = 0x3fff;

/// A frame that passed every parse rule.
#[derive(Clone, Copy, Debug)]
pub(super) struct Packet {
    /// Offset of the IPv4 header: 14, or 18 with an 802.1Q tag.
    pub l3: usize,
    pub vlan: bool,
    /// Offset of the TCP/UDP header.
    pub l4: usize,
    pub tuple: FiveTuple,
    pub ttl: u8,
    /// TCP flags byte (0 for UDP).
    pub tcp_flags: u8,
    /// UDP length field (0 for TCP).
    pub udp_len: usize,
}

impl Packet {
    /// A connection's first segment: TCP with SYN set and ACK clear.
    pub fn syn(&self) -> bool {
        self.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN
    }

    /// The state record a forward of this segment on a connection emits: RST before FIN.
    pub fn state_reason(&self) -> Option<u8> {
        if self.tcp_flags & TCP_RST != 0 {
            Some(reason::TCP_RST)
        } else if self.tcp_flags & TCP_FIN != 0 {
            Some(reason::TCP_FIN)
        } else {
            None
        }
    }

    /// The UDP payload as the UDP length field delimits it (empty for TCP).
    pub fn udp_payload<'a>(&self, frame: &'a [u8]) -> &'a [u8] {
        if self.tuple.proto == PROTO_UDP {
            &frame[self.l4 + UDP_LEN..self.l4 + self.udp_len]
        } else {
            &[]
        }
    }
}

/// A frame that failed a parse rule, with what the host record needs to describe it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Reject {
    pub punt: Punt,
    /// The IPv4 header offset once the EtherType said IPv4, else 0.
    pub l3_offset: u8,
    pub vlan: bool,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Rules 1-13 of section 2; the first rule that matches decides.
pub(super) fn parse(frame: &[u8], max_frame: u32) -> Result<Packet, Reject> {
    let len = frame.len();
    let vlan = len >= ETH_LEN && be16(frame, 12) == ETHERTYPE_VLAN;
    let l3 = if vlan { VLAN_ETH_LEN } else { ETH_LEN };
    let reject = |punt, l3_offset| Reject {
        punt,
        l3_offset,
        vlan,
    };
    let dropped = |code| Err(reject(Punt::Drop(code), 0));
    let punted = |code| Err(reject(Punt::Host(code), 0));

    if len < l3 {
        return dropped(reason::RUNT);
    }
    // The host record's frame_len is 16 bits: no longer frame is accepted, whatever MAX_FRAME says.
    if len as u64 > u64::from(max_frame).min(u64::from(u16::MAX)) {
        return dropped(reason::OVERSIZE);
    }
    match be16(frame, l3 - 2) {
        ETHERTYPE_ARP => return punted(reason::ARP),
        ETHERTYPE_IPV4 => {}
        _ => return punted(reason::NON_IPV4),
    }

    // From here on the host record names the IPv4 header offset.
    let dropped = |code| Err(reject(Punt::Drop(code), l3 as u8));
    let punted = |code| Err(reject(Punt::Host(code), l3 as u8));
    let avail = len - l3;
    if avail < IPV4_LEN {
        return dropped(reason::IP_TRUNCATED);
    }
    let ip: &[u8; IPV4_LEN] = frame[l3..l3 + IPV4_LEN].try_into().unwrap();
    if ip[0] >> 4 != 4 {
        return dropped(reason::IP_VERSION);
    }
    let ihl = ip[0] & 0x0f;
    if ihl < 5 {
        return dropped(reason::IP_IHL);
    }
    if ihl > 5 {
        return punted(reason::IP_OPTIONS);
    }
    let total_len = usize::from(be16(ip, 2));
    if total_len > avail || total_len < IPV4_LEN {
        return dropped(reason::IP_TOTAL_LEN);
    }
    if !ipv4_header_valid(ip) {
        return dropped(reason::IP_CHECKSUM);
    }
    if be16(ip, 6) & IP_MF_OR_OFFSET != 0 {
        return punted(reason::IP_FRAGMENT);
    }
    let proto = ip[9];
    if proto != PROTO_TCP && proto != PROTO_UDP {
        return punted(reason::L4_OTHER);
    }

    let l4 = l3 + IPV4_LEN;
    let l4_len = total_len - IPV4_LEN;
    let (tcp_flags, udp_len) = if proto == PROTO_TCP {
        if l4_len < TCP_LEN {
            return dropped(reason::L4_TRUNCATED);
        }
        let data_offset = usize::from(frame[l4 + 12] >> 4);
        if data_offset < 5 || data_offset * 4 > l4_len {
            return dropped(reason::L4_TRUNCATED);
        }
        (frame[l4 + 13], 0)
    } else {
        if l4_len < UDP_LEN {
            return dropped(reason::L4_TRUNCATED);
        }
        let udp_len = usize::from(be16(frame, l4 + 4));
        if !(UDP_LEN..=l4_len).contains(&udp_len) {
            return dropped(reason::L4_TRUNCATED);
        }
        (0, udp_len)
    };

    Ok(Packet {
        l3,
        vlan,
        l4,
        tuple: FiveTuple {
            src_ip: be32(ip, 12),
            dst_ip: be32(ip, 16),
            src_port: be16(frame, l4),
            dst_port: be16(frame, l4 + 2),
            proto,
        },
        ttl: ip[8],
        tcp_flags,
        udp_len,
    })
}
