//! Fuzzer bytes as a switch scenario: register writes, frames on the Ethernet ports and host inject
//! records, in order. The same scenario runs on the model (the fuzz target) and on the Verilated RTL
//! (the corpus replay), so every corpus input is also an RTL test.
//!
//! The decoding never fails: every byte string is a scenario, and running out of bytes reads zeros.
//! Besides raw frames and raw register writes it has structured steps (frames built on a small pool
//! of addresses and ports, table entries for that pool placed in their cuckoo buckets), so that
//! mutations reach the lookup, decision and rewrite stages instead of dying in the parser.

use crate::reader::Reader;
use anypoint_ctl::frames::checksum;
use anypoint_model::hash::tuple_hash;
use anypoint_model::regs::{reg, region, table, tbl_op, MAP_SIZE};
use anypoint_model::{FiveTuple, Geometry, HashKey};

/// Table sizes of the fuzzed switch: the RTL's, so the corpus replays there unchanged.
pub const GEOMETRY: Geometry = verilator_tests::rtl::GEOMETRY;

/// Longest raw frame a step carries (larger than the largest `MAX_FRAME` the fuzzer tends to set,
/// smaller than libFuzzer's input limit).
pub const MAX_RAW_FRAME: usize = 9100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Write {
        offset: u32,
        value: u32,
    },
    Receive {
        port: u8,
        frame: Vec<u8>,
    },
    /// A host inject record: 4-byte header (version, mode, port, reserved) and frame.
    Inject {
        record: Vec<u8>,
    },
}

/// Addresses, L4 ports and the VIP the structured steps draw from.
const IPS: [u32; 8] = [
    0x0a00_0001,
    0x0a00_0002,
    0x0a00_0101,
    0x0a00_0102,
    0x0a00_0103,
    0x0a00_0064, // the VIP
    0xc0a8_0001,
    0x0a00_0201,
];
const L4PORTS: [u16; 4] = [80, 8080, 9000, 40000];

impl Reader<'_> {
    fn tuple(&mut self) -> FiveTuple {
        let a = self.u8();
        let b = self.u8();
        FiveTuple {
            src_ip: IPS[usize::from(a & 7)],
            dst_ip: IPS[usize::from(a >> 3 & 7)],
            src_port: L4PORTS[usize::from(b & 3)],
            dst_port: L4PORTS[usize::from(b >> 2 & 3)],
            proto: match b >> 4 & 3 {
                0 | 1 => 6,
                2 => 17,
                _ => self.u8(),
            },
        }
    }
}

/// Step kinds, the first byte of each step (mod 16).
mod kind {
    pub const RAW_FRAME: u8 = 0;
    pub const RAW_WRITE: u8 = 1;
    pub const INJECT: u8 = 2;
    /// 3..=7: a frame built on the pool.
    pub const POOL_FRAME: u8 = 3;
    /// 8..=15: a structured table write.
    pub const TABLE: u8 = 8;
}

/// Decodes fuzzer bytes into a scenario.
pub fn decode(data: &[u8]) -> Vec<Step> {
    let mut r = Reader::new(data);
    // The key the structured connection entries are placed with; follows structured key writes.
    let mut key = HashKey::default();
    let mut steps = Vec::new();
    while !r.empty() {
        let k = r.u8() % 16;
        match k {
            kind::RAW_FRAME => {
                let port = r.u8() % GEOMETRY.ports;
                let frame = raw_frame(&mut r);
                steps.push(Step::Receive { port, frame });
            }
            kind::RAW_WRITE => {
                let offset = (r.u32() % MAP_SIZE) & !3;
                let value = r.u32();
                steps.push(Step::Write { offset, value });
            }
            kind::INJECT => {
                let flags = r.u8();
                // Mostly well-formed headers; the rest are any bytes (bad version, mode, port).
                let header = if flags & 0xc0 == 0xc0 {
                    [r.u8(), r.u8(), r.u8(), r.u8()]
                } else {
                    [1, flags & 1, flags >> 1 & 7, 0]
                };
                let frame = if flags & 0x10 != 0 {
                    raw_frame(&mut r)
                } else {
                    pool_frame(&mut r)
                };
                let mut record = header.to_vec();
                record.extend_from_slice(&frame);
                steps.push(Step::Inject { record });
            }
            kind::POOL_FRAME..kind::TABLE => {
                let port = r.u8() % GEOMETRY.ports;
                let frame = pool_frame(&mut r);
                steps.push(Step::Receive { port, frame });
            }
            kind::TABLE.. => table_step(&mut r, &mut key, &mut steps),
        }
    }
    steps
}

