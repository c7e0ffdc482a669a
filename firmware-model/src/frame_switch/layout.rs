//! The device's layouts of a flow record (3,584 bits) and a ring entry (83 bits): the words the
//! host loads and reads through the ACP registers (docs/frame-switching.md section 9a, the RTL's
//! header in `hw/rtl/anypoint_acp_out.sv`).

use std::net::{Ipv4Addr, SocketAddrV4};

use super::fast::{FastLeg, FlowRecord, RingEntry};
use super::{FrameAlrm, Policy, MAX_ACTIVE};
use crate::hash::HashKey;

/// 32-bit words of a flow record and of a ring entry.
pub const RECORD_WORDS: usize = 112;
pub const RING_WORDS: usize = 3;

/// Bit fields of the record and ring entry layouts (docs/frame-switching.md section 9a).
struct Bits<'a>(&'a mut [u32]);

impl Bits<'_> {
    fn put(&mut self, (lsb, width): Field, v: u64) {
        for i in 0..width {
            let b = lsb + i;
            let word = &mut self.0[b / 32];
            if (v >> i) & 1 == 1 {
                *word |= 1 << (b % 32);
            } else {
                *word &= !(1 << (b % 32));
            }
        }
    }

    fn get(&self, (lsb, width): Field) -> u64 {
        (0..width).fold(0, |v, i| {
            let b = lsb + i;
            v | (u64::from((self.0[b / 32] >> (b % 32)) & 1) << i)
        })
    }
}

/// (lsb, width) of a field.
type Field = (usize, usize);

// The record: flow fields, then eight legs of LEG_BITS from LEG_BASE.
const PEER_IP: Field = (0, 32);
const PEER_PORT: Field = (32, 16);
const VIP_IP: Field = (48, 32);
const VIP_PORT: Field = (80, 16);
const W: Field = (96, 16);
const OUT_LEFT: Field = (112, 32);
const OUT_NEXT_FSEQ: Field = (144, 32);
const OUT_IDX: Field = (176, 16);
const OUT_NEXT: Field = (192, 32);
const MIN_OUT_FRAME: Field = (224, 16);
const IN_LEFT: Field = (240, 32);
const IN_IDX: Field = (272, 16);
const IN_NEXT_FSEQ: Field = (288, 32);
const IN_NEXT: Field = (320, 32);
const IN_ACK: Field = (352, 32);
const VIP_SHIFT: Field = (433, 4);
const ADV_ACK: Field = (437, 32);
const ADV_EDGE: Field = (469, 32);
const ADV_FIELD: Field = (501, 16);
const OUT_LIDX: Field = (517, 16);
const OUT_ACK: Field = (533, 32);
const PEER_EDGE: Field = (565, 32);
const PEER_WND_FIELD: Field = (597, 16);
const PEER_SHIFT: Field = (613, 4);
const IN_NEXT_IDX: Field = (617, 16);
const MIN_IN_FRAME: Field = (633, 16);
const FRAME_MAX: Field = (649, 16);
const POLICY: Field = (665, 2);
const KEY_OFFSET: Field = (667, 16);
const KEY_LEN: Field = (683, 5);
const TURN: Field = (688, 32);
const NLEGS: Field = (720, 4);
const KEY_BASE: usize = 768;
const LEG_BASE: usize = 1024;
const LEG_BITS: usize = 320;
const LEG_FAST: Field = (0, 1);
const LEG_TAKES: Field = (1, 1);
const LEG_IP: Field = (2, 32);
const LEG_PORT: Field = (34, 16);
const LEG_OUT_NEXT: Field = (50, 32);
const LEG_NEXT: Field = (82, 32);
const LEG_UNA: Field = (114, 32);
const LEG_EDGE: Field = (146, 32);
const LEG_SHIFT: Field = (178, 4);
const LEG_ACK: Field = (182, 32);
const LEG_PROMISE: Field = (214, 32);
const LEG_SENT_ACK: Field = (246, 32);
const LEG_SENT_FIELD: Field = (278, 16);
const LEG_SHIFT_TO: Field = (294, 4);
// A ring entry.
const E_LEG: Field = (0, 3);
const E_MEMBER_SEQ: Field = (3, 32);
const E_PEER_SEQ: Field = (35, 32);
const E_LEN: Field = (67, 16);

