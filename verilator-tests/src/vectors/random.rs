//! A seeded mix of valid and malformed frames against a switch with all policies configured.
//!
//! Malformed frames are valid ones with one structural defect the pipeline checks for. Random byte
//! flips are avoided on purpose: the pipeline does not verify L4 checksums, so a flipped payload
//! byte would be forwarded with a wrong checksum and every forwarded frame could no longer be
//! checked for valid checksums.

use super::lab::{self, MEMBERS, PEERS, VIP};
use crate::frames::{self, Link, Tcp, ACK, FIN, L4, PSH, RST, SYN};
use crate::host::Host;
use crate::prng::Prng;
use anypoint_driver::{PolicyKind, Proto, ServiceConfig};
use std::net::{Ipv4Addr, SocketAddrV4};

const FRAMES: usize = 2000;
const SEED: u64 = 0x601d_5eed;

/// TCP services and their members' (host, port); connections are learned or placed by the ALRM.
const TCP_SERVICES: [(u16, &[u8], u16); 2] = [(80, &[1, 2, 3], 8080), (8443, &[1, 2], 9443)];
/// UDP services and their members; no connection state.
const UDP_SERVICES: [(u16, &[u8], u16); 2] = [(9000, &[11, 12], 9000), (53, &[21, 22], 53)];
/// Peers and source ports of the TCP flows: 12 per service, so the connection table (64
/// connections) cannot fill up.
const TCP_PEERS: u32 = 4;
const TCP_SPORTS: [u16; 3] = [1000, 2000, 3000];

fn configure(host: &mut Host) {
    let members = |hosts: &[u8], port| -> Vec<_> {
        hosts
            .iter()
            .map(|&n| lab::member(n, port, u32::from(n % 2) + 1))
            .collect()
    };
    let [(web, web_m, web_p), (api, api_m, api_p)] = TCP_SERVICES;
    let [(game, game_m, game_p), (dns, dns_m, dns_p)] = UDP_SERVICES;
    lab::add(
        host,
        lab::service("web", web, Proto::Tcp, PolicyKind::Maglev),
        &members(web_m, web_p),
    );
    lab::add(
        host,
        lab::service("api", api, Proto::Tcp, PolicyKind::RoundRobin),
        &members(api_m, api_p),
    );
    let game_service = ServiceConfig {
        key: Some((0, 8)),
        ..lab::service("game", game, Proto::Udp, PolicyKind::KeyHash)
    };
    lab::add(host, game_service, &members(game_m, game_p));
    lab::add(
        host,
        lab::service("dns", dns, Proto::Udp, PolicyKind::Maglev),
        &members(dns_m, dns_p),
    );
}

struct Gen(Prng);

impl Gen {
    fn link(&mut self, src: frames::Mac, dst: frames::Mac) -> Link {
        let vlan = self.0.chance(15).then(|| 1 + self.0.below(4094) as u16);
        Link { src, dst, vlan }
    }

    fn ttl(&mut self) -> u8 {
        if self.0.chance(5) {
            self.0.below(2) as u8
        } else {
            2 + self.0.below(254) as u8
        }
    }

    fn tcp(&mut self) -> L4 {
        let flags = *self.0.pick(&[
            SYN,
            SYN,
            ACK,
            ACK | PSH,
            ACK | PSH,
            FIN | ACK,
            RST,
            SYN | ACK,
        ]);
        L4::Tcp(Tcp {
            flags,
            seq: self.0.next_u64() as u32,
            ack: self.0.next_u64() as u32,
        })
    }

    fn frame(
        &mut self,
        link: &Link,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        l4: L4,
        payload: &[u8],
    ) -> Vec<u8> {
        let ip = frames::ip_header(*src.ip(), *dst.ip(), self.ttl());
        let f = frames::ipv4(link, ip, src.port(), dst.port(), l4, payload);
        if self.0.chance(15) {
            let len = f.len() + 1 + self.0.below(40) as usize;
            frames::padded(f, len)
        } else {
            f
        }
    }

    fn tcp_peer(&mut self) -> SocketAddrV4 {
        SocketAddrV4::new(
            lab::peer(self.0.below(TCP_PEERS)),
            *self.0.pick(&TCP_SPORTS),
        )
    }

    fn udp_peer(&mut self) -> SocketAddrV4 {
        SocketAddrV4::new(
            lab::peer(100 + self.0.below(20)),
            10000 + self.0.below(50000) as u16,
        )
    }

    fn payload(&mut self, max: u32) -> Vec<u8> {
        let len = self.0.below(max + 1) as usize;
        self.0.bytes(len)
    }