/// The bytes that decode to `steps`, for raw writes and raw frames (seed corpus from recordings).
pub fn encode(steps: &[Step]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in steps {
        match s {
            Step::Write { offset, value } => {
                out.push(kind::RAW_WRITE);
                out.extend_from_slice(&offset.to_le_bytes());
                out.extend_from_slice(&value.to_le_bytes());
            }
            Step::Receive { port, frame } => {
                out.extend_from_slice(&[kind::RAW_FRAME, *port]);
                out.extend_from_slice(&(frame.len().min(MAX_RAW_FRAME) as u16).to_le_bytes());
                out.extend_from_slice(&frame[..frame.len().min(MAX_RAW_FRAME)]);
            }
            Step::Inject { record } => {
                let frame = &record[4.min(record.len())..];
                out.extend_from_slice(&[kind::INJECT, 0xd0]);
                out.extend_from_slice(&record[..4.min(record.len())]);
                out.resize(out.len() + 4 - 4.min(record.len()), 0);
                out.extend_from_slice(&(frame.len().min(MAX_RAW_FRAME) as u16).to_le_bytes());
                out.extend_from_slice(&frame[..frame.len().min(MAX_RAW_FRAME)]);
            }
        }
    }
    out
}

fn raw_frame(r: &mut Reader) -> Vec<u8> {
    let len = usize::from(r.u16()) % (MAX_RAW_FRAME + 1);
    r.bytes(len).to_vec()
}

/// A TCP or UDP frame (or another protocol) on a pool tuple: VLAN tag, TOS, IP ID, flags and
/// fragment field, TTL, TCP flags, payload from the fuzzer, checksums right; then up to two byte
/// mutations and a length change, so that every parser check is one mutation away.
fn pool_frame(r: &mut Reader) -> Vec<u8> {
    let t = r.tuple();
    let opts = r.u8();
    let mut f = vec![0x02, 0, 0, 0, 0, r.u8() & 3, 0x02, 0, 0, 0, 0, 0x10];
    if opts & 1 != 0 {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&r.u16().to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x00]);
    let l3 = f.len();
    let l4_len = match t.proto {
        6 => 20,
        17 => 8,
        _ => 0,
    };
    let payload = usize::from(r.u16() & 0x7ff);
    let total = 20 + l4_len + payload;
    let frag = if opts & 2 != 0 { r.u16() } else { 0x4000 };
    f.extend_from_slice(&[0x45, r.u8()]);
    f.extend_from_slice(&(total as u16).to_be_bytes());
    f.extend_from_slice(&r.u16().to_be_bytes());
    f.extend_from_slice(&frag.to_be_bytes());
    f.extend_from_slice(&[r.u8() | 1, t.proto, 0, 0]);
    f.extend_from_slice(&t.src_ip.to_be_bytes());
    f.extend_from_slice(&t.dst_ip.to_be_bytes());
    let c = checksum(&f[l3..l3 + 20]);
    f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&t.src_port.to_be_bytes());
    f.extend_from_slice(&t.dst_port.to_be_bytes());
    match t.proto {
        6 => {
            f.extend_from_slice(&r.u32().to_be_bytes()); // sequence
            f.extend_from_slice(&[0; 4]);
            f.extend_from_slice(&[0x50, r.u8(), 0xff, 0xff, 0, 0, 0, 0]);
        }
        17 => f.extend_from_slice(&[((8 + payload) >> 8) as u8, (8 + payload) as u8, 0, 0]),
        _ => {}
    }
    let body = r.bytes(payload).to_vec();
    f.extend_from_slice(&body);
    f.resize(l3 + total, 0);
    if f.len() < 60 && opts & 4 == 0 {
        f.resize(60, 0);
    }
    for _ in 0..(opts >> 4 & 3) {
        let at = usize::from(r.u16()) % f.len();
        f[at] ^= r.u8();
    }
    if opts & 0x40 != 0 {
        let len = usize::from(r.u16()) % (f.len() + 64);
        f.resize(len, 0);
    }
    f
}

fn table_write(steps: &mut Vec<Step>, table: u32, index: u32, words: &[u32]) {
    for (i, w) in words.iter().enumerate() {
        steps.push(Step::Write {
            offset: reg::TBL_WDATA + 4 * i as u32,
            value: *w,
        });
    }
    steps.push(Step::Write {
        offset: reg::TBL_CMD,
        value: u32::from(tbl_op::WRITE) << 30 | table << 24 | index,
    });
}

