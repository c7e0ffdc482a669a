//! The frame-switch fuzz target: the model's ACP frame switch (docs/frame-switching.md) takes a
//! sequence of segments from two peers and from its members, decoded from the fuzzer's bytes. Most
//! are valid-looking ACP segments built with the `acp::wire` encoders as answers to a segment the
//! switch sent (sequence and ack numbers taken from it, nudged by the input), so that mutations
//! reach the switch's sequence logic; the rest are raw bytes, mutated segments with a good
//! checksum, and members removed and added. Checked after every segment:
//!
//! - no panic;
//! - the segment is counted under exactly one kind: the kind counters' sum goes up by one;
//! - every flow's state stays within its bound: frames in each ring at most `w`, holes at most
//!   `max_holes`;
//! - everything the switch sends is an ACP segment that parses, whole frames, with a good checksum.

use crate::reader::Reader;
use acp::wire::{self, Flags, Header, Options, FRAME_NULL};
use anypoint_model::frame_switch::{Config, FrameSwitch, Kind, Packet, Policy};
use anypoint_model::HashKey;
use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};

const VIP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 100), 7000);
const PEERS: [SocketAddrV4; 2] = [
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40000),
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 40001),
];
/// Members are added from this pool, in order.
const MEMBERS: [SocketAddrV4; 6] = [
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 1), 7000),
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 2), 7000),
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 3), 7000),
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 4), 7000),
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 5), 7000),
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 6), 7000),
];
/// Segments the switch sent that later steps may answer (newest last).
const RECENT: usize = 32;
const MAX_STEPS: usize = 512;

/// Step kinds: the low three bits of a step's first byte; the other five select within the kind.
mod step {
    /// A peer's SYN to the VIP.
    pub const OPEN: u8 = 0;
    // 1..=4: an answer to a segment the switch sent.
    pub const RAW: u8 = 5;
    /// An answer with one byte changed and the checksum fixed.
    pub const MUTATED: u8 = 6;
    pub const MEMBERSHIP: u8 = 7;
}

struct Harness {
    sw: FrameSwitch,
    w: usize,
    max_holes: usize,
    recent: VecDeque<Packet>,
    /// Next frame sequence number of each sender.
    fseq: HashMap<SocketAddrV4, u32>,
    members: Vec<(u16, bool)>,
    received: u64,
}

/// Checks one input (panics on a violation); returns the number of segments the switch took.
pub fn run(data: &[u8]) -> u64 {
    let mut r = Reader::new(data);
    let setup = r.u8();
    let policy = match setup % 3 {
        0 => Policy::KeyHash { offset: 0, len: 4 },
        1 => Policy::RoundRobin,
        _ => Policy::SpeedSensitive,
    };
    let mut cfg = Config::new(VIP, policy, HashKey([1, 2, 3, 4]));
    // Small rings and hole tables, so that their limits are reached.
    cfg.w = [4, 16, 64, 384][usize::from(setup >> 2 & 3)];
    cfg.max_holes = 1 + usize::from(setup >> 4 & 7);
    let mut h = Harness {
        sw: FrameSwitch::new(cfg),
        w: cfg.w,
        max_holes: cfg.max_holes,
        recent: VecDeque::new(),
        fseq: HashMap::new(),
        members: Vec::new(),
        received: 0,
    };
    for _ in 0..2 + (setup >> 7) {
        h.add_member();
    }
    for _ in 0..MAX_STEPS {
        if r.empty() {
            break;
        }
        let k = r.u8();
        let sel = k >> 3;
        match k & 7 {
            step::OPEN => {
                let peer = PEERS[usize::from(sel & 1)];
                let opts = r.u8();
                let header = Header {
                    seq: r.u32(),
                    window: !r.u16(),
                    flags: Flags::SYN,
                    options: Options {
                        mss: (opts & 1 != 0).then_some(9 + u16::from(opts >> 1)),
                        window_shift: (opts & 0x80 != 0).then_some(opts >> 3 & 7),
                        patch: None,
                    },
                    ..Header::default()
                };
                let pkt = segment(peer, VIP, header, &[]);
                h.receive(pkt);
            }
            step::RAW => {
                let len = usize::from(r.u8());
                let (src, dst) = if sel & 1 == 0 {
                    (*PEERS[usize::from(sel >> 1 & 1)].ip(), *VIP.ip())
                } else {
                    (
                        *MEMBERS[usize::from(sel >> 1) % MEMBERS.len()].ip(),
                        *PEERS[0].ip(),
                    )
                };
                let segment = r.bytes(len).to_vec();
                h.receive(Packet { src, dst, segment });
            }
            step::MEMBERSHIP => {
                if sel & 1 == 0 {
                    h.add_member();
                } else if !h.members.is_empty() {
                    let id = h.members[usize::from(sel >> 1) % h.members.len()].0;
                    for p in h.sw.remove_member(id) {
                        h.sent(p);
                    }
                    for m in h.members.iter_mut().filter(|m| m.0 == id) {
                        m.1 = false;
                    }
                }
            }
            kind => {
                let Some(mut pkt) = h.answer(sel, &mut r) else {
                    continue;
                };
                if kind == step::MUTATED && !pkt.segment.is_empty() {
                    let at = usize::from(r.u8()) % pkt.segment.len();
                    pkt.segment[at] ^= r.u8() | 1;
                    pkt.segment[16..18].fill(0);
                    let sum = wire::checksum(pkt.src, pkt.dst, &pkt.segment);
                    pkt.segment[16..18].copy_from_slice(&sum.to_be_bytes());
                }
                h.receive(pkt);
            }
        }
    }
    h.received
}

