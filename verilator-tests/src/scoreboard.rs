//! Seeded random scoreboard: the same register writes and frames go to the model and to the
//! Verilated RTL, and every output is compared bit for bit.
//!
//! Tables are filled with random contents through the register interface (services, members, ports,
//! indirection slots, connection entries placed in their cuckoo buckets, full buckets included) and
//! changed between batches of frames. Frames are valid TCP/UDP with random VLAN tags, TTLs, flags and
//! sizes, or carry one defect of every kind the parser checks (every reason code is reached). The RTL
//! runs each batch with random ingress gaps and egress backpressure. Order: each ingress source (an
//! Ethernet port or host inject) has its own pipeline, whose forwarded frames and host records leave
//! in its arrival order, and the round-robin arbiters of every egress port and of the host queue only
//! interleave whole frames of different sources; so on every egress port and on the host queue the
//! frames of each source must come out exactly in the model's order, and the stream must be an
//! interleaving of those per-source sequences and nothing else ([`check_stream`]). A batch from one
//! port or from inject is therefore compared in exact order. The AXI-Stream hold rule is checked on
//! every output under backpressure (`RtlSwitch::hold_violation`). Counters and the activity bitmap are
//! compared every few batches and at the end; the per-reason counters add up into
//! [`Summary::reason_counts`].

use crate::rtl::{RtlSwitch, Stress, Width, GEOMETRY};
use anypoint_model::hash::tuple_hash;
use anypoint_model::regs::{ctr, reg, region};
use anypoint_model::{FiveTuple, Geometry, HashKey, Switch};
use std::fmt::Write as _;

/// splitmix64.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Table sizes of the geometry under test.
#[derive(Clone, Copy, Debug)]
struct Dims {
    services: u32,
    members: u32,
    ports: u32,
    conn_buckets_log2: u32,
    conn_entries: u32,
    indir_slots: u32,
    /// Indirection slots written at the start: all of them, or (large memories) every service's
    /// range and this many more at random.
    indir_initial: Option<u32>,
}

impl Dims {
    fn new(g: Geometry) -> Dims {
        let indir_slots = 1u32 << g.indir_slots_log2;
        Dims {
            services: u32::from(g.services),
            members: u32::from(g.members),
            ports: u32::from(g.ports),
            conn_buckets_log2: u32::from(g.conn_buckets_log2),
            conn_entries: 8 << g.conn_buckets_log2,
            indir_slots,
            indir_initial: (indir_slots > 4096).then_some(1024),
        }
    }
}

/// Addresses and ports the tables and the traffic draw from, so that lookups hit.
struct Pools {
    ips: Vec<u32>,
    l4ports: Vec<u16>,
    tuples: Vec<FiveTuple>,
}

impl Pools {
    fn new(rng: &mut Rng) -> Pools {
        let ips = (0..12)
            .map(|_| 0x0a00_0000 | rng.below(64) as u32)
            .collect();
        let l4ports = vec![53, 80, 443, 1000, 2000, 8080, 9000, rng.below(65536) as u16];
        let mut p = Pools {
            ips,
            l4ports,
            tuples: Vec::new(),
        };
        p.tuples = (0..48).map(|_| p.tuple(rng)).collect();
        p
    }
    fn tuple(&self, rng: &mut Rng) -> FiveTuple {
        FiveTuple {
            src_ip: rng.pick(&self.ips),
            dst_ip: rng.pick(&self.ips),
            src_port: rng.pick(&self.l4ports),
            dst_port: rng.pick(&self.l4ports),
            proto: if rng.chance(50) { 6 } else { 17 },
        }
    }
}

/// A register write or read, applied to both sides.
#[derive(Clone, Copy, Debug)]
enum Op {
    W(u32, u32),
}

fn table_write(ops: &mut Vec<Op>, table: u32, index: u32, words: &[u32]) {
    for (i, w) in words.iter().enumerate() {
        ops.push(Op::W(reg::TBL_WDATA + 4 * i as u32, *w));
    }
    ops.push(Op::W(reg::TBL_CMD, 1 << 30 | table << 24 | index));
}

fn random_port(rng: &mut Rng, ops: &mut Vec<Op>, p: u32) {
    let w1 = (rng.next_u64() as u32 & 0xffff)
        | u32::from(rng.chance(90)) << 16
        | u32::from(rng.chance(20)) << 17;
    let w3 = (rng.next_u64() as u32 & 0xffff) | u32::from(rng.chance(85)) << 16;
    table_write(
        ops,
        0,
        p,
        &[rng.next_u64() as u32, w1, rng.next_u64() as u32, w3],
    );
}