    /// A well-formed frame and the port it arrives on.
    fn valid(&mut self) -> (u8, Vec<u8>) {
        match self.0.below(100) {
            0..=39 => {
                let (port, _, _) = *self.0.pick(&TCP_SERVICES);
                let link = self.link(lab::PEER_ROUTER, lab::port_mac(PEERS));
                let (src, l4, payload) = (self.tcp_peer(), self.tcp(), self.payload(40));
                (
                    PEERS,
                    self.frame(&link, src, SocketAddrV4::new(VIP, port), l4, &payload),
                )
            }
            40..=59 => {
                let (port, _, _) = *self.0.pick(&UDP_SERVICES);
                let link = self.link(lab::PEER_ROUTER, lab::port_mac(PEERS));
                let src = self.udp_peer();
                let mut payload = format!("sess{:04}", self.0.below(8)).into_bytes();
                payload.truncate(self.0.below(12) as usize);
                payload.extend(self.payload(8));
                (
                    PEERS,
                    self.frame(&link, src, SocketAddrV4::new(VIP, port), L4::Udp, &payload),
                )
            }
            60..=79 => {
                let tcp = self.0.chance(50);
                let (_, hosts, port) =
                    *self.0.pick(if tcp { &TCP_SERVICES } else { &UDP_SERVICES });
                let member = SocketAddrV4::new(lab::member_addr(*self.0.pick(hosts)), port);
                let link = self.link(lab::member_mac(*member.ip()), lab::port_mac(MEMBERS));
                let (peer, l4) = if tcp {
                    (self.tcp_peer(), self.tcp())
                } else {
                    (self.udp_peer(), L4::Udp)
                };
                let payload = self.payload(30);
                (MEMBERS, self.frame(&link, member, peer, l4, &payload))
            }
            80..=89 => {
                let link = self.link(lab::PEER_ROUTER, lab::port_mac(PEERS));
                let dst = SocketAddrV4::new(
                    Ipv4Addr::new(10, 0, 0, self.0.below(256) as u8),
                    self.0.below(1024) as u16,
                );
                let l4 = if self.0.chance(50) {
                    self.tcp()
                } else {
                    L4::Udp
                };
                let (src, payload) = (self.udp_peer(), self.payload(20));
                (PEERS, self.frame(&link, src, dst, l4, &payload))
            }
            _ => {
                let p = lab::peer_link(None);
                let (src, dst) = (self.udp_peer(), SocketAddrV4::new(VIP, 80));
                let f = match self.0.below(4) {
                    0 => frames::arp_request(lab::PEER_ROUTER, *src.ip(), VIP),
                    1 => frames::ipv6_udp(&p),
                    2 => frames::icmp_echo(&p, *src.ip(), VIP),
                    _ => frames::qinq_udp(&p, src, dst),
                };
                (PEERS, f)
            }
        }
    }

    /// `f` (an IPv4 TCP/UDP frame) with one defect from the checks of docs/pipeline.md section 2.
    fn malformed(&mut self, mut f: Vec<u8>) -> Vec<u8> {
        let l3 = frames::l3_offset(&f);
        let l4 = l3 + 20;
        let ip_end = l3 + usize::from(u16::from_be_bytes([f[l3 + 2], f[l3 + 3]]));
        let tcp = f[l3 + 9] == 6;
        let l4_header = if tcp { 20 } else { 8 };
        let defect = self.0.below(11);
        match defect {
            0 => f.truncate(1 + self.0.below(l4 as u32 - 1) as usize),
            1 => f.truncate(l4 + self.0.below((ip_end - l4) as u32) as usize),
            2 => f[l3] = (*self.0.pick(&[0u8, 5, 6, 15]) << 4) | 5,
            3 => f[l3] = 0x40 | self.0.below(5) as u8,
            4 => f[l3] = 0x40 | (6 + self.0.below(10) as u8),
            5 => f[l3 + 2..l3 + 4].copy_from_slice(&(self.0.below(20) as u16).to_be_bytes()),
            6 => f[l3 + 10 + self.0.below(2) as usize] ^= 1 << self.0.below(8),
            7 => f[l3 + 6] |= 0x20 | self.0.below(32) as u8,
            8 => f[l3 + 9] = *self.0.pick(&[1u8, 2, 47, 50, 132]),
            9 => {
                let len = 20 + self.0.below(l4_header) as u16;
                f[l3 + 2..l3 + 4].copy_from_slice(&len.to_be_bytes());
            }
            _ if tcp => {
                // Below 5 words, or one word more than the segment holds where 15 can say so.
                let beyond = ((ip_end - l4) / 4 + 1) as u8;
                let offset = *self
                    .0
                    .pick(&[0, 1, 4, if beyond <= 15 { beyond } else { 4 }]);
                f[l4 + 12] = offset << 4;
            }
            _ => f[l4 + 4..l4 + 6].copy_from_slice(&(self.0.below(8) as u16).to_be_bytes()),
        }
        // The defect must be the only thing wrong, unless it is the checksum itself.
        if defect != 6 && f.len() >= l4 {
            frames::fix_ip_checksum(&mut f);
        }
        f
    }
}

pub fn run(host: &mut Host) {
    configure(host);
    let mut g = Gen(Prng::new(SEED));
    for _ in 0..FRAMES {
        let (mut port, frame) = match g.0.below(100) {
            0..=4 => {
                let len = 1 + g.0.below(64) as usize;
                (PEERS, g.0.bytes(len))
            }
            5..=34 => {
                let (port, f) = g.valid();
                let l3 = frames::l3_offset(&f);
                let ipv4 = f[l3 - 2..l3] == [0x08, 0x00];
                (port, if ipv4 { g.malformed(f) } else { f })
            }
            _ => g.valid(),
        };
        if g.0.chance(10) {
            port = g.0.below(4) as u8;
        }
        host.receive(port, &frame);
    }
}