impl Harness {
    fn add_member(&mut self) {
        if self.members.len() < MEMBERS.len() {
            let id = self.sw.add_member(MEMBERS[self.members.len()]);
            self.members.push((id, true));
        }
    }

    /// Gives the switch one segment and checks the rules of the module comment.
    fn receive(&mut self, pkt: Packet) {
        let before: u64 = Kind::ALL
            .iter()
            .map(|&k| self.sw.counters().segments(k))
            .sum();
        let out = self.sw.receive(&pkt);
        self.received += 1;
        let after: u64 = Kind::ALL
            .iter()
            .map(|&k| self.sw.counters().segments(k))
            .sum();
        assert_eq!(
            after,
            before + 1,
            "a segment counted {} times",
            after - before
        );
        for o in self.sw.occupancy() {
            assert!(
                o.in_frames <= self.w && o.out_frames <= self.w && o.holes <= self.max_holes,
                "flow state beyond its bound (w {}, holes {}): {o:?}",
                self.w,
                self.max_holes
            );
        }
        for p in out {
            self.sent(p);
        }
    }

    /// Checks a segment the switch sent and keeps it to be answered.
    fn sent(&mut self, p: Packet) {
        assert!(
            wire::verify_checksum(p.src, p.dst, &p.segment),
            "sent a bad checksum"
        );
        let seg = wire::parse_segment(&p.segment)
            .unwrap_or_else(|e| panic!("sent a segment that does not parse: {e}"));
        let total: usize = seg.frames().map(|f| f.wire_len()).sum();
        assert_eq!(total, seg.payload.len());
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(p);
    }

    /// The answer of the receiver of a segment the switch sent (`sel` picks it, newest first):
    /// its sequence number what that segment acked, its ack the end of that segment, both nudged
    /// by the input; the flags follow the handshake unless the input adds FIN or RST.
    fn answer(&mut self, sel: u8, r: &mut Reader) -> Option<Packet> {
        let n = self.recent.len();
        let to = self
            .recent
            .get(n.checked_sub(1 + usize::from(sel) % n.max(1))?)?;
        let theirs = wire::parse_segment(&to.segment).ok()?.header;
        let from = SocketAddrV4::new(to.dst, theirs.dst_port);
        let dest = SocketAddrV4::new(to.src, theirs.src_port);
        let control =
            u32::from(theirs.flags.has(Flags::SYN)) + u32::from(theirs.flags.has(Flags::FIN));
        let end = theirs
            .seq
            .wrapping_add(to.segment.len() as u32 - theirs.encoded_len() as u32 + control);
        let bits = r.u8();
        let nudge = |b: u8| {
            if b & 0x80 != 0 {
                i32::from(b & 0x3f) - 32
            } else {
                0
            }
        };
        let delta = r.u8();
        let mut flags = Flags::ACK;
        if theirs.flags.has(Flags::SYN) && !theirs.flags.has(Flags::ACK) {
            flags = flags | Flags::SYN;
        }
        if bits & 1 != 0 {
            flags = flags | Flags::FIN;
        }
        if bits & 2 != 0 {
            flags = flags | Flags::RST;
        }
        let header = Header {
            seq: theirs.ack.wrapping_add_signed(nudge(delta)),
            ack: end.wrapping_add_signed(nudge(delta.rotate_left(1))),
            flags,
            window: !r.u16(),
            options: Options {
                mss: flags.has(Flags::SYN).then_some(1452),
                window_shift: None,
                patch: (bits & 4 != 0).then(|| theirs.ack.wrapping_add(r.u8().into())),
            },
            ..Header::default()
        };
        let mut payload = Vec::new();
        for _ in 0..bits >> 4 & 3 {
            let f = r.u8();
            let data = r.bytes(usize::from(f & 0x0f));
            // SYNs carry no frames: the bytes are read all the same, so the steps stay aligned.
            if flags.has(Flags::SYN) {
                continue;
            }
            let fseq = self.fseq.entry(from).or_insert(0);
            // Mostly the next frame; sometimes one seen before or beyond a gap.
            let at = fseq.wrapping_add_signed(nudge(f) / 8);
            *fseq = fseq.wrapping_add(1);
            let flags = if f & 0x40 != 0 { FRAME_NULL } else { 0 };
            wire::emit_frame(at, flags, data, &mut payload);
        }
        Some(segment(from, dest, header, &payload))
    }
}

/// A segment from `src` to `dst` with its checksum.
fn segment(src: SocketAddrV4, dst: SocketAddrV4, h: Header, payload: &[u8]) -> Packet {
    let h = Header {
        src_port: src.port(),
        dst_port: dst.port(),
        ..h
    };
    let mut segment = Vec::new();
    wire::emit_segment(&h, payload, *src.ip(), *dst.ip(), &mut segment);
    Packet {
        src: *src.ip(),
        dst: *dst.ip(),
        segment,
    }
}
