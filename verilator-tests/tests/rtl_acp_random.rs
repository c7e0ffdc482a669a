//! The RTL's ACP engine against the spec engine on random records and segments: corners the
//! recorded runs of rtl_acp_offload.rs do not reach (the summed window, a frame that retires
//! inbound frames, sequence wrap, a full outbound ring, MAX_RETIRE retirements, a saturated window
//! field, malformed segments). Each segment's output, the record, the taken counts and the
//! outbound ring entries must match.

use std::net::{Ipv4Addr, SocketAddrV4};

use acp::wire::{self, Flags};
use anypoint_model::frame_switch::fast::{
    Engine, Entries, FastLeg, FlowRecord, Ring, RingEntry, SpecEngine,
};
use anypoint_model::frame_switch::{FrameAlrm, Packet, Policy, MAX_ACTIVE};
use anypoint_model::hash::HashKey;
use verilator_tests::acp_out::RtlAcpOut;
use verilator_tests::prng::Prng;

fn r32(r: &mut Prng) -> u32 {
    r.next_u64() as u32
}

fn near(r: &mut Prng, base: u32, span: u32) -> u32 {
    base.wrapping_add(r.below(span))
}

fn record(r: &mut Prng) -> (FlowRecord, Entries) {
    let wmax = if r.chance(20) { 512 } else { 40 };
    let w = 1 + r.below(wmax) as u16;
    let out_left = r32(r);
    let out_next_fseq = out_left.wrapping_add(r.below(u32::from(w) + 1));
    let in_left = r32(r);
    let n_in = r.below(u32::from(w).min(14) + 1);
    let in_next_fseq = in_left.wrapping_add(n_in);
    let mut legs = [FastLeg::default(); MAX_ACTIVE];
    let nlegs = 1 + r.below(MAX_ACTIVE as u32) as usize;
    for (i, l) in legs.iter_mut().enumerate().take(nlegs) {
        let next = r32(r);
        let span = if r.chance(50) { 20000 } else { 3 };
        let una = next.wrapping_sub(r.below(span));
        *l = FastLeg {
            fast: r.chance(85),
            takes: r.chance(80),
            member: SocketAddrV4::new(Ipv4Addr::new(10, 1, 0, i as u8), 6000 + i as u16),
            out_next: r32(r),
            next,
            una,
            edge: if r.chance(10) {
                r32(r)
            } else {
                near(r, una, 200000)
            },
            shift_from: r.below(15) as u8,
            ack: r32(r),
            promise: r32(r),
            sent_ack: r32(r),
            sent_field: r.below(65536) as u16,
            shift_to: r.below(15) as u8,
        };
    }
    let inbound = (0..n_in)
        .map(|_| {
            let leg = r.below(nlegs as u32) as u8;
            let l = legs[usize::from(leg)];
            let len = 1 + r.below(1500) as u16;
            RingEntry {
                leg,
                member_seq: if r.chance(80) {
                    l.next.wrapping_sub(u32::from(len) + r.below(20000))
                } else {
                    r32(r)
                },
                peer_seq: r32(r),
                len,
            }
        })
        .collect();
    let in_ack = r32(r);
    let policy = match r.below(3) {
        0 => Policy::KeyHash {
            offset: r.below(40) as u16,
            len: 1 + r.below(16) as u8,
        },
        1 => Policy::RoundRobin,
        _ => Policy::SpeedSensitive,
    };
    let out_lidx = (out_left % u32::from(w)) as u16;
    let rec = FlowRecord {
        peer: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 5000),
        vip: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 100), 80),
        w,
        out_left,
        out_lidx,
        out_next_fseq,
        out_idx: (out_next_fseq % u32::from(w)) as u16,
        out_next: r32(r),
        min_out_frame: r.below(65536) as u16,
        out_ack: r32(r),
        peer_edge: r32(r),
        peer_wnd_field: r.below(65536) as u16,
        peer_shift: r.below(15) as u8,
        in_left,
        in_idx: (in_left % u32::from(w)) as u16,
        in_next_fseq,
        in_next_idx: (in_next_fseq % u32::from(w)) as u16,
        in_next: near(r, in_ack, 100000),
        in_ack,
        min_in_frame: r.below(3000) as u16,
        frame_max: if r.chance(20) {
            r.below(65536) as u16
        } else {
            r.below(3000) as u16
        },
        alrm: FrameAlrm::resume(policy, HashKey([r32(r), r32(r), r32(r), r32(r)]), r32(r)),
        vip_shift: r.below(15) as u8,
        adv_ack: if r.chance(50) { in_ack } else { r32(r) },
        adv_edge: r32(r),
        adv_field: r.below(65536) as u16,
        nlegs: nlegs as u8,
        legs,
    };
    let in_flight = Entries {
        inbound,
        outbound: Vec::new(),
    };
    (rec, in_flight)
}