/// A structured write: a table entry on the pool, an indirection slot, a hash-key word, `MAX_FRAME`.
fn table_step(r: &mut Reader, key: &mut HashKey, steps: &mut Vec<Step>) {
    let sel = r.u8();
    match sel % 8 {
        0 => {
            let p = u32::from(r.u8() % GEOMETRY.ports);
            let w1 = u32::from(r.u16()) | u32::from(r.u8() & 3) << 16;
            table_write(steps, table::port::ID, p, &[r.u32(), w1, r.u32(), r.u32()]);
        }
        1 => {
            let s = u32::from(r.u8()) % u32::from(GEOMETRY.services);
            let a = r.u8();
            let proto = if a & 1 == 0 { 6 } else { 17 };
            let w1 = u32::from(L4PORTS[usize::from(a >> 1 & 3)])
                | proto << 16
                | u32::from(a >> 3 & 7) << 24
                | 1 << 31;
            let log2 = u32::from(r.u8() % 13);
            let w2 = (u32::from(r.u16()) % (1 << GEOMETRY.indir_slots_log2))
                | log2 << 16
                | u32::from(r.u8() & 7) << 24;
            let w3 = u32::from(r.u8() % 64) | u32::from(r.u8() % 17) << 8;
            table_write(steps, table::service::ID, s, &[IPS[5], w1, w2, w3]);
        }
        2 => {
            let m = u32::from(r.u8()) % u32::from(GEOMETRY.members);
            let a = r.u8();
            let w1 = u32::from(L4PORTS[usize::from(a & 3)])
                | u32::from(a >> 2 & 3) << 16
                | u32::from(a >> 4 & 3) << 20
                | (u32::from(r.u8()) % u32::from(GEOMETRY.services)) << 24;
            let w3 = u32::from(r.u16()) | 1 << 16;
            table_write(
                steps,
                table::member::ID,
                m,
                &[IPS[usize::from(a >> 6) + 2], w1, r.u32(), w3],
            );
        }
        3 | 4 => {
            let t = r.tuple();
            let h = tuple_hash(key, &t);
            let b = u32::from(GEOMETRY.conn_buckets_log2);
            let bank = u32::from(sel >> 3 & 1);
            let bucket = (if bank == 0 { h } else { h >> 32 }) as u32 & ((1 << b) - 1);
            let index = bank << (b + 2) | bucket << 2 | u32::from(sel >> 4 & 3);
            if sel % 8 == 4 {
                steps.push(Step::Write {
                    offset: reg::TBL_CMD,
                    value: u32::from(tbl_op::CLEAR) << 30 | table::conn::ID << 24 | index,
                });
                return;
            }
            let w3 = u32::from(t.proto)
                | (u32::from(r.u8()) % u32::from(GEOMETRY.services)) << 16
                | u32::from(r.u8() & 0x47) << 24
                | 1 << 31;
            let member = u32::from(r.u8()) % u32::from(GEOMETRY.members);
            let ports = u32::from(t.src_port) << 16 | u32::from(t.dst_port);
            table_write(
                steps,
                table::conn::ID,
                index,
                &[t.src_ip, t.dst_ip, ports, w3, member],
            );
        }
        5 => {
            // A run of indirection slots, so few bytes fill a service's whole range.
            let first = u32::from(r.u16()) % (1 << GEOMETRY.indir_slots_log2);
            let n = u32::from(r.u8()) + 1;
            let m0 = u32::from(r.u8());
            for i in 0..n.min((1 << GEOMETRY.indir_slots_log2) - first) {
                steps.push(Step::Write {
                    offset: region::INDIR + 4 * (first + i),
                    value: ((m0 + i) % u32::from(GEOMETRY.members)) | 1 << 31,
                });
            }
        }
        6 => {
            let i = usize::from(sel >> 3 & 3);
            key.0[i] = r.u32();
            steps.push(Step::Write {
                offset: reg::HASH_KEY + 4 * i as u32,
                value: key.0[i],
            });
        }
        _ => {
            let values = [9022, 1514, 64, 0, 65535, r.u32()];
            steps.push(Step::Write {
                offset: reg::MAX_FRAME,
                value: values[usize::from(sel >> 3) % values.len()],
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_gives_the_steps_back() {
        let steps = vec![
            Step::Write {
                offset: reg::MAX_FRAME,
                value: 1514,
            },
            Step::Receive {
                port: 3,
                frame: vec![1, 2, 3],
            },
            Step::Inject {
                record: vec![1, 0, 2, 0, 9, 9],
            },
            Step::Receive {
                port: 0,
                frame: Vec::new(),
            },
        ];
        assert_eq!(decode(&encode(&steps)), steps);
    }

    #[test]
    fn pool_frames_are_valid_ipv4_with_the_pool_tuple() {
        // kind 3 on port 1; tuple bytes; opts 0 (no VLAN, no mutation); TOS, ...
        let mut input = vec![3, 1, 0x08 | 0x01, 0x04 | 0x01, 0, 0x00];
        input.extend_from_slice(&[4, 0]); // payload length 4
        input.extend_from_slice(&[0x11, 0x1234u16 as u8, 0x12, 64]);
        let steps = decode(&input);
        let Step::Receive { port: 1, frame } = &steps[0] else {
            panic!("{steps:?}")
        };
        let p = etherparse::SlicedPacket::from_ethernet(frame).expect("parses");
        let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
            panic!("not IPv4")
        };
        assert_eq!(ip.header().source(), IPS[1].to_be_bytes());
        assert_eq!(ip.header().destination(), IPS[1].to_be_bytes());
        let h = ip.header().to_header();
        assert_eq!(h.header_checksum, h.calc_header_checksum());
        assert!(matches!(
            p.transport,
            Some(etherparse::TransportSlice::Tcp(_))
        ));
    }
}