fn leg_field(i: usize, (lsb, w): Field) -> Field {
    (LEG_BASE + LEG_BITS * i + lsb, w)
}

fn key_word(i: usize) -> Field {
    (KEY_BASE + 32 * i, 32)
}

/// The policy's code and key-hash byte range.
fn policy_bits(p: Policy) -> (u64, u64, u64) {
    match p {
        Policy::KeyHash { offset, len } => (0, offset.into(), len.into()),
        Policy::RoundRobin => (1, 0, 0),
        Policy::SpeedSensitive => (2, 0, 0),
    }
}

/// The record as the device holds it: 112 words, word i = bits 32i+31..32i.
pub fn pack(rec: &FlowRecord) -> [u32; RECORD_WORDS] {
    let mut words = [0; RECORD_WORDS];
    let mut b = Bits(&mut words);
    let ip = |a: &SocketAddrV4| u64::from(u32::from(*a.ip()));
    b.put(PEER_IP, ip(&rec.peer));
    b.put(PEER_PORT, rec.peer.port().into());
    b.put(VIP_IP, ip(&rec.vip));
    b.put(VIP_PORT, rec.vip.port().into());
    b.put(W, rec.w.into());
    b.put(OUT_LEFT, rec.out_left.into());
    b.put(OUT_NEXT_FSEQ, rec.out_next_fseq.into());
    b.put(OUT_IDX, rec.out_idx.into());
    b.put(OUT_NEXT, rec.out_next.into());
    b.put(MIN_OUT_FRAME, rec.min_out_frame.into());
    b.put(IN_LEFT, rec.in_left.into());
    b.put(IN_IDX, rec.in_idx.into());
    b.put(IN_NEXT_FSEQ, rec.in_next_fseq.into());
    b.put(IN_NEXT, rec.in_next.into());
    b.put(IN_ACK, rec.in_ack.into());
    b.put(VIP_SHIFT, rec.vip_shift.into());
    b.put(ADV_ACK, rec.adv_ack.into());
    b.put(ADV_EDGE, rec.adv_edge.into());
    b.put(ADV_FIELD, rec.adv_field.into());
    b.put(OUT_LIDX, rec.out_lidx.into());
    b.put(OUT_ACK, rec.out_ack.into());
    b.put(PEER_EDGE, rec.peer_edge.into());
    b.put(PEER_WND_FIELD, rec.peer_wnd_field.into());
    b.put(PEER_SHIFT, rec.peer_shift.into());
    b.put(IN_NEXT_IDX, rec.in_next_idx.into());
    b.put(MIN_IN_FRAME, rec.min_in_frame.into());
    b.put(FRAME_MAX, rec.frame_max.into());
    let (policy, key_offset, key_len) = policy_bits(rec.alrm.policy());
    b.put(POLICY, policy);
    b.put(KEY_OFFSET, key_offset);
    b.put(KEY_LEN, key_len);
    b.put(TURN, rec.alrm.turn().into());
    b.put(NLEGS, rec.nlegs.into());
    for (i, k) in rec.alrm.key().0.iter().enumerate() {
        b.put(key_word(i), (*k).into());
    }
    for (i, l) in rec.legs.iter().enumerate() {
        let f = |field| leg_field(i, field);
        b.put(f(LEG_FAST), l.fast.into());
        b.put(f(LEG_TAKES), l.takes.into());
        b.put(f(LEG_IP), ip(&l.member));
        b.put(f(LEG_PORT), l.member.port().into());
        b.put(f(LEG_OUT_NEXT), l.out_next.into());
        b.put(f(LEG_NEXT), l.next.into());
        b.put(f(LEG_UNA), l.una.into());
        b.put(f(LEG_EDGE), l.edge.into());
        b.put(f(LEG_SHIFT), l.shift_from.into());
        b.put(f(LEG_ACK), l.ack.into());
        b.put(f(LEG_PROMISE), l.promise.into());
        b.put(f(LEG_SENT_ACK), l.sent_ack.into());
        b.put(f(LEG_SENT_FIELD), l.sent_field.into());
        b.put(f(LEG_SHIFT_TO), l.shift_to.into());
    }
    words
}

