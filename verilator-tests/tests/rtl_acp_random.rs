//! The RTL's ACP engine against the spec engine on random records and segments in both
//! directions: corners the recorded runs of rtl_acp_offload.rs do not reach (the summed window, a
//! frame that retires inbound frames, sequence wrap, full rings, MAX_RETIRE retirements either way,
//! saturated window fields, every ALRM, retransmissions of frames in flight, malformed segments).
//! Each segment's output, the record, the taken counts and the entries of both rings must match.

use std::net::{Ipv4Addr, SocketAddrV4};

use acp::wire::{self, Flags};
use anypoint_model::frame_switch::fast::{
    Engine, Entries, FastLeg, FlowRecord, Ring, RingEntry, SpecEngine, TakenCount,
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

/// `n` ring entries of consecutive peer sequence numbers ending at `end`, of random members among
/// the first `nlegs` and member sequence numbers near `member(leg)`.
fn entries(
    r: &mut Prng,
    n: u32,
    end: u32,
    nlegs: usize,
    member: impl Fn(&mut Prng, usize) -> u32,
) -> Vec<RingEntry> {
    let lens: Vec<u16> = (0..n)
        .map(|_| {
            if r.chance(70) {
                8 + r.below(200) as u16
            } else {
                1 + r.below(1500) as u16
            }
        })
        .collect();
    let mut peer_seq = end.wrapping_sub(lens.iter().map(|&l| u32::from(l)).sum());
    lens.into_iter()
        .map(|len| {
            let leg = r.below(nlegs as u32) as u8;
            let e = RingEntry {
                leg,
                member_seq: member(r, usize::from(leg)),
                peer_seq,
                len,
            };
            peer_seq = peer_seq.wrapping_add(u32::from(len));
            e
        })
        .collect()
}

fn record(r: &mut Prng) -> (FlowRecord, Entries) {
    let wmax = if r.chance(20) { 512 } else { 40 };
    let w = 1 + r.below(wmax) as u16;
    let out_left = r32(r);
    let n_out = if r.chance(70) {
        r.below(u32::from(w).min(12) + 1)
    } else {
        r.below(u32::from(w) + 1)
    };
    let out_next_fseq = out_left.wrapping_add(n_out);
    let in_left = r32(r);
    let n_in = r.below(u32::from(w).min(14) + 1);
    let in_next_fseq = in_left.wrapping_add(n_in);
    let mut legs = [FastLeg::default(); MAX_ACTIVE];
    let nlegs = 1 + r.below(MAX_ACTIVE as u32) as usize;
    for (i, l) in legs.iter_mut().enumerate().take(nlegs) {
        let next = r32(r);
        let span = if r.chance(50) { 20000 } else { 3 };
        let una = next.wrapping_sub(r.below(span));
        let out_next = r32(r);
        let ack = out_next.wrapping_sub(r.below(30000));
        let promise = if r.chance(10) {
            r32(r)
        } else {
            out_next.wrapping_add(r.below(60000)).wrapping_sub(20000)
        };
        let shift_to = r.below(15) as u8;
        *l = FastLeg {
            fast: r.chance(85),
            takes: r.chance(80),
            member: SocketAddrV4::new(Ipv4Addr::new(10, 1, 0, i as u8), 6000 + i as u16),
            out_next,
            next,
            una,
            edge: if r.chance(10) {
                r32(r)
            } else {
                near(r, una, 200000)
            },
            shift_from: r.below(15) as u8,
            ack,
            promise,
            sent_ack: if r.chance(60) { ack } else { r32(r) },
            sent_field: if r.chance(30) {
                r.below(65536) as u16
            } else {
                (promise.wrapping_sub(ack) >> shift_to).min(0xffff) as u16
            },
            shift_to,
        };
    }
    let in_next = r32(r);
    let inbound = entries(r, n_in, in_next, nlegs, |r, leg| {
        if r.chance(80) {
            legs[leg].next.wrapping_sub(1500 + r.below(20000))
        } else {
            r32(r)
        }
    });
    let out_next = r32(r);
    let outbound = entries(r, n_out, out_next, nlegs, |r, leg| {
        legs[leg]
            .ack
            .wrapping_add(r.below(40000))
            .wrapping_sub(20000)
    });
    let out_ack = match (outbound.first(), r.below(4)) {
        (Some(e), 0..=2) => e.peer_seq,
        _ => out_next.wrapping_sub(r.below(3000)),
    };
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
        out_next,
        min_out_frame: if r.chance(80) {
            8 + r.below(1500) as u16
        } else {
            r.below(65536) as u16
        },
        out_ack,
        peer_edge: if r.chance(80) {
            near(r, out_ack, 400000)
        } else {
            r32(r)
        },
        peer_wnd_field: r.below(65536) as u16,
        peer_shift: r.below(15) as u8,
        in_left,
        in_idx: (in_left % u32::from(w)) as u16,
        in_next_fseq,
        in_next_idx: (in_next_fseq % u32::from(w)) as u16,
        in_next,
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
    (rec, Entries { inbound, outbound })
}

/// A random flag byte now and then, ACK with PSH sometimes, else ACK.
fn flags(r: &mut Prng) -> Flags {
    if r.chance(5) {
        Flags(r.below(256) as u8)
    } else if r.chance(20) {
        Flags(0x18)
    } else {
        Flags::ACK
    }
}

/// The segment of `h` and `payload`.
fn packet(h: &wire::Header, payload: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> Packet {
    let mut segment = Vec::new();
    wire::emit_segment(h, payload, src, dst, &mut segment);
    Packet { src, dst, segment }
}

/// [`packet`] with a bit flipped now and then.
fn emit(r: &mut Prng, h: &wire::Header, payload: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> Packet {
    let mut p = packet(h, payload, src, dst);
    if r.chance(3) {
        let i = r.below(p.segment.len() as u32) as usize;
        p.segment[i] ^= 1 << r.below(8);
    }
    p
}

/// A frame of `n` data bytes, cut short now and then.
fn frame(r: &mut Prng, fseq: u32, n: usize) -> Vec<u8> {
    let mut payload = Vec::new();
    wire::emit_frame(fseq, r.below(256) as u8, &r.bytes(n), &mut payload);
    if r.chance(3) {
        payload.truncate(r.below(payload.len() as u32) as usize);
    }
    payload
}

/// A segment from a member: no frame, its next frame, a retransmission of the oldest outbound frame
/// in flight (sent by its member, or by another), or a frame elsewhere.
fn member_segment(r: &mut Prng, rec: &FlowRecord, engine: &mut impl Engine, slot: usize) -> Packet {
    let mut li = r.below(MAX_ACTIVE as u32) as usize;
    let mut seq = None;
    let mut payload = Vec::new();
    if rec.out_left != rec.out_next_fseq && r.chance(20) {
        let e = engine.ring(slot, Ring::Out, rec.out_lidx);
        if r.chance(85) {
            li = usize::from(e.leg);
        }
        seq = Some(if r.chance(85) {
            e.member_seq
        } else {
            near(r, e.member_seq, 3).wrapping_sub(1)
        });
        let n = usize::from(e.len).max(8) - 8;
        let n = if r.chance(90) {
            n
        } else {
            r.below(40) as usize
        };
        let fseq = r32(r);
        payload = frame(r, fseq, n);
    } else if r.chance(50) {
        let nmax = if r.chance(10) { 1500 } else { 40 };
        let (fseq, n) = (r32(r), r.below(nmax) as usize);
        payload = frame(r, fseq, n);
    }
    let l = rec.legs[li];
    let seq = seq.unwrap_or(if r.chance(85) { l.out_next } else { r32(r) });
    let ack = match r.below(10) {
        0 => r32(r),
        1 => l.una,
        2 => l.next,
        _ => near(r, l.una, l.next.wrapping_sub(l.una).max(1)),
    };
    let h = wire::Header {
        src_port: if r.chance(3) { 1 } else { l.member.port() },
        dst_port: if r.chance(3) { 2 } else { rec.peer.port() },
        seq,
        ack,
        flags: flags(r),
        window: if r.chance(10) {
            0xffff
        } else {
            r.below(65536) as u16
        },
        ..wire::Header::default()
    };
    emit(r, &h, &payload, *l.member.ip(), *rec.peer.ip())
}

/// A segment from the peer: an ack at the end of an outbound frame in flight or elsewhere, and no
/// frame, the peer's next, a retransmission of an inbound frame in flight, or another; or a
/// duplicate ack.
fn peer_segment(r: &mut Prng, rec: &FlowRecord, engine: &mut impl Engine, slot: usize) -> Packet {
    if r.chance(6) {
        let h = wire::Header {
            src_port: rec.peer.port(),
            dst_port: rec.vip.port(),
            seq: rec.in_next,
            ack: rec.out_ack,
            flags: Flags::ACK,
            window: rec.peer_wnd_field,
            ..wire::Header::default()
        };
        // Exact: every duplicate counts, taken or given back.
        return packet(&h, &[], *rec.peer.ip(), *rec.vip.ip());
    }
    let w = u32::from(rec.w);
    let (n_in, n_out) = (
        rec.in_next_fseq.wrapping_sub(rec.in_left),
        rec.out_next_fseq.wrapping_sub(rec.out_left),
    );
    let mut seq = rec.in_next;
    let mut payload = Vec::new();
    if r.chance(55) {
        let nmax = if r.chance(10) { 1400 } else { 48 };
        let n = r.below(nmax) as usize;
        payload = match r.below(10) {
            0..=4 => frame(r, rec.in_next_fseq, n),
            5..=7 if n_in > 0 => {
                let k = r.below(n_in);
                let idx = ((u32::from(rec.in_idx) + k) % w) as u16;
                let e = engine.ring(slot, Ring::In, idx);
                seq = e.peer_seq;
                let len = usize::from(e.len).max(8) - 8;
                frame(r, rec.in_left.wrapping_add(k), len)
            }
            _ => {
                seq = near(r, rec.in_next, 3000).wrapping_sub(1500);
                let fseq = near(r, rec.in_left, 20).wrapping_sub(4);
                frame(r, fseq, n)
            }
        };
    }
    let ack = match r.below(10) {
        0 => r32(r),
        1 => rec.out_ack,
        2 => rec.out_next,
        3..=6 if n_out > 0 => {
            let k = r.below(n_out.min(12));
            let e = engine.ring(slot, Ring::Out, ((u32::from(rec.out_lidx) + k) % w) as u16);
            e.peer_seq.wrapping_add(u32::from(e.len))
        }
        _ => near(
            r,
            rec.out_ack,
            rec.out_next.wrapping_sub(rec.out_ack).max(1),
        ),
    };
    let h = wire::Header {
        src_port: if r.chance(3) { 1 } else { rec.peer.port() },
        dst_port: if r.chance(3) { 2 } else { rec.vip.port() },
        seq,
        ack,
        flags: flags(r),
        window: match r.below(10) {
            0 => 0xffff,
            1..=2 => rec.peer_wnd_field,
            _ => r.below(65536) as u16,
        },
        ..wire::Header::default()
    };
    emit(r, &h, &payload, *rec.peer.ip(), *rec.vip.ip())
}

/// Random records, each with up to 8 segments either way, through the RTL and `spec` in lockstep.
fn random_records_and_segments(spec: &mut impl Engine) {
    let mut r = Prng::new(99);
    let mut rtl = RtlAcpOut::new(200, 3);
    // Members' direction: taken segments by kind (pure ack, frame) and inbound frames retired, and
    // by policy offering the sum.
    let mut retired = [[0u32; 9]; 2];
    let mut summed = [0u32; 2];
    let mut silent = 0;
    // Peer's direction: outbound frames retired, new frames by policy, pure acks sent.
    let mut out_retired = [0u32; 9];
    let mut by_policy = [0u32; 3];
    // Pure acks a peer segment sent: up to 8 in member order and a duplicate's answer.
    let mut acks = [0u32; 10];
    // Duplicate peer acks with frames in flight: taken (answered to the oldest frame's member), and
    // given back when that member takes no frames.
    let mut dups = [0u32; 2];
    let mut taken = TakenCount::default();
    let mut cycles = [(0u64, 0u64); 6];
    for trial in 0..4000 {
        let (rec, in_flight) = record(&mut r);
        assert!(rtl.load(0, &rec, &in_flight));
        assert!(spec.load(0, &rec, &in_flight));
        for k in 0..8 {
            let before = spec.read(0);
            let pkt = if r.chance(50) {
                peer_segment(&mut r, &before, spec, 0)
            } else {
                member_segment(&mut r, &before, spec, 0)
            };
            let (got, want) = (rtl.send(&pkt), spec.send(&pkt));
            assert_eq!(got, want, "trial {trial} segment {k}: {before:?} {pkt:?}");
            let now = spec.read(0);
            assert_eq!(rtl.read(0), now, "trial {trial} segment {k}: record");
            let count = spec.taken(0);
            assert_eq!(rtl.taken(0), count, "trial {trial} segment {k}: taken");
            compare_written(&mut rtl, spec, 0, &rec, &now, &format!("trial {trial}"));
            if is_peer_dup(&before, &pkt) {
                let oldest = spec.ring(0, Ring::Out, before.out_lidx);
                match (&want, before.legs[usize::from(oldest.leg)].takes) {
                    (Ok(_), _) => dups[0] += 1,
                    (Err(_), false) => dups[1] += 1,
                    _ => {}
                }
            }
            let Ok(out) = want else { break };
            let before_count = taken;
            taken = count;
            let kind = [
                count.out_data - before_count.out_data,
                count.out_ack - before_count.out_ack,
                count.in_data - before_count.in_data,
                count.in_rtx - before_count.in_rtx,
                count.in_ack - before_count.in_ack,
                count.out_rtx - before_count.out_rtx,
            ]
            .iter()
            .position(|&d| d == 1)
            .expect("one kind taken");
            cycles[kind].0 += 1;
            cycles[kind].1 += rtl.stats.last_cycles;
            if pkt.dst == *before.vip.ip() {
                out_retired[now.out_left.wrapping_sub(before.out_left) as usize] += 1;
                if kind == 2 {
                    by_policy[policy_index(before.alrm.policy())] += 1;
                }
                acks[out.len() - usize::from(pkt.segment.len() > 20)] += 1;
            } else {
                let data = usize::from(pkt.segment.len() > 20);
                retired[data][now.in_left.wrapping_sub(before.in_left) as usize] += 1;
                summed[data] += u32::from(before.alrm.policy().offers_sum());
                silent += u32::from(out.is_empty());
            }
        }
        taken = TakenCount::default();
    }
    println!("random: members' direction: retired by kind {retired:?}, summed {summed:?}, {silent} sent nothing");
    println!("random: peer's direction: retired {out_retired:?}, new frames by policy {by_policy:?}, pure acks sent {acks:?}");
    let kinds = [
        "out_data", "out_ack", "in_data", "in_rtx", "in_ack", "out_rtx",
    ];
    for (name, (n, c)) in kinds.iter().zip(cycles) {
        println!(
            "random: {name}: {n} taken, {:.1} clocks per segment",
            c as f64 / n.max(1) as f64
        );
    }
    assert!(retired.iter().flatten().all(|&n| n > 0) && summed.iter().all(|&n| n > 0));
    assert!(silent > 0);
    assert!(out_retired.iter().all(|&n| n > 0), "{out_retired:?}");
    assert!(by_policy.iter().all(|&n| n > 0) && cycles.iter().all(|&(n, _)| n > 0));
    assert!(acks[0] > 0 && acks[1] > 0 && acks[2] > 0, "{acks:?}");
    println!("random: duplicate peer acks taken, given back (member takes no frames): {dups:?}");
    assert!(dups.iter().all(|&n| n > 0), "{dups:?}");
}

/// Whether `pkt` is a duplicate ack from the flow's peer: pure, the ack and window of the last,
/// frames in flight to the peer.
fn is_peer_dup(rec: &FlowRecord, pkt: &Packet) -> bool {
    let s = &pkt.segment;
    pkt.src == *rec.peer.ip()
        && s.len() == 20
        && u32::from_be_bytes([s[8], s[9], s[10], s[11]]) == rec.out_ack
        && u16::from_be_bytes([s[14], s[15]]) == rec.peer_wnd_field
        && rec.out_left != rec.out_next_fseq
}

fn policy_index(p: Policy) -> usize {
    match p {
        Policy::KeyHash { .. } => 0,
        Policy::RoundRobin => 1,
        Policy::SpeedSensitive => 2,
    }
}

#[test]
fn random_records_and_segments_either_way() {
    random_records_and_segments(&mut SpecEngine::new(2, 512));
}

/// The ring entries the engine wrote in slot `slot` since `loaded` was loaded, both rings, the
/// RTL's against the spec's.
fn compare_written(
    rtl: &mut RtlAcpOut,
    spec: &mut impl Engine,
    slot: usize,
    loaded: &FlowRecord,
    now: &FlowRecord,
    what: &str,
) {
    let written = [
        (
            Ring::Out,
            loaded.out_idx,
            now.out_next_fseq.wrapping_sub(loaded.out_next_fseq),
        ),
        (
            Ring::In,
            loaded.in_next_idx,
            now.in_next_fseq.wrapping_sub(loaded.in_next_fseq),
        ),
    ];
    for (ring, from, n) in written {
        for f in 0..n {
            let idx = ((u32::from(from) + f) % u32::from(loaded.w)) as u16;
            assert_eq!(
                rtl.ring(slot, ring, idx),
                spec.ring(slot, ring, idx),
                "{what}: slot {slot} {ring:?} ring {idx}"
            );
        }
    }
}

/// Batches of segments streamed into the RTL back to back (`RtlAcpOut::send_batch`: up to eight
/// segments in the engine at once) on two flows loaded in both slots, against the spec engine
/// taking the same segments one at a time: each segment's outputs or its giving back, then both
/// slots' records, taken counts and written ring entries. Each segment is made from the spec's
/// state after the ones before it, so most are taken; a segment given back invalidates its slot
/// and the rest of that flow's segments in the batch must be given back too, while the other
/// slot's are still taken.
fn batches_streamed(spec: &mut impl Engine) {
    let mut r = Prng::new(41);
    let mut rtl = RtlAcpOut::new(200, 5);
    // Segments taken by kind, given back, and taken after a segment of the batch was given back.
    let mut taken = TakenCount::default();
    let (mut segments, mut given_back, mut taken_after_back, mut behind_invalid) = (0, 0, 0, 0);
    for batch in 0..4000 {
        let mut loaded = Vec::new();
        for slot in 0..2 {
            let (mut rec, in_flight) = record(&mut r);
            rec.peer = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1 + slot as u8), 5000);
            assert!(rtl.load(slot, &rec, &in_flight));
            assert!(spec.load(slot, &rec, &in_flight));
            loaded.push(rec);
        }
        let n = 1 + r.below(12) as usize;
        let mut pkts = Vec::with_capacity(n);
        let mut want = Vec::with_capacity(n);
        let mut invalid = [false; 2];
        for _ in 0..n {
            let slot = r.below(2) as usize;
            let before = spec.read(slot);
            let pkt = if r.chance(50) {
                peer_segment(&mut r, &before, spec, slot)
            } else {
                member_segment(&mut r, &before, spec, slot)
            };
            let result = spec.send(&pkt);
            behind_invalid += u32::from(invalid[slot]);
            if result.is_err() {
                invalid[slot] = true;
            }
            pkts.push(pkt);
            want.push(result);
        }
        let got = rtl.send_batch(&pkts);
        let mut back = false;
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "batch {batch} segment {k} of {n}: {:?}", pkts[k]);
            segments += 1;
            if w.is_err() {
                given_back += 1;
                back = true;
            } else if back {
                taken_after_back += 1;
            }
        }
        for (slot, rec) in loaded.iter().enumerate() {
            let what = format!("batch {batch}");
            let now = spec.read(slot);
            assert_eq!(rtl.read(slot), now, "{what}: slot {slot} record");
            let count = spec.taken(slot);
            assert_eq!(rtl.taken(slot), count, "{what}: slot {slot} taken");
            compare_written(&mut rtl, spec, slot, rec, &now, &what);
            taken.add(&count);
        }
    }
    let s = rtl.stats;
    println!(
        "batches: {segments} segments, {given_back} given back, {taken_after_back} taken after one \
         given back in their batch, {behind_invalid} behind their flow's given back; taken {taken:?}; \
         {:.1} clocks per segment streamed",
        s.batch_cycles as f64 / segments as f64
    );
    assert!(given_back > 0 && taken_after_back > 0 && behind_invalid > 0);
    assert!(taken.by_kind().iter().all(|&(_, n)| n > 0), "{taken:?}");
}

