//! Writes `examples/demo.pcap`, the peer-side traffic of `make demo` (see `examples/cluster.toml`):
//! TCP connections to the maglev service `web`, TCP connections to the round-robin service `api`,
//! UDP datagrams with session keys to the key-hash service `game`, and a handful of frames the
//! switch must not forward (ARP, ICMP echo, a closed port, a bad checksum, a fragment, TTL 1, IPv6).
//!
//! `cargo run -p anypoint-ctl --example gen_demo_pcap -- FILE` writes FILE;
//! with `--check FILE` it exits 1 if FILE differs from what it would write.

use anypoint_ctl::pcap_io::Writer;
use etherparse::PacketBuilder;
use pcap_file::DataLink;
use std::time::Duration;

const PEER_NEXT_HOP: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const SWITCH_PORT0: [u8; 6] = [0x02, 0, 0, 0, 0, 0x10];
const VIP: [u8; 4] = [10, 0, 0, 100];

/// A small deterministic generator, so the file is the same on every machine.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
}

fn peer(i: u32) -> [u8; 4] {
    [198, 51, 100 + (i / 250) as u8, 1 + (i % 250) as u8]
}

/// The TCP segments a peer sends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seg {
    Syn,
    Ack,
    Fin,
}

fn tcp(src: [u8; 4], ports: (u16, u16), seq: u32, seg: Seg, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(PEER_NEXT_HOP, SWITCH_PORT0).ipv4(src, VIP, 64);
    let mut b = b.tcp(ports.0, ports.1, seq, 64240);
    b = match seg {
        Seg::Syn => b.syn(),
        Seg::Ack => b.ack(1),
        Seg::Fin => b.ack(1).fin(),
    };
    if !payload.is_empty() {
        b = b.psh();
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).expect("builder writes to a Vec");
    out
}

fn udp(src: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(PEER_NEXT_HOP, SWITCH_PORT0)
        .ipv4(src, VIP, 64)
        .udp(sport, dport)
        .write(&mut out, payload)
        .expect("builder writes to a Vec");
    out
}

/// A TCP connection's frames from the peer: SYN, ACK, request, FIN.
fn connection(src: [u8; 4], sport: u16, dport: u16, isn: u32, request: &[u8]) -> Vec<Vec<u8>> {
    let n = request.len() as u32;
    vec![
        tcp(src, (sport, dport), isn, Seg::Syn, &[]),
        tcp(src, (sport, dport), isn + 1, Seg::Ack, &[]),
        tcp(src, (sport, dport), isn + 1, Seg::Ack, request),
        tcp(src, (sport, dport), isn + 1 + n, Seg::Fin, &[]),
    ]
}

fn frames() -> Vec<Vec<u8>> {
    let mut rng = Lcg(0x5eed);
    let mut connections: Vec<Vec<Vec<u8>>> = Vec::new();
    for i in 0..60 {
        let req = format!("GET /item/{i} HTTP/1.1\r\nHost: web.example\r\n\r\n");
        connections.push(connection(
            peer(i),
            40000 + (rng.next() % 20000) as u16,
            80,
            rng.next(),
            req.as_bytes(),
        ));
    }
    for i in 0..20 {
        let req = format!("POST /api/{i} HTTP/1.1\r\nHost: api.example\r\n\r\n");
        connections.push(connection(
            peer(100 + i),
            40000 + (rng.next() % 20000) as u16,
            8443,
            rng.next(),
            req.as_bytes(),
        ));
    }
    // Interleave connections the way concurrent clients would: round-robin over their frames.
    let mut out = Vec::new();
    let longest = connections.iter().map(Vec::len).max().unwrap_or(0);
    for step in 0..longest {
        for (c, conn) in connections.iter().enumerate() {
            if let Some(f) = conn.get(step) {
                out.push(f.clone());
            }
            // A game datagram every few frames: 10 sessions from changing source ports.
            if c % 4 == 0 {
                let session = rng.next() % 10;
                let payload = format!("sess{session:04}|move {}", rng.next() % 1000);
                out.push(udp(
                    peer(200 + session),
                    50000 + (rng.next() % 1000) as u16,
                    9000,
                    payload.as_bytes(),
                ));
            }
        }
    }
    out.extend(odd_frames());
    out
}

/// Frames that exercise the host queue and the drop counters.
fn odd_frames() -> Vec<Vec<u8>> {
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&PEER_NEXT_HOP);
    arp.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&PEER_NEXT_HOP);
    arp.extend_from_slice(&peer(1));
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&VIP);

    let mut icmp = Vec::new();
    PacketBuilder::ethernet2(PEER_NEXT_HOP, SWITCH_PORT0)
        .ipv4(peer(1), VIP, 64)
        .icmpv4_echo_request(7, 1)
        .write(&mut icmp, b"ping")
        .expect("builder writes to a Vec");

    let closed_port = tcp(peer(2), (41000, 22), 1, Seg::Syn, &[]);
    let mut bad_checksum = tcp(peer(3), (41001, 80), 1, Seg::Syn, &[]);
    bad_checksum[14 + 10] ^= 0xff;
    let mut fragment = udp(peer(4), 41002, 9000, b"sess0001|frag");
    fragment[14 + 6] |= 0x20; // more fragments
    fix_ip_checksum(&mut fragment);
    let mut ttl1 = tcp(peer(5), (41003, 80), 1, Seg::Syn, &[]);
    ttl1[14 + 8] = 1;
    fix_ip_checksum(&mut ttl1);
    let mut ipv6 = PEER_NEXT_HOP.to_vec();
    ipv6.extend_from_slice(&SWITCH_PORT0);
    ipv6.extend_from_slice(&[0x86, 0xdd]);
    ipv6.extend_from_slice(&[0x60, 0, 0, 0, 0, 0, 59, 64]);
    ipv6.extend_from_slice(&[0; 32]);
    vec![arp, icmp, closed_port, bad_checksum, fragment, ttl1, ipv6]
}

fn fix_ip_checksum(frame: &mut [u8]) {
    frame[24] = 0;
    frame[25] = 0;
    let sum: u32 = frame[14..34]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    let folded = (sum & 0xffff) + (sum >> 16);
    let c = !(((folded & 0xffff) + (folded >> 16)) as u16);
    frame[24..26].copy_from_slice(&c.to_be_bytes());
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (check, path) = match args.as_slice() {
        [path] => (false, path.clone()),
        [flag, path] if flag == "--check" => (true, path.clone()),
        _ => {
            eprintln!("usage: gen_demo_pcap [--check] FILE");
            return std::process::ExitCode::from(2);
        }
    };
    let target = std::path::PathBuf::from(&path);
    let tmp = std::env::temp_dir().join(format!("demo-{}.pcap", std::process::id()));
    let mut w = Writer::create(if check { &tmp } else { &target }, DataLink::ETHERNET)
        .expect("create pcap");
    for (i, f) in frames().iter().enumerate() {
        // 1.7e9 s: a fixed epoch; 50 us apart.
        w.write(
            Duration::from_secs(1_700_000_000) + Duration::from_micros(50 * i as u64),
            f,
        )
        .expect("write pcap");
    }
    w.finish().expect("flush pcap");
    if check {
        let fresh = std::fs::read(&tmp).expect("read back");
        let _ = std::fs::remove_file(&tmp);
        if std::fs::read(&target).ok() != Some(fresh) {
            eprintln!("{path} is stale: run `make generate` and commit it");
            return std::process::ExitCode::FAILURE;
        }
    }
    std::process::ExitCode::SUCCESS
}