/// Low table indices are often unused in large tables, so that matches also pick high ones (the
/// lowest matching index wins).
fn low_half_unused(rng: &mut Rng, index: u32, size: u32) -> bool {
    size > 64 && index < size / 2 && rng.chance(60)
}

/// Writes service `s`; returns the part of its indirection range to fill (first slot, at most 32 slots).
fn random_service(rng: &mut Rng, d: &Dims, pools: &Pools, ops: &mut Vec<Op>, s: u32) -> (u32, u32) {
    let proto = if rng.chance(90) {
        rng.pick(&[6u32, 17])
    } else {
        rng.below(256) as u32
    };
    let policy = if rng.chance(85) {
        rng.pick(&[1u32, 1, 2, 2, 3])
    } else {
        rng.below(8) as u32
    };
    let mut w1 = u32::from(rng.pick(&pools.l4ports))
        | proto << 16
        | policy << 24
        | u32::from(rng.chance(80) && !low_half_unused(rng, s, d.services)) << 31;
    let log2 = if rng.chance(90) {
        rng.below(9) as u32
    } else {
        rng.below(32) as u32
    };
    let base = if rng.chance(90) {
        rng.below(u64::from(d.indir_slots)) as u32
    } else {
        rng.below(65536) as u32
    };
    let w2 = base | log2 << 16 | (rng.below(8) as u32) << 24;
    // Key window within the first 64 payload bytes (the host guarantees offset + len <= 64).
    let len = rng.below(20) as u32;
    let off = rng.below(u64::from(65 - len.min(64))) as u32;
    let w3 = off | len << 8;
    let vip = if rng.chance(70) {
        let t = rng.pick(&pools.tuples);
        w1 = (w1 & !0x00ff_ffff) | u32::from(t.dst_port) | u32::from(t.proto) << 16;
        t.dst_ip
    } else {
        rng.pick(&pools.ips)
    };
    table_write(ops, 1, s, &[vip, w1, w2, w3]);
    (base, 1 << log2.min(5))
}

fn random_member(rng: &mut Rng, d: &Dims, pools: &Pools, ops: &mut Vec<Op>, m: u32) {
    let state = if low_half_unused(rng, m, d.members) {
        0
    } else if rng.chance(70) {
        1
    } else {
        rng.below(4) as u32
    };
    let service = if rng.chance(90) {
        rng.below(u64::from(d.services)) as u32
    } else {
        rng.below(256) as u32
    };
    let w1 = u32::from(rng.pick(&pools.l4ports))
        | (rng.below(8) as u32) << 16
        | state << 20
        | service << 24;
    let w3 = (rng.next_u64() as u32 & 0xffff) | u32::from(rng.chance(85)) << 16;
    let (addr, w1) = if rng.chance(60) {
        let t = rng.pick(&pools.tuples);
        let (ip, port) = if rng.chance(50) {
            (t.src_ip, t.src_port)
        } else {
            (t.dst_ip, t.dst_port)
        };
        (ip, (w1 & !0xffff) | u32::from(port))
    } else {
        (rng.pick(&pools.ips), w1)
    };
    table_write(ops, 2, m, &[addr, w1, rng.next_u64() as u32, w3]);
}

fn random_indir(rng: &mut Rng, d: &Dims, ops: &mut Vec<Op>, slot: u32) {
    let member = if rng.chance(90) {
        rng.below(u64::from(d.members)) as u32
    } else {
        rng.below(65536) as u32
    };
    let v = member | u32::from(rng.chance(85)) << 31 | (rng.next_u64() as u32 & 0x7fff_0000);
    ops.push(Op::W(region::INDIR + 4 * slot, v));
}

