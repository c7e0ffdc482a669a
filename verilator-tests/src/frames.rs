//! Frames for the vectors: etherparse builds the headers (checksums included), and a few byte-level
//! edits make the malformed variants the pipeline must reject.

use etherparse::{
    ArpHardwareId, ArpOperation, ArpPacket, EtherType, IpHeaders, IpNumber, Ipv4Header,
    PacketBuilder, SlicedPacket, TcpHeader, TransportSlice, VlanId,
};
use std::net::{Ipv4Addr, SocketAddrV4};

pub type Mac = [u8; 6];

/// Ethernet addressing of a frame, with the VLAN id of an 802.1Q tag if it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub src: Mac,
    pub dst: Mac,
    pub vlan: Option<u16>,
}

/// TCP flag bits.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// A TCP segment's flags and sequence numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcp {
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    Tcp(Tcp),
    Udp,
}

/// Default TTL of built frames.
pub const TTL: u8 = 64;
/// EtherType of an 802.1Q tag.
const TPID: [u8; 2] = [0x81, 0x00];

/// An IPv4 header for [`ipv4`]; its length, protocol and checksum are set when the frame is written.
pub fn ip_header(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8) -> Ipv4Header {
    Ipv4Header::new(0, ttl, IpNumber::TCP, src.octets(), dst.octets())
        .expect("an empty payload always fits")
}

/// Ethernet (802.1Q-tagged if `link.vlan`) + `ip` + TCP or UDP + `payload`, checksums valid.
pub fn ipv4(
    link: &Link,
    ip: Ipv4Header,
    sport: u16,
    dport: u16,
    l4: L4,
    payload: &[u8],
) -> Vec<u8> {
    let ip = IpHeaders::Ipv4(ip, Default::default());
    let eth = PacketBuilder::ethernet2(link.src, link.dst);
    let step = match link.vlan {
        Some(id) => eth
            .single_vlan(VlanId::try_new(id).expect("VLAN id < 4096"))
            .ip(ip),
        None => eth.ip(ip),
    };
    let mut out = Vec::new();
    let written = match l4 {
        L4::Tcp(seg) => {
            let mut h = TcpHeader::new(sport, dport, seg.seq, 64240);
            h.acknowledgment_number = seg.ack;
            h.fin = seg.flags & FIN != 0;
            h.syn = seg.flags & SYN != 0;
            h.rst = seg.flags & RST != 0;
            h.psh = seg.flags & PSH != 0;
            h.ack = seg.flags & ACK != 0;
            step.tcp_header(h).write(&mut out, payload)
        }
        L4::Udp => step.udp(sport, dport).write(&mut out, payload),
    };
    written.expect("a frame builds into a Vec");
    out
}

pub fn tcp(link: &Link, src: SocketAddrV4, dst: SocketAddrV4, seg: Tcp, payload: &[u8]) -> Vec<u8> {
    let ip = ip_header(*src.ip(), *dst.ip(), TTL);
    ipv4(link, ip, src.port(), dst.port(), L4::Tcp(seg), payload)
}

pub fn udp(link: &Link, src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
    let ip = ip_header(*src.ip(), *dst.ip(), TTL);
    ipv4(link, ip, src.port(), dst.port(), L4::Udp, payload)
}

/// An ICMP echo request.
pub fn icmp_echo(link: &Link, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(link.src, link.dst)
        .ipv4(src.octets(), dst.octets(), TTL)
        .icmpv4_echo_request(7, 1)
        .write(&mut out, b"ping")
        .expect("a frame builds into a Vec");
    out
}

/// A broadcast ARP request from `src` asking for the MAC of `target`.
pub fn arp_request(src_mac: Mac, src: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    arp(
        ArpOperation::REQUEST,
        (src_mac, src),
        ([0; 6], target),
        [0xff; 6],
    )
}

/// The ARP reply of `sender` to `target`.
pub fn arp_reply(sender: (Mac, Ipv4Addr), target: (Mac, Ipv4Addr)) -> Vec<u8> {
    arp(ArpOperation::REPLY, sender, target, target.0)
}

fn arp(op: ArpOperation, sender: (Mac, Ipv4Addr), target: (Mac, Ipv4Addr), to: Mac) -> Vec<u8> {
    let arp = ArpPacket::new(
        ArpHardwareId::ETHERNET,
        EtherType::IPV4,
        op,
        &sender.0,
        &sender.1.octets(),
        &target.0,
        &target.1.octets(),
    )
    .expect("Ethernet/IPv4 address sizes");
    let mut out = Vec::new();
    PacketBuilder::ethernet2(sender.0, to)
        .arp(arp)
        .write(&mut out)
        .expect("a frame builds into a Vec");
    out
}