/// The record of [`pack`]'s words (reserved bits ignored; policy codes 2 and 3 both speed-sensitive).
pub fn unpack(words: &[u32; RECORD_WORDS]) -> FlowRecord {
    let mut copy = *words;
    let b = Bits(&mut copy);
    let n32 = |f| b.get(f) as u32;
    let n16 = |f| b.get(f) as u16;
    let addr = |ip, port| SocketAddrV4::new(Ipv4Addr::from(n32(ip)), n16(port));
    let mut legs = [FastLeg::default(); MAX_ACTIVE];
    for (i, l) in legs.iter_mut().enumerate() {
        let f = |field| leg_field(i, field);
        *l = FastLeg {
            fast: b.get(f(LEG_FAST)) == 1,
            takes: b.get(f(LEG_TAKES)) == 1,
            member: addr(f(LEG_IP), f(LEG_PORT)),
            out_next: n32(f(LEG_OUT_NEXT)),
            next: n32(f(LEG_NEXT)),
            una: n32(f(LEG_UNA)),
            edge: n32(f(LEG_EDGE)),
            shift_from: b.get(f(LEG_SHIFT)) as u8,
            ack: n32(f(LEG_ACK)),
            promise: n32(f(LEG_PROMISE)),
            sent_ack: n32(f(LEG_SENT_ACK)),
            sent_field: n16(f(LEG_SENT_FIELD)),
            shift_to: b.get(f(LEG_SHIFT_TO)) as u8,
        };
    }
    let policy = match b.get(POLICY) {
        0 => Policy::KeyHash {
            offset: n16(KEY_OFFSET),
            len: b.get(KEY_LEN) as u8,
        },
        1 => Policy::RoundRobin,
        _ => Policy::SpeedSensitive,
    };
    let key = HashKey([0, 1, 2, 3].map(|i| n32(key_word(i))));
    FlowRecord {
        peer: addr(PEER_IP, PEER_PORT),
        vip: addr(VIP_IP, VIP_PORT),
        w: n16(W),
        out_left: n32(OUT_LEFT),
        out_lidx: n16(OUT_LIDX),
        out_next_fseq: n32(OUT_NEXT_FSEQ),
        out_idx: n16(OUT_IDX),
        out_next: n32(OUT_NEXT),
        min_out_frame: n16(MIN_OUT_FRAME),
        out_ack: n32(OUT_ACK),
        peer_edge: n32(PEER_EDGE),
        peer_wnd_field: n16(PEER_WND_FIELD),
        peer_shift: b.get(PEER_SHIFT) as u8,
        in_left: n32(IN_LEFT),
        in_idx: n16(IN_IDX),
        in_next_fseq: n32(IN_NEXT_FSEQ),
        in_next_idx: n16(IN_NEXT_IDX),
        in_next: n32(IN_NEXT),
        in_ack: n32(IN_ACK),
        min_in_frame: n16(MIN_IN_FRAME),
        frame_max: n16(FRAME_MAX),
        alrm: FrameAlrm::resume(policy, key, n32(TURN)),
        vip_shift: b.get(VIP_SHIFT) as u8,
        adv_ack: n32(ADV_ACK),
        adv_edge: n32(ADV_EDGE),
        adv_field: n16(ADV_FIELD),
        nlegs: b.get(NLEGS) as u8,
        legs,
    }
}

/// A ring entry as the device holds it: 83 bits in 3 words.
pub fn pack_entry(e: &RingEntry) -> [u32; RING_WORDS] {
    let mut words = [0; RING_WORDS];
    let mut b = Bits(&mut words);
    b.put(E_LEG, e.leg.into());
    b.put(E_MEMBER_SEQ, e.member_seq.into());
    b.put(E_PEER_SEQ, e.peer_seq.into());
    b.put(E_LEN, e.len.into());
    words
}

/// The entry of [`pack_entry`]'s words.
pub fn unpack_entry(words: &[u32; RING_WORDS]) -> RingEntry {
    let mut copy = *words;
    let b = Bits(&mut copy);
    RingEntry {
        leg: b.get(E_LEG) as u8,
        member_seq: b.get(E_MEMBER_SEQ) as u32,
        peer_seq: b.get(E_PEER_SEQ) as u32,
        len: b.get(E_LEN) as u16,
    }
}