/// A connection entry for `t` in one of its two candidate buckets (random way), or anywhere.
fn random_conn(rng: &mut Rng, d: &Dims, key: &HashKey, pools: &Pools, ops: &mut Vec<Op>) {
    let t = if rng.chance(80) {
        rng.pick(&pools.tuples)
    } else {
        pools.tuple(rng)
    };
    let h = tuple_hash(key, &t);
    let b = d.conn_buckets_log2;
    let mask = (1u32 << b) - 1;
    let bank = rng.below(2) as u32;
    let bucket = if bank == 0 {
        h as u32
    } else {
        (h >> 32) as u32
    } & mask;
    let way = rng.below(4) as u32;
    let index = if rng.chance(90) {
        bank << (b + 2) | bucket << 2 | way
    } else {
        rng.below(u64::from(d.conn_entries)) as u32
    };
    let w3 = u32::from(t.proto)
        | (rng.below(24) as u32) << 16
        | (rng.below(8) as u32) << 24
        | u32::from(rng.chance(50)) << 30
        | u32::from(rng.chance(90)) << 31;
    let member = if rng.chance(90) {
        rng.below(u64::from(d.members)) as u32
    } else {
        rng.below(65536) as u32
    };
    let words = [
        t.src_ip,
        t.dst_ip,
        u32::from(t.src_port) << 16 | u32::from(t.dst_port),
        w3,
        member,
    ];
    if rng.chance(5) {
        ops.push(Op::W(reg::TBL_CMD, 3 << 30 | 3 << 24 | index));
    } else {
        table_write(ops, 3, index, &words);
    }
}

/// Writes every table; returns the services' indirection ranges.
fn initial_tables(
    rng: &mut Rng,
    d: &Dims,
    key: &HashKey,
    pools: &Pools,
    ops: &mut Vec<Op>,
) -> Vec<(u32, u32)> {
    for (i, w) in key.0.iter().enumerate() {
        ops.push(Op::W(reg::HASH_KEY + 4 * i as u32, *w));
    }
    for p in 0..d.ports {
        random_port(rng, ops, p);
    }
    let ranges: Vec<(u32, u32)> = (0..d.services)
        .map(|s| random_service(rng, d, pools, ops, s))
        .collect();
    for m in 0..d.members {
        random_member(rng, d, pools, ops, m);
    }
    match d.indir_initial {
        None => {
            for slot in 0..d.indir_slots {
                random_indir(rng, d, ops, slot);
            }
        }
        Some(extra) => {
            let mut slots: Vec<u32> = ranges
                .iter()
                .flat_map(|&(base, n)| base..(base + n).min(d.indir_slots))
                .collect();
            slots.extend((0..extra).map(|_| rng.below(u64::from(d.indir_slots)) as u32));
            slots.sort_unstable();
            slots.dedup();
            for slot in slots {
                random_indir(rng, d, ops, slot);
            }
        }
    }
    for _ in 0..200 {
        random_conn(rng, d, key, pools, ops);
    }
    ranges
}

/// An indirection slot to rewrite: anywhere, or (large memories) often in a service's range.
fn update_slot(rng: &mut Rng, d: &Dims, ranges: &[(u32, u32)], pick: u64) -> u32 {
    if d.indir_initial.is_some() && rng.chance(70) {
        let (base, n) = rng.pick(ranges);
        (base + (pick % u64::from(n)) as u32) % d.indir_slots
    } else {
        (pick % u64::from(d.indir_slots)) as u32
    }
}

fn random_update(
    rng: &mut Rng,
    d: &Dims,
    key: &HashKey,
    pools: &Pools,
    ranges: &mut [(u32, u32)],
    ops: &mut Vec<Op>,
) {
    let which = rng.below(10);
    let pick = rng.next_u64();
    match which {
        0 => random_port(rng, ops, (pick % u64::from(d.ports)) as u32),
        1 => {
            let s = (pick % u64::from(d.services)) as u32;
            ranges[s as usize] = random_service(rng, d, pools, ops, s);
        }
        2 | 3 => random_member(rng, d, pools, ops, (pick % u64::from(d.members)) as u32),
        4 | 5 => {
            let slot = update_slot(rng, d, ranges, pick);
            random_indir(rng, d, ops, slot);
        }
        6 => ops.push(Op::W(
            reg::MAX_FRAME,
            rng.pick(&[9022, 9022, 1514, 1000, 64, 65535, 100_000]),
        )),
        _ => random_conn(rng, d, key, pools, ops),
    }
}