/// An IPv6 UDP datagram.
pub fn ipv6_udp(link: &Link) -> Vec<u8> {
    let mut src = [0u8; 16];
    src[..2].copy_from_slice(&[0x20, 0x01]);
    src[15] = 1;
    let mut dst = src;
    dst[15] = 2;
    let mut out = Vec::new();
    PacketBuilder::ethernet2(link.src, link.dst)
        .ipv6(src, dst, TTL)
        .udp(5353, 5353)
        .write(&mut out, b"v6")
        .expect("a frame builds into a Vec");
    out
}

/// A UDP datagram behind two VLAN tags (outer TPID 0x88a8, as etherparse writes QinQ).
pub fn qinq_udp(link: &Link, src: SocketAddrV4, dst: SocketAddrV4) -> Vec<u8> {
    let id = |v| VlanId::try_new(v).expect("VLAN id < 4096");
    let mut out = Vec::new();
    PacketBuilder::ethernet2(link.src, link.dst)
        .double_vlan(id(10), id(20))
        .ipv4(src.ip().octets(), dst.ip().octets(), TTL)
        .udp(src.port(), dst.port())
        .write(&mut out, b"qinq")
        .expect("a frame builds into a Vec");
    out
}

/// Offset of the IPv4 header: after the Ethernet header and the 802.1Q tag if there is one.
pub fn l3_offset(frame: &[u8]) -> usize {
    if frame[12..14] == TPID {
        18
    } else {
        14
    }
}

/// Rewrites the IPv4 header checksum (RFC 1071 over the 20 bytes at [`l3_offset`]) after a header
/// edit, so that only the edit itself can make the pipeline reject the frame.
pub fn fix_ip_checksum(frame: &mut [u8]) {
    let l3 = l3_offset(frame);
    frame[l3 + 10..l3 + 12].fill(0);
    let sum = frame[l3..l3 + 20]
        .chunks_exact(2)
        .fold(0u32, |s, w| s + u32::from(u16::from_be_bytes([w[0], w[1]])));
    let folded = (sum & 0xffff) + (sum >> 16);
    let folded = (folded & 0xffff) + (folded >> 16);
    frame[l3 + 10..l3 + 12].copy_from_slice(&(!(folded as u16)).to_be_bytes());
}

/// Sets the IPv4 total length field and fixes the header checksum.
pub fn set_total_len(frame: &mut [u8], len: u16) {
    let l3 = l3_offset(frame);
    frame[l3 + 2..l3 + 4].copy_from_slice(&len.to_be_bytes());
    fix_ip_checksum(frame);
}

/// `frame` extended to `len` bytes with Ethernet padding. The pattern is not zero so that a
/// datapath that wrongly sums or rewrites padding shows up.
pub fn padded(mut frame: Vec<u8>, len: usize) -> Vec<u8> {
    frame.resize(len.max(frame.len()), 0xa5);
    frame
}

/// Source and destination of a TCP or UDP frame.
pub fn endpoints(frame: &[u8]) -> Option<(SocketAddrV4, SocketAddrV4)> {
    let p = SlicedPacket::from_ethernet(frame).ok()?;
    let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
        return None;
    };
    let (sport, dport) = match p.transport? {
        TransportSlice::Tcp(t) => (t.source_port(), t.destination_port()),
        TransportSlice::Udp(u) => (u.source_port(), u.destination_port()),
        _ => return None,
    };
    let h = ip.header();
    Some((
        SocketAddrV4::new(h.source_addr(), sport),
        SocketAddrV4::new(h.destination_addr(), dport),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: Link = Link {
        src: [2, 0, 0, 0, 0, 1],
        dst: [2, 0, 0, 0, 0, 2],
        vlan: None,
    };

    fn addr(last: u8, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, last), port)
    }

    #[test]
    fn tagged_frames_carry_the_tag_and_parse_back() {
        let tagged = Link {
            vlan: Some(100),
            ..LINK
        };
        let seg = Tcp {
            flags: SYN,
            seq: 1,
            ack: 0,
        };
        let f = tcp(&tagged, addr(1, 1000), addr(2, 80), seg, b"");
        assert_eq!(f[12..16], [0x81, 0x00, 0x00, 100]);
        assert_eq!(l3_offset(&f), 18);
        assert_eq!(f[18 + 9], 6);
        assert_eq!(f[18 + 20 + 13], SYN);
        assert_eq!(endpoints(&f), Some((addr(1, 1000), addr(2, 80))));
    }

    #[test]
    fn fix_ip_checksum_restores_what_the_builder_wrote() {
        let f = udp(&LINK, addr(1, 53), addr(2, 53), b"x");
        let mut g = f.clone();
        g[14 + 10] ^= 0xff;
        fix_ip_checksum(&mut g);
        assert_eq!(f, g);
    }

    #[test]
    fn padding_follows_the_ip_packet_and_is_ignored_by_endpoints() {
        let f = padded(udp(&LINK, addr(1, 53), addr(2, 53), b""), 60);
        assert_eq!(f.len(), 60);
        assert_eq!(f[59], 0xa5);
        assert_eq!(endpoints(&f), Some((addr(1, 53), addr(2, 53))));
    }
}
