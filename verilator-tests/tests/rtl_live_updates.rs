//! Table updates from the register interface while every port receives back-to-back frames: traffic
//! never stalls, and every frame sees a connection entry either before or after an update, never a
//! mix (each output equals the model's output under one of the two versions of the entry).

use anypoint_model::hash::tuple_hash;
use anypoint_model::regs::reg;
use anypoint_model::{FiveTuple, HashKey, Switch};
use verilator_tests::rtl::{RtlSwitch, Width, GEOMETRY};
use verilator_tests::scoreboard::ip_checksum;

const KEY: HashKey = HashKey([0x1111_2222, 0x3333_4444, 0x5555_6666, 0x7777_8888]);

/// Register writes of the static tables: two members on ports 1 and 2, all ports enabled.
fn setup() -> Vec<(u32, u32)> {
    let mut ops = Vec::new();
    let mut tbl = |table: u32, index: u32, words: &[u32]| {
        for (i, w) in words.iter().enumerate() {
            ops.push((reg::TBL_WDATA + 4 * i as u32, *w));
        }
        ops.push((reg::TBL_CMD, 1 << 30 | table << 24 | index));
    };
    for p in 0..4 {
        tbl(0, p, &[0x10 + p, 0x0002 | 1 << 16, 1, 0x0002 | 1 << 16]);
    }
    tbl(
        2,
        0,
        &[
            0x0a01_0001,
            8080 | 1 << 16 | 1 << 20,
            0x21,
            0x0002 | 1 << 16,
        ],
    );
    tbl(
        2,
        1,
        &[
            0x0a01_0002,
            9090 | 2 << 16 | 1 << 20,
            0x22,
            0x0002 | 1 << 16,
        ],
    );
    for (i, w) in KEY.0.iter().enumerate() {
        ops.push((reg::HASH_KEY + 4 * i as u32, *w));
    }
    ops
}

fn flow() -> FiveTuple {
    FiveTuple {
        src_ip: 0xc633_6401,
        dst_ip: 0x0a00_0064,
        src_port: 4242,
        dst_port: 80,
        proto: 6,
    }
}

/// The connection entry for the flow: inbound to `member` (`words` for TBL_WDATA) and its index.
fn entry(member: u32) -> ([u32; 5], u32) {
    let t = flow();
    let h = tuple_hash(&KEY, &t);
    let mask = (1u32 << GEOMETRY.conn_buckets_log2) - 1;
    let index = (h as u32 & mask) << 2;
    (
        [
            t.src_ip,
            t.dst_ip,
            u32::from(t.src_port) << 16 | u32::from(t.dst_port),
            6 | 1 << 31,
            member,
        ],
        index,
    )
}

fn frame(seq: u32) -> Vec<u8> {
    let t = flow();
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 0x10]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0xee]);
    f[12..14].copy_from_slice(&[8, 0]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&46u16.to_be_bytes());
    f[22] = 64;
    f[23] = 6;
    f[26..30].copy_from_slice(&t.src_ip.to_be_bytes());
    f[30..34].copy_from_slice(&t.dst_ip.to_be_bytes());
    let sum = ip_checksum(&f[14..34]);
    f[24..26].copy_from_slice(&sum.to_be_bytes());
    f[34..36].copy_from_slice(&t.src_port.to_be_bytes());
    f[36..38].copy_from_slice(&t.dst_port.to_be_bytes());
    f[38..42].copy_from_slice(&seq.to_be_bytes());
    f[46] = 0x50;
    f[47] = 0x10;
    f
}

/// The model's output for `f` with the entry pointing at `member`.
fn expected(member: u32, f: &[u8]) -> (u8, Vec<u8>) {
    let mut m = Switch::new(GEOMETRY);
    for (a, v) in setup() {
        m.write32(a, v);
    }
    let (words, index) = entry(member);
    for (i, w) in words.iter().enumerate() {
        m.write32(reg::TBL_WDATA + 4 * i as u32, *w);
    }
    m.write32(reg::TBL_CMD, 1 << 30 | 3 << 24 | index);
    m.receive(0, f);
    m.pop_egress().expect("forwarded")
}

fn run(width: Width) {
    let mut rtl = RtlSwitch::new(width);
    for (a, v) in setup() {
        rtl.write32(a, v);
    }
    let frames: Vec<Vec<u8>> = (0..3000).map(frame).collect();
    for f in &frames {
        rtl.send(0, f);
    }
    rtl.stats = Default::default();
    // Flip the entry between the two members while the frames stream in.
    let mut member = 0;
    for _ in 0..60 {
        let (words, index) = entry(member);
        for (i, w) in words.iter().enumerate() {
            rtl.write32_streaming(reg::TBL_WDATA + 4 * i as u32, *w);
        }
        rtl.write32_streaming(reg::TBL_CMD, 1 << 30 | 3 << 24 | index);
        member ^= 1;
    }
    let stalls = rtl.stats.ingress_stall_cycles;
    rtl.run_until_idle();
    assert_eq!(stalls, 0, "ingress stalled during table updates");
    let out = rtl.take_egress();
    let host = rtl.take_host();
    // Frames before the first write went to the host (no entry yet); afterwards each is forwarded
    // exactly as under one of the two entries.
    assert_eq!(out.len() + host.len(), frames.len());
    let mut seen = [0usize; 2];
    for (port, data) in &out {
        let seq = u32::from_be_bytes(data[38..42].try_into().unwrap());
        let f = &frames[seq as usize];
        let hit = (0..2).find(|&m| expected(m as u32, f) == (*port, data.clone()));
        let m = hit.unwrap_or_else(|| panic!("frame {seq} matches neither entry: port {port}"));
        seen[m] += 1;
    }
    assert!(seen[0] > 0 && seen[1] > 0, "{seen:?}");
}

#[test]
fn live_updates_64() {
    run(Width::W64);
}

#[test]
fn live_updates_512() {
    run(Width::W512);
}