fn be16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// The IPv4 header checksum of `h` (its checksum field as it stands counts: zero it first).
pub fn ip_checksum(h: &[u8]) -> u16 {
    let mut s: u32 = h
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// A random frame: mostly well-formed TCP/UDP on a pool tuple, sometimes with one defect.
fn random_frame(rng: &mut Rng, pools: &Pools, max_payload: usize) -> Vec<u8> {
    let t = if rng.chance(85) {
        let mut t = rng.pick(&pools.tuples);
        if rng.chance(30) {
            t = t.reversed();
        }
        t
    } else {
        pools.tuple(rng)
    };
    let mut f = Vec::with_capacity(128);
    f.extend_from_slice(&rng.next_u64().to_be_bytes()[..6]);
    f.extend_from_slice(&rng.next_u64().to_be_bytes()[..6]);
    let vlan = rng.chance(20);
    if vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        be16_push(&mut f, rng.below(65536) as u16);
    }
    let ethertype = match rng.below(100) {
        0..=1 => 0x0806,
        2..=3 => 0x86dd,
        4 => 0x8100,
        5 => 0x88a8,
        6 => rng.below(65536) as u16,
        _ => 0x0800,
    };
    be16_push(&mut f, ethertype);
    let l3 = f.len();
    let proto = match rng.below(100) {
        0..=3 => rng.pick(&[1u8, 47, 50, 0, 255]),
        _ => t.proto,
    };
    let payload_len = match rng.below(100) {
        0..=59 => rng.below(40) as usize,
        60..=89 => rng.below(300) as usize,
        90..=98 => rng.below(1500) as usize,
        _ => rng.below(max_payload as u64 + 1) as usize,
    };
    let opts = if rng.chance(3) {
        4 * (1 + rng.below(10) as usize)
    } else {
        0
    };
    let l4_hdr = if proto == 6 {
        20 + if rng.chance(10) {
            4 * rng.below(11) as usize
        } else {
            0
        }
    } else {
        8
    };
    let total = 20 + opts + l4_hdr + payload_len;
    let mut ip = vec![0u8; 20 + opts];
    ip[0] = 0x40 | (5 + opts / 4) as u8;
    ip[1] = rng.below(256) as u8;
    be16(&mut ip, 2, total as u16);
    be16(&mut ip, 4, rng.below(65536) as u16);
    let frag = match rng.below(100) {
        0..=2 => 0x2000,
        3..=4 => 1 + rng.below(0x1fff) as u16,
        5..=30 => 0x4000,
        _ => 0,
    };
    be16(&mut ip, 6, frag);
    ip[8] = if rng.chance(5) {
        rng.below(3) as u8
    } else {
        rng.below(256) as u8
    };
    ip[9] = proto;
    ip[12..16].copy_from_slice(&t.src_ip.to_be_bytes());
    ip[16..20].copy_from_slice(&t.dst_ip.to_be_bytes());
    for b in ip[20..].iter_mut() {
        *b = rng.below(256) as u8;
    }
    let c = ip_checksum(&ip[..20 + opts]);
    be16(&mut ip, 10, c);
    match rng.below(100) {
        0 => ip[0] = (rng.below(16) as u8) << 4 | (ip[0] & 0x0f),
        1 => ip[0] = 0x40 | rng.below(5) as u8,
        2 => ip[10] ^= 1 << rng.below(8),
        3 => be16(&mut ip, 2, rng.below(65536) as u16),
        4 => be16(&mut ip, 2, rng.below(20) as u16),
        _ => {}
    }
    if ip[0] & 0x0f != (5 + opts / 4) as u8 || rng.chance(1) {
        // keep the checksum consistent with the defect only sometimes
        if rng.chance(50) {
            ip[10] = 0;
            ip[11] = 0;
            let c = ip_checksum(&ip[..20]);
            be16(&mut ip, 10, c);
        }
    }
    f.extend_from_slice(&ip);
    let l4 = f.len();
    let mut l4b = vec![0u8; l4_hdr];
    be16(&mut l4b, 0, t.src_port);
    be16(&mut l4b, 2, t.dst_port);
    if proto == 6 {
        l4b[12] = ((l4_hdr / 4) as u8) << 4;
        if rng.chance(3) {
            l4b[12] = (rng.below(16) as u8) << 4;
        }
        let any = rng.below(256) as u8;
        l4b[13] = rng.pick(&[0x02u8, 0x02, 0x12, 0x10, 0x18, 0x11, 0x04, any]);
        be16(&mut l4b, 16, rng.below(65536) as u16);
    } else if proto == 17 {
        let ulen = 8 + payload_len as u16;
        be16(&mut l4b, 4, ulen);
        if rng.chance(3) {
            be16(&mut l4b, 4, rng.below(65536) as u16);
        }
        let csum = if rng.chance(20) {
            0
        } else {
            rng.below(65536) as u16
        };
        be16(&mut l4b, 6, csum);
    }
    f.extend_from_slice(&l4b);
    for _ in 0..payload_len {
        f.push(rng.below(256) as u8);
    }
    let _ = (l3, l4);
    // Ethernet padding, truncation, runts.
    match rng.below(100) {
        0..=9 => {
            let pad = rng.below(40) as usize;
            f.extend((0..pad).map(|_| rng.below(256) as u8));
        }
        10..=13 => {
            let n = rng.below(f.len() as u64) as usize;
            f.truncate(n);
        }
        14 => f.truncate(rng.below(20) as usize),
        _ => {}
    }
    if f.len() < 60 && rng.chance(70) {
        f.resize(60, 0);
    }
    f
}

