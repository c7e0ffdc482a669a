//! The few frames the slow path parses and builds itself: ARP (RFC 826), ICMP echo replies, and
//! IPv4 packets for the acp services' segments.

use std::net::Ipv4Addr;

pub const BROADCAST: [u8; 6] = [0xff; 6];
const ETH_ARP: u16 = 0x0806;
const ETH_IPV4: u16 = 0x0800;
pub const ARP_REQUEST: u16 = 1;
pub const ARP_REPLY: u16 = 2;
const ICMP: u8 = 1;
const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_ECHO_REQUEST: u8 = 8;

/// An Ethernet/IPv4 ARP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arp {
    pub op: u16,
    pub sender_mac: [u8; 6],
    pub sender_ip: Ipv4Addr,
    pub target_mac: [u8; 6],
    pub target_ip: Ipv4Addr,
}

impl Arp {
    /// The ARP packet of an untagged frame.
    pub fn parse(frame: &[u8]) -> Option<Arp> {
        let p = frame.get(14..42)?;
        if be16(frame, 12) != ETH_ARP || p[..6] != [0, 1, 8, 0, 6, 4] {
            return None;
        }
        Some(Arp {
            op: be16(p, 6),
            sender_mac: p[8..14].try_into().ok()?,
            sender_ip: ip_at(p, 14),
            target_mac: p[18..24].try_into().ok()?,
            target_ip: ip_at(p, 24),
        })
    }

    /// The frame carrying this packet from `src` to `dst` (zero-padded to the 60-byte minimum).
    pub fn frame(&self, dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
        let mut f = Vec::with_capacity(60);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&src);
        f.extend_from_slice(&ETH_ARP.to_be_bytes());
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4]);
        f.extend_from_slice(&self.op.to_be_bytes());
        f.extend_from_slice(&self.sender_mac);
        f.extend_from_slice(&self.sender_ip.octets());
        f.extend_from_slice(&self.target_mac);
        f.extend_from_slice(&self.target_ip.octets());
        f.resize(60, 0);
        f
    }
}

/// The destination of an untagged ICMP echo request frame.
pub fn echo_request_target(frame: &[u8]) -> Option<Ipv4Addr> {
    let (ip, ihl) = ipv4_header(frame)?;
    (ip[9] == ICMP && *frame.get(14 + ihl)? == ICMP_ECHO_REQUEST).then(|| ip_at(ip, 16))
}

/// The echo reply to an untagged echo request frame, sent from `src_mac`.
pub fn echo_reply(request: &[u8], src_mac: [u8; 6]) -> Option<Vec<u8>> {
    echo_request_target(request)?;
    let (ip, ihl) = ipv4_header(request)?;
    let total = usize::from(be16(ip, 2));
    let mut f = request.get(..14 + total)?.to_vec();
    f.copy_within(6..12, 0);
    f[6..12].copy_from_slice(&src_mac);
    let (hdr, icmp) = f[14..].split_at_mut(ihl);
    let (src, dst) = (ip_at(hdr, 12), ip_at(hdr, 16));
    hdr[12..16].copy_from_slice(&dst.octets());
    hdr[16..20].copy_from_slice(&src.octets());
    hdr[8] = 64;
    hdr[10..12].fill(0);
    let sum = checksum(hdr);
    hdr[10..12].copy_from_slice(&sum.to_be_bytes());
    icmp[0] = ICMP_ECHO_REPLY;
    icmp[2..4].fill(0);
    let sum = checksum(icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    Some(f)
}

/// The IPv4 packet of an untagged frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    /// Up to the total length (Ethernet padding left out).
    pub payload: &'a [u8],
}

impl<'a> Ipv4<'a> {
    /// The packet of an untagged frame that holds all of it (header options skipped), by the ACP
    /// library's IPv4 parser.
    pub fn parse(frame: &'a [u8]) -> Option<Ipv4<'a>> {
        if be16(frame, 12) != ETH_IPV4 {
            return None;
        }
        let ip = acp::wire::parse_ipv4(frame.get(14..)?)?;
        Some(Ipv4 {
            src: ip.src,
            dst: ip.dst,
            proto: ip.protocol,
            payload: ip.payload,
        })
    }
}

/// The IPv4 header of an untagged frame and its length, when the frame holds all of the packet.
fn ipv4_header(frame: &[u8]) -> Option<(&[u8], usize)> {
    if be16(frame, 12) != ETH_IPV4 {
        return None;
    }
    let ip = frame.get(14..)?;
    let ihl = usize::from(*ip.first()? & 0xf) * 4;
    let total = usize::from(be16(ip, 2));
    (ihl >= 20 && total >= ihl + 8 && ip.len() >= total).then_some((ip, ihl))
}

/// RFC 1071 checksum.
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn be16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |x| u16::from_be_bytes([x[0], x[1]]))
}

