//! Line-rate traffic of `rtl-bench` and `tests/rtl_line_rate.rs`: tables in which every frame a port
//! receives is a TCP ACK of an established connection, so every frame does a connection-table hit and
//! an inbound rewrite, and port p's frames leave on port p + 1 (mod the ports), so no egress port is
//! oversubscribed when every port receives at once.

use anypoint_model::hash::tuple_hash;
use anypoint_model::regs::reg;
use anypoint_model::{FiveTuple, Geometry, HashKey};

/// The SipHash key the tables are placed with.
pub const KEY: HashKey = HashKey([0x0123_4567, 0x89ab_cdef, 0x0f1e_2d3c, 0x4b5a_6978]);

/// The service's VIP; every flow's destination.
pub const VIP: u32 = 0x0a00_0064;

/// The register writes that program the tables, and per ingress port the flows (established
/// connections, up to 12) whose frames it receives.
pub struct Tables {
    pub writes: Vec<(u32, u32)>,
    pub flows: Vec<Vec<FiveTuple>>,
}

fn tbl(writes: &mut Vec<(u32, u32)>, table: u32, index: u32, words: &[u32]) {
    for (i, w) in words.iter().enumerate() {
        writes.push((reg::TBL_WDATA + 4 * i as u32, *w));
    }
    writes.push((reg::TBL_CMD, 1 << 30 | table << 24 | index));
}

/// The egress port of frames received on `port`.
pub fn egress_of(g: &Geometry, port: u8) -> u8 {
    (port + 1) % g.ports
}

/// Tables for geometry `g`: every port enabled with a valid next hop; member m active, behind port
/// m + 1; per port up to 12 inbound connections to the VIP (member = the port), each placed in a free
/// way of one of its two cuckoo buckets.
pub fn tables(g: &Geometry) -> Tables {
    let mut writes = Vec::new();
    for (i, w) in KEY.0.iter().enumerate() {
        writes.push((reg::HASH_KEY + 4 * i as u32, *w));
    }
    let ports = u32::from(g.ports);
    for p in 0..ports {
        tbl(
            &mut writes,
            0,
            p,
            &[0x0000_0010 + p, 0x0002 | 1 << 16, 0x1, 0x0002 | 1 << 16],
        );
    }
    // Member m is reached through port m + 1.
    for m in 0..ports {
        let w1 = 8080 | ((m + 1) % ports) << 16 | 1 << 20;
        tbl(
            &mut writes,
            2,
            m,
            &[0x0a01_0000 + m, w1, 0x0000_0020 + m, 0x0002 | 1 << 16],
        );
    }
    let b = u32::from(g.conn_buckets_log2);
    let mask = (1u32 << b) - 1;
    let mut used = vec![false; 8 << b];
    let mut flows: Vec<Vec<FiveTuple>> = vec![Vec::new(); usize::from(g.ports)];
    for p in 0..ports {
        let mut sport = 1000u16;
        while flows[p as usize].len() < 12 && sport < 2000 {
            let t = FiveTuple {
                src_ip: 0xc633_6400 + p,
                dst_ip: VIP,
                src_port: sport,
                dst_port: 80,
                proto: 6,
            };
            sport += 1;
            let h = tuple_hash(&KEY, &t);
            let cands = [h as u32 & mask, (h >> 32) as u32 & mask];
            let slot = (0..2u32)
                .flat_map(|bank| (0..4u32).map(move |w| (bank, w)))
                .find_map(|(bank, w)| {
                    let i = (bank << (b + 2) | cands[bank as usize] << 2 | w) as usize;
                    (!used[i]).then_some(i)
                });
            let Some(i) = slot else { continue };
            used[i] = true;
            let words = [
                t.src_ip,
                t.dst_ip,
                u32::from(t.src_port) << 16 | u32::from(t.dst_port),
                6 | 1 << 31,
                p,
            ];
            tbl(&mut writes, 3, i as u32, &words);
            flows[p as usize].push(t);
        }
    }
    Tables { writes, flows }
}

/// A TCP ACK of `size` bytes (Ethernet header included, no FCS; at least 54) for `t`, zero payload.
pub fn frame(t: &FiveTuple, size: usize, dst_mac: u8) -> Vec<u8> {
    let mut f = vec![0u8; size];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, dst_mac]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0xee]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let total = (size - 14) as u16;
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&t.src_ip.to_be_bytes());
    ip[16..20].copy_from_slice(&t.dst_ip.to_be_bytes());
    let sum = crate::scoreboard::ip_checksum(ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let l4 = &mut f[34..54];
    l4[0..2].copy_from_slice(&t.src_port.to_be_bytes());
    l4[2..4].copy_from_slice(&t.dst_port.to_be_bytes());
    l4[12] = 0x50;
    l4[13] = 0x10;
    f
}