fn be16_push(f: &mut Vec<u8>, v: u16) {
    f.extend_from_slice(&v.to_be_bytes());
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

/// The seed from `ANYPOINT_SEED` (hex; `random` for a fresh one), else `default`.
pub fn env_seed(default: u64) -> u64 {
    match std::env::var("ANYPOINT_SEED").ok().as_deref() {
        None => default,
        Some("random") => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
        Some(s) => u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("ANYPOINT_SEED: hex"),
    }
}

/// The frame count from `ANYPOINT_PACKETS`, else `default`.
pub fn env_packets(default: u64) -> u64 {
    std::env::var("ANYPOINT_PACKETS")
        .ok()
        .map(|s| s.parse().expect("ANYPOINT_PACKETS: a number"))
        .unwrap_or(default)
}

/// Where a frame entered the pipeline: an Ethernet ingress port, or the host inject stream. Each has
/// its own pipeline in `anypoint_top`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    Port(u8),
    Inject,
}

/// Checks one output stream (an egress port or the host queue): `got`, the RTL's frames in the order
/// they left, must be an interleaving of the per-source sequences of `exp`, the model's frames for
/// this stream with their sources, in the model's order. That is exactly what the RTL guarantees:
/// each source's pipeline emits in arrival order, and an arbiter interleaves whole frames of different
/// sources in an order that depends on timing. Missing, extra, duplicated or reordered frames of one
/// source all fail. (Identical frames of two sources make the split ambiguous: every split is tried.)
pub fn check_stream(exp: &[(Source, &[u8])], got: &[&[u8]]) -> Result<(), String> {
    let mut sources: Vec<Source> = exp.iter().map(|e| e.0).collect();
    sources.sort_unstable();
    sources.dedup();
    let queues: Vec<Vec<&[u8]>> = sources
        .iter()
        .map(|s| exp.iter().filter(|e| e.0 == *s).map(|e| e.1).collect())
        .collect();
    let mut budget = 1_000_000u64;
    let mut furthest = 0;
    let mut heads = vec![0usize; queues.len()];
    if interleaves(&queues, &mut heads, got, 0, &mut budget, &mut furthest) {
        return Ok(());
    }
    let mut msg = format!(
        "{} frames from the RTL, {} from the model; the RTL's frames fit the model's per-source order \
         only up to output {furthest}",
        got.len(),
        exp.len()
    );
    match got.get(furthest) {
        Some(f) => {
            let _ = write!(msg, ", whose frame is {}", hex(f));
        }
        None => msg.push_str(", after which the RTL sent nothing more"),
    }
    msg.push_str("; model frames per source:");
    for (s, q) in sources.iter().zip(&queues) {
        let _ = write!(msg, "\n    {s:?}: {} frames", q.len());
    }
    if budget == 0 {
        msg.push_str(" (search budget exhausted)");
    }
    Err(msg)
}

/// [`check_stream`] on every egress port below `ports` and on the host queue: the model's frames
/// with their sources (`exp_egress` with their egress port) against the RTL's. One line per stream
/// that does not fit.
pub fn check_outputs(
    ports: u8,
    exp_egress: &[(u8, Source, Vec<u8>)],
    exp_host: &[(Source, Vec<u8>)],
    got_egress: &[(u8, Vec<u8>)],
    got_host: &[Vec<u8>],
) -> Vec<String> {
    let mut problems = Vec::new();
    for p in 0..ports {
        let exp: Vec<(Source, &[u8])> = exp_egress
            .iter()
            .filter(|e| e.0 == p)
            .map(|e| (e.1, &e.2[..]))
            .collect();
        let got: Vec<&[u8]> = got_egress
            .iter()
            .filter(|g| g.0 == p)
            .map(|g| &g.1[..])
            .collect();
        if let Err(e) = check_stream(&exp, &got) {
            problems.push(format!("egress port {p}: {e}"));
        }
    }
    let exp: Vec<(Source, &[u8])> = exp_host.iter().map(|h| (h.0, &h.1[..])).collect();
    let got: Vec<&[u8]> = got_host.iter().map(|h| &h[..]).collect();
    if let Err(e) = check_stream(&exp, &got) {
        problems.push(format!("host queue: {e}"));
    }
    if got_egress.iter().any(|g| g.0 >= ports) {
        problems.push("a frame on an egress port the switch does not have".into());
    }
    problems
}