fn ip_at(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{Icmpv4Type, PacketBuilder, SlicedPacket};

    const A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

    #[test]
    fn arp_round_trips() {
        let arp = Arp {
            op: ARP_REQUEST,
            sender_mac: A,
            sender_ip: Ipv4Addr::new(10, 0, 0, 1),
            target_mac: [0; 6],
            target_ip: Ipv4Addr::new(10, 0, 0, 2),
        };
        let f = arp.frame(BROADCAST, A);
        assert_eq!(f.len(), 60);
        assert_eq!(&f[..6], &BROADCAST);
        assert_eq!(Arp::parse(&f), Some(arp));
        let mut ipv6 = f.clone();
        ipv6[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(Arp::parse(&ipv6), None);
        assert_eq!(Arp::parse(&f[..41]), None);
    }

    #[test]
    fn echo_reply_swaps_addresses_and_has_valid_checksums() {
        let mut req = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 100], 7)
            .icmpv4_echo_request(0x1234, 9)
            .write(&mut req, b"payload!")
            .unwrap();
        assert_eq!(
            echo_request_target(&req),
            Some(Ipv4Addr::new(10, 0, 0, 100))
        );
        let reply = echo_reply(&req, B).unwrap();
        assert_eq!((&reply[..6], &reply[6..12]), (&A[..], &B[..]));
        let p = SlicedPacket::from_ethernet(&reply).unwrap();
        let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
            panic!("not ipv4")
        };
        assert_eq!(ip.header().source(), [10, 0, 0, 100]);
        assert_eq!(ip.header().destination(), [10, 0, 0, 1]);
        assert_eq!(checksum(ip.header().slice()), 0);
        let Some(etherparse::TransportSlice::Icmpv4(icmp)) = p.transport else {
            panic!("not icmp")
        };
        assert!(
            matches!(icmp.icmp_type(), Icmpv4Type::EchoReply(e) if e.id == 0x1234 && e.seq == 9)
        );
        assert_eq!(icmp.payload(), b"payload!");
        assert_eq!(checksum(icmp.slice()), 0);
    }

    #[test]
    fn acp_packets_round_trip_with_a_valid_checksum() {
        let payload = [7u8; 30];
        let p = Ipv4 {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 100),
            proto: 253,
            payload: &payload,
        };
        // The model's frame builder, which the daemon sends acp segments with.
        let frame = |p: &Ipv4| {
            let pkt = anypoint_model::frame_switch::Packet {
                src: p.src,
                dst: p.dst,
                segment: p.payload.to_vec(),
            };
            anypoint_model::acp_frame(&pkt, A, B)
        };
        let f = frame(&p);
        assert_eq!((&f[..6], &f[6..12]), (&A[..], &B[..]));
        let s = SlicedPacket::from_ethernet(&f).unwrap();
        let Some(etherparse::NetSlice::Ipv4(ip)) = s.net else {
            panic!("not ipv4")
        };
        assert_eq!(checksum(ip.header().slice()), 0);
        assert_eq!(ip.header().ttl(), 64);
        assert_eq!(ip.payload().payload, &payload);
        assert_eq!(Ipv4::parse(&f), Some(p));
        // Ethernet padding of a short packet is not payload.
        let short = Ipv4 {
            payload: &payload[..8],
            ..p
        };
        let f = frame(&short);
        assert_eq!((f.len(), Ipv4::parse(&f)), (60, Some(short)));
        assert_eq!(Ipv4::parse(&f[..35]), None, "truncated");
    }

    #[test]
    fn only_echo_requests_get_replies() {
        let mut udp = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 100], 7)
            .udp(1, 2)
            .write(&mut udp, b"x")
            .unwrap();
        assert_eq!(echo_reply(&udp, B), None);
        let mut reply = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 100], 7)
            .icmpv4_echo_reply(1, 1)
            .write(&mut reply, b"x")
            .unwrap();
        assert_eq!(echo_reply(&reply, B), None);
        assert_eq!(echo_reply(&reply[..20], B), None);
    }
}