#[test]
fn batches_streamed_on_two_flows() {
    batches_streamed(&mut SpecEngine::new(2, 512));
}

/// Segments of no loaded flow, 4,000 to 9,199 bytes, streamed back to back with the egress held off
/// 90% of the clocks: a few fill the engine's ring of beats (4,096), so the input must wait for room.
/// Every segment must come back given back, unchanged and in order: a beat written over one not yet
/// sent would show.
#[test]
fn long_segments_wait_for_room_in_the_ring() {
    let mut r = Prng::new(43);
    let mut rtl = RtlAcpOut::new(900, 11);
    for batch in 0..12 {
        let pkts: Vec<Packet> = (0..8)
            .map(|_| Packet {
                src: Ipv4Addr::from(r32(&mut r)),
                dst: Ipv4Addr::from(r32(&mut r)),
                segment: (0..4000 + r.below(5200))
                    .map(|_| r.below(256) as u8)
                    .collect(),
            })
            .collect();
        for (k, (got, sent)) in rtl.send_batch(&pkts).iter().zip(&pkts).enumerate() {
            assert!(
                got.as_ref() == Err(sent),
                "batch {batch} segment {k} changed"
            );
        }
    }
    assert_eq!(rtl.stats.given_back, 96);
    // More beats than the ring holds were in at once: the input waited.
    assert!(rtl.stats.batch_in_stall > 0);
}