/// True when `got[at..]` interleaves the rest of `queues` (from `heads`).
fn interleaves(
    queues: &[Vec<&[u8]>],
    heads: &mut [usize],
    got: &[&[u8]],
    mut at: usize,
    budget: &mut u64,
    furthest: &mut usize,
) -> bool {
    loop {
        *furthest = (*furthest).max(at);
        if at == got.len() {
            return heads.iter().zip(queues).all(|(h, q)| *h == q.len());
        }
        let mut cands = (0..queues.len())
            .filter(|&s| heads[s] < queues[s].len() && queues[s][heads[s]] == got[at]);
        let Some(first) = cands.next() else {
            return false;
        };
        let rest: Vec<usize> = cands.collect();
        if rest.is_empty() {
            heads[first] += 1;
            at += 1;
            continue;
        }
        for s in std::iter::once(first).chain(rest) {
            if *budget == 0 {
                return false;
            }
            *budget -= 1;
            let mut h = heads.to_vec();
            h[s] += 1;
            if interleaves(queues, &mut h, got, at + 1, budget, furthest) {
                return true;
            }
        }
        return false;
    }
}

/// How to rerun a scoreboard with an FST waveform: tracing is compiled in only by a build with
/// `ANYPOINT_TRACE=1` (build.rs, csrc/shim.cpp), kept in a target directory of its own so that it does
/// not replace the normal build. `packets`: stop after the batch that failed.
fn fst_hint(test: &str, seed: u64, packets: u64, width: Width) -> String {
    format!(
        "  to dump an FST waveform of this run up to here, from the repository root (a separate build \
         with tracing compiled in; ANYPOINT_FST alone only works in such a build):\n    \
         ANYPOINT_TRACE=1 CARGO_TARGET_DIR=target/trace ANYPOINT_SEED={seed:#x} \
         ANYPOINT_PACKETS={packets} ANYPOINT_FST=/tmp/anypoint-{}-{seed:x}.fst \
         cargo test --release -p verilator-tests {test}\n",
        width.bits()
    )
}

/// Outcome of a scoreboard run.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub frames: u64,
    pub egress: u64,
    pub host: u64,
    /// Per reason code: the model's host records (punts, learn and state records) naming it.
    pub host_reason_counts: [u64; 32],
    /// Per reason code: the model's per-reason counter (punts, drops, learn and state records) summed
    /// over the run. Each value was compared equal with the RTL's counter before any `CTR_CLEAR`.
    pub reason_counts: [u64; 32],
    pub cycles: u64,
    /// Highest service and member that exist named by a host record.
    pub max_service: u16,
    pub max_member: u16,
}

impl Summary {
    /// Reason codes named by the model's host records (bit per code).
    pub fn reasons_seen(&self) -> u32 {
        (0..32)
            .filter(|&c| self.host_reason_counts[c] > 0)
            .fold(0, |m, c| m | 1 << c)
    }
}

/// Runs `packets` random frames (plus injects) at `width` with random stalls from `seed`, on the
/// test geometry. `fst`: write a waveform of the RTL run there.
pub fn run(width: Width, seed: u64, packets: u64, fst: Option<&str>) -> Result<Summary, String> {
    let test = format!(
        "--test rtl_random -- --exact random_scoreboard_{}",
        width.bits()
    );
    run_on(RtlSwitch::new(width), GEOMETRY, seed, packets, fst, &test)
}

/// [`run`] on the 64-bit build of the model's default geometry (`Geometry::default()`: 64 services,
/// 1024 members, 2 x 8192 x 4 connection entries, 65536 indirection slots), the daemon's `rtl`
/// backend. Large tables leave low indices often unused, so that matches and indirection slots pick
/// high members and services too.
#[cfg(feature = "replay-geometry")]
pub fn run_default_geometry(seed: u64, packets: u64, fst: Option<&str>) -> Result<Summary, String> {
    run_on(
        RtlSwitch::with_default_geometry(),
        Geometry::default(),
        seed,
        packets,
        fst,
        "--features replay-geometry --test rtl_default_geometry -- --exact \
         default_geometry_random_scoreboard",
    )
}