fn segment(r: &mut Prng, rec: &FlowRecord) -> Packet {
    let li = r.below(MAX_ACTIVE as u32) as usize;
    let l = rec.legs[li];
    let data = r.chance(50);
    let mut payload = Vec::new();
    if data {
        let nmax = if r.chance(10) { 1500 } else { 40 };
        let n = r.below(nmax) as usize;
        wire::emit_frame(r32(r), r.below(256) as u8, &r.bytes(n), &mut payload);
        if r.chance(3) {
            payload.truncate(r.below(payload.len() as u32) as usize);
        }
    }
    let ack = match r.below(10) {
        0 => r32(r),
        1 => l.una,
        2 => l.next,
        _ => near(r, l.una, l.next.wrapping_sub(l.una).max(1)),
    };
    let h = wire::Header {
        src_port: if r.chance(3) { 1 } else { l.member.port() },
        dst_port: if r.chance(3) { 2 } else { rec.peer.port() },
        seq: if r.chance(85) { l.out_next } else { r32(r) },
        ack,
        flags: if r.chance(5) {
            Flags(r.below(256) as u8)
        } else if r.chance(20) {
            Flags(0x18)
        } else {
            Flags::ACK
        },
        window: if r.chance(10) {
            0xffff
        } else {
            r.below(65536) as u16
        },
        ..wire::Header::default()
    };
    let (src, dst) = (*l.member.ip(), *rec.peer.ip());
    let mut segment = Vec::new();
    wire::emit_segment(&h, &payload, src, dst, &mut segment);
    if r.chance(3) {
        let i = r.below(segment.len() as u32) as usize;
        segment[i] ^= 1 << r.below(8);
    }
    Packet { src, dst, segment }
}

#[test]
fn random_records_and_segments() {
    let mut r = Prng::new(99);
    let mut rtl = RtlAcpOut::new(200, 3);
    let mut spec = SpecEngine::new(2, 512);
    // Taken segments by kind (pure ack, frame) and inbound frames retired, and by policy.
    let mut retired = [[0u32; 9]; 2];
    let mut summed = [0u32; 2];
    let mut silent = 0;
    for trial in 0..4000 {
        let (rec, inbound) = record(&mut r);
        rtl.load(0, &rec, &inbound);
        spec.load(0, &rec, &inbound);
        for k in 0..8 {
            let before = spec.read(0);
            let pkt = segment(&mut r, &before);
            let (got, want) = (rtl.send(&pkt), spec.send(&pkt));
            assert_eq!(got, want, "trial {trial} segment {k}: {before:?} {pkt:?}");
            let now = spec.read(0);
            assert_eq!(rtl.read(0), now, "trial {trial} segment {k}: record");
            assert_eq!(
                rtl.taken(0),
                spec.taken(0),
                "trial {trial} segment {k}: taken"
            );
            for f in 0..now.out_next_fseq.wrapping_sub(rec.out_next_fseq) {
                let idx = ((u32::from(rec.out_idx) + f) % u32::from(rec.w)) as u16;
                assert_eq!(
                    rtl.ring(0, Ring::Out, idx),
                    spec.ring(0, Ring::Out, idx),
                    "trial {trial}: ring {idx}"
                );
            }
            let Ok(out) = want else { break };
            let data = usize::from(pkt.segment.len() > 20);
            retired[data][now.in_left.wrapping_sub(before.in_left) as usize] += 1;
            summed[data] += u32::from(before.alrm.policy().offers_sum());
            silent += u32::from(out.is_empty());
        }
    }
    println!("random: retired by kind {retired:?}, summed {summed:?}, {silent} sent nothing");
    assert!(retired.iter().flatten().all(|&n| n > 0) && summed.iter().all(|&n| n > 0));
    assert!(silent > 0);
}