fn run_on(
    mut rtl: RtlSwitch,
    geometry: Geometry,
    seed: u64,
    packets: u64,
    fst: Option<&str>,
    test: &str,
) -> Result<Summary, String> {
    assert_eq!(rtl.geometry(), geometry);
    let width = rtl.width();
    let d = Dims::new(geometry);
    let mut rng = Rng::new(seed);
    let mut model = Switch::new(geometry);
    if let Some(path) = fst {
        rtl.trace(path);
    }
    rtl.set_stress(Stress {
        ingress_gap_pct: 20,
        egress_stall_pct: 20,
        seed,
    });
    let key = HashKey([
        rng.next_u64() as u32,
        rng.next_u64() as u32,
        rng.next_u64() as u32,
        rng.next_u64() as u32,
    ]);
    let pools = Pools::new(&mut rng);
    let mut ops = Vec::new();
    let mut ranges = initial_tables(&mut rng, &d, &key, &pools, &mut ops);
    let apply = |ops: &mut Vec<Op>, model: &mut Switch, rtl: &mut RtlSwitch| {
        for op in ops.drain(..) {
            match op {
                Op::W(a, v) => {
                    model.write32(a, v);
                    rtl.write32(a, v);
                }
            }
        }
    };
    apply(&mut ops, &mut model, &mut rtl);

    let mut summary = Summary::default();
    let mut tally = ReasonTally::default();
    let (mut max_service, mut max_member) = (0u16, 0u16);
    let mut batch_no = 0u64;
    while summary.frames < packets {
        batch_no += 1;
        let n = 1 + rng.below(64);
        let kind = rng.below(10);
        let single = kind < 6;
        let inject = kind == 9;
        let port0 = rng.below(u64::from(d.ports)) as u8;
        let max_payload = if rng.chance(5) { 9100 } else { 1400 };
        let mut sent: Vec<(Option<u8>, Vec<u8>)> = Vec::new();
        let mut exp_egress: Vec<(u8, Source, Vec<u8>)> = Vec::new();
        let mut exp_host: Vec<(Source, Vec<u8>)> = Vec::new();
        for _ in 0..n {
            let frame = random_frame(&mut rng, &pools, max_payload);
            let src = if inject {
                let mode = if rng.chance(30) { 1 } else { 0 };
                let port = if rng.chance(3) {
                    rng.below(8) as u8
                } else {
                    rng.below(u64::from(d.ports)) as u8
                };
                let mut rec = vec![1, mode, port, 0];
                rec.extend_from_slice(&frame);
                let _ = model.inject(&rec);
                rtl.send_inject(&rec);
                sent.push((None, rec));
                Source::Inject
            } else {
                let port = if single {
                    port0
                } else {
                    rng.below(u64::from(d.ports)) as u8
                };
                model.receive(port, &frame);
                rtl.send(port, &frame);
                sent.push((Some(port), frame));
                Source::Port(port)
            };
            while let Some((p, f)) = model.pop_egress() {
                exp_egress.push((p, src, f));
            }
            while let Some(h) = model.pop_host() {
                if h.len() >= 3 {
                    summary.host_reason_counts[usize::from(h[2] & 31)] += 1;
                }
                if h.len() >= 8 {
                    for (at, n, max) in [
                        (4, d.services, &mut max_service),
                        (6, d.members, &mut max_member),
                    ] {
                        let id = u16::from_be_bytes([h[at], h[at + 1]]);
                        if u32::from(id) < n {
                            *max = (*max).max(id);
                        }
                    }
                }
                exp_host.push((src, h));
            }
        }
        rtl.run_until_idle();
        let got_egress = rtl.take_egress();
        let got_host = rtl.take_host();
        summary.frames += n;
        summary.egress += exp_egress.len() as u64;
        summary.host += exp_host.len() as u64;
        // Every egress port and the host queue, each source's frames in the model's order.
        let mut problems = check_outputs(
            d.ports as u8,
            &exp_egress,
            &exp_host,
            &got_egress,
            &got_host,
        );
        if let Some(v) = rtl.hold_violation() {
            problems.push(v.to_string());
        }
        if !problems.is_empty() {
            let mut msg = format!(
                "scoreboard mismatch: DATA_WIDTH={} seed={seed:#x} batch {batch_no} ({} frames, {}):\n",
                width.bits(),
                n,
                if inject {
                    "inject"
                } else if single {
                    "one port"
                } else {
                    "all ports"
                }
            );
            for p in &problems {
                let _ = writeln!(msg, "  {p}");
            }
            for (p, f) in &sent {
                let _ = writeln!(msg, "  in {:?}: {}", p, hex(f));
            }
            for (p, src, f) in &exp_egress {
                let _ = writeln!(msg, "  model egress {p} (from {src:?}): {}", hex(f));
            }
            for (p, f) in &got_egress {
                let _ = writeln!(msg, "  rtl   egress {p}: {}", hex(f));
            }
            for (src, h) in &exp_host {
                let _ = writeln!(msg, "  model host (from {src:?}): {}", hex(h));
            }
            for h in &got_host {
                let _ = writeln!(msg, "  rtl   host: {}", hex(h));
            }
            msg.push_str(&fst_hint(test, seed, summary.frames, width));
            return Err(msg);
        }
        // Table updates between batches.
        for _ in 0..rng.below(6) {
            random_update(&mut rng, &d, &key, &pools, &mut ranges, &mut ops);
        }
        apply(&mut ops, &mut model, &mut rtl);
        if batch_no.is_multiple_of(200) || summary.frames >= packets {
            compare_state(&mut model, &mut rtl, &mut rng, &d, &mut tally).map_err(|e| {
                format!(
                    "{e} (DATA_WIDTH={} seed={seed:#x}, after {} frames)\n{}",
                    width.bits(),
                    summary.frames,
                    fst_hint(test, seed, summary.frames, width)
                )
            })?;
        }
    }
    summary.reason_counts = tally.total;
    summary.max_service = max_service;
    summary.max_member = max_member;
    summary.cycles = rtl.stats.cycles;
    Ok(summary)
}

/// The per-reason counters summed over a run in which `CTR_CLEAR` zeroes them now and then.
#[derive(Default)]
struct ReasonTally {
    total: [u64; 32],
    /// The values read last, since the last clear.
    last: [u64; 32],
}

/// Compares every counter and the activity bitmap, adds what the per-reason counters counted since
/// the last comparison to `tally`, then clears some activity bits on both (and sometimes every
/// counter).
fn compare_state(
    model: &mut Switch,
    rtl: &mut RtlSwitch,
    rng: &mut Rng,
    d: &Dims,
    tally: &mut ReasonTally,
) -> Result<(), String> {
    let mut offsets = Vec::new();
    for p in 0..8u32 {
        for c in 0..6u32 {
            offsets.push(ctr::port::OFFSET + p * ctr::port::STRIDE + 8 * c);
        }
    }
    for r in 0..32u32 {
        offsets.push(ctr::reason::OFFSET + r * ctr::reason::STRIDE);
    }
    for s in 0..ctr::service::COUNT as u32 {
        for c in 0..4u32 {
            offsets.push(ctr::service::OFFSET + s * ctr::service::STRIDE + 8 * c);
        }
    }
    // The first members, and a sample of the others (every member in the test geometry).
    let sampled = (0..d.members).filter(|&m| m < 80 || m % 7 == 0);
    for m in sampled {
        for c in 0..4u32 {
            offsets.push(ctr::member::OFFSET + m * ctr::member::STRIDE + 8 * c);
        }
    }
    for o in offsets {
        let mut value = 0u64;
        for half in [0u32, 4] {
            let a = region::CTR + o + half;
            let (m, r) = (model.read32(a), rtl.read32(a));
            if m != r {
                return Err(format!(
                    "counter mismatch at {a:#x}: model {m:#x} rtl {r:#x}"
                ));
            }
            value |= u64::from(m) << (8 * half);
        }
        let r = (o.wrapping_sub(ctr::reason::OFFSET) / ctr::reason::STRIDE) as usize;
        if o >= ctr::reason::OFFSET && r < ctr::reason::COUNT {
            tally.total[r] += value - tally.last[r];
            tally.last[r] = value;
        }
    }
    for w in 0..(d.conn_entries / 32 + 1) {
        let a = region::ACT + 4 * w;
        let (m, r) = (model.read32(a), rtl.read32(a));
        if m != r {
            return Err(format!(
                "activity mismatch: word {w}: model {m:#x} rtl {r:#x}"
            ));
        }
        let clear = rng.next_u64() as u32;
        model.write32(a, clear);
        rtl.write32(a, clear);
    }
    if rng.chance(30) {
        model.write32(reg::CTR_CLEAR, 1);
        rtl.write32(reg::CTR_CLEAR, 1);
        tally.last = [0; 32];
    }
    Ok(())
}
