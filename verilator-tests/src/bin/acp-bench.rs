//! `acp-bench`: clocks the Verilated ACP engine (`hw/rtl/anypoint_acp_out.sv`) spends on a
//! frame-switched connection.
//!
//! A simulated run (firmware-model/tests/frame_switch/sim.rs: one ACP client sending request
//! frames of `--frame-size` bytes of data over one connection, `--servers` servers each answering
//! every request with a frame one byte longer) is recorded at the switch and replayed through the engine
//! plus the host (`Offload`), with the model's engine in lockstep naming each segment's kind.
//! Prints JSON: segments by kind the engine took with its clocks per segment (first beat in to
//! done, one segment at a time), the segments it gave back to the host, and its clocks per frame
//! switched (requests and replies). Then the run again on a fresh engine with the segments streamed
//! back to back (`streamed`): each run of segments the first pass saw the engine take goes in as one
//! batch, the others one at a time through the host; its clocks per segment and per frame are the
//! engine's throughput, `line_rate_percent` the segments' time on a 10 Gb/s wire over those clocks
//! (`wire_cycles`), with the clocks its input waited and the beats in and out. A segment given back
//! costs the engine its beats in and then out (the host acts before the next goes in), where a
//! device overlaps them with its neighbours' and leaves the host's time to the host:
//! `taken_line_rate_percent` is the same ratio over the batches alone, the common case the engine
//! takes.
//!
//! ```text
//! cargo run --release -p verilator-tests --bin acp-bench -- --frame-size 1024 --requests 2000
//! ```
//! `--policy key-hash|round-robin|speed-sensitive`, `--loss P` (per cent each way on the client's
//! link, with as much reordering), `--backpressure PERMILLE` (engine egress held off),
//! `--seed N`.

#[allow(dead_code)] // the tests' simulation; the bench uses part of it
#[path = "../../../firmware-model/tests/frame_switch/sim.rs"]
mod sim;

use std::collections::BTreeMap;
use std::time::Duration;

use anypoint_model::frame_switch::fast::{Offload, SpecEngine, TakenCount};
use anypoint_model::frame_switch::{FrameSwitch, Packet, Policy};
use serde_json::json;
use sim::{check, Impair, Setup, Sim, Step};
use verilator_tests::acp_out::RtlAcpOut;

struct Args {
    frame_size: u32,
    requests: u32,
    servers: usize,
    policy: Policy,
    loss: f64,
    backpressure: u64,
    seed: u64,
}

fn usage(msg: &str) -> ! {
    eprintln!("acp-bench: {msg}");
    eprintln!(
        "usage: acp-bench [--frame-size 8-8000] [--requests N] [--servers 1-8] \
         [--policy key-hash|round-robin|speed-sensitive] [--loss PERCENT] \
         [--backpressure PERMILLE] [--seed N]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        frame_size: 1024,
        requests: 2000,
        servers: 4,
        policy: Policy::RoundRobin,
        loss: 0.0,
        backpressure: 0,
        seed: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let num = || -> u64 {
            val.parse()
                .unwrap_or_else(|_| usage(&format!("{flag}: bad number `{val}`")))
        };
        match flag.as_str() {
            "--frame-size" => a.frame_size = num() as u32,
            "--requests" => a.requests = num() as u32,
            "--servers" => a.servers = num() as usize,
            "--policy" => {
                a.policy = match val.as_str() {
                    "key-hash" => Policy::KeyHash { offset: 4, len: 4 },
                    "round-robin" => Policy::RoundRobin,
                    "speed-sensitive" => Policy::SpeedSensitive,
                    _ => usage(&format!("--policy: unknown policy `{val}`")),
                }
            }
            "--loss" => {
                a.loss = val
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("--loss: bad number `{val}`")))
            }
            "--backpressure" => a.backpressure = num().min(999),
            "--seed" => a.seed = num(),
            other => usage(&format!("unknown argument `{other}`")),
        }
    }
    if !(8..=8000).contains(&a.frame_size) {
        usage("--frame-size: 8 to 8000 bytes");
    }
    if !(1..=8).contains(&a.servers) || a.requests == 0 {
        usage("--servers: 1 to 8; --requests: at least 1");
    }
    a
}

/// The kind of the one segment `after` counts beyond `before`.
fn kind_taken(before: &TakenCount, after: &TakenCount) -> Option<&'static str> {
    before
        .by_kind()
        .iter()
        .zip(after.by_kind())
        .find(|((_, b), (_, a))| a > b)
        .map(|(_, (k, _))| k.name())
}

/// The streamed pass: segments in batches and the engine's clocks for them all, the clocks a beat
/// in waited and the beats out.
struct Streamed {
    batched: u64,
    cycles: u64,
    /// Clocks of the batches, and their segments' wire clocks.
    batch_cycles: u64,
    batch_wire: f64,
    in_stall: u64,
    out_beats: u64,
}

/// Clocks of the 64-bit datapath at 161.13 MHz (10GBASE-R: 156.25 MHz x 66/64) for which a
/// segment's Ethernet frame holds a 10 Gb/s wire: IPv4 and Ethernet headers, FCS, padding to the
/// 64-byte minimum, preamble and inter-frame gap.
fn wire_cycles(segment_len: usize) -> f64 {
    let frame = (segment_len + 20 + 14 + 4).max(64);
    (frame + 20) as f64 * 8.0 / 10e9 * 161.132_812_5e6
}

/// Replays `trace` through a fresh engine and `host`, each run of segments the engine took (`took`)
/// streamed as one batch: the host does nothing between them, so the engine decides each as it did
/// one at a time.
fn stream(trace: &[Step], took: &[bool], host: FrameSwitch, a: &Args) -> Streamed {
    let mut rtl = Offload::new(host, RtlAcpOut::new(a.backpressure, a.seed));
    let segs: Vec<_> = trace
        .iter()
        .filter_map(|s| match s {
            Step::Segment(pkt, want) => Some((pkt, want)),
            _ => None,
        })
        .collect();
    let (mut batched, mut batch_cycles, mut batch_wire) = (0, 0, 0.0);
    let mut i = 0;
    while i < segs.len() {
        if !took[i] {
            let (pkt, want) = segs[i];
            assert!(
                &rtl.receive(pkt) == want,
                "streamed segment {i}: the engine plus the host differ"
            );
            i += 1;
            continue;
        }
        let end = (i..segs.len()).find(|&k| !took[k]).unwrap_or(segs.len());
        let pkts: Vec<Packet> = segs[i..end].iter().map(|(p, _)| (*p).clone()).collect();
        let before = rtl.engine.stats.batch_cycles;
        let outs = rtl.engine.send_batch(&pkts);
        batch_cycles += rtl.engine.stats.batch_cycles - before;
        batch_wire += pkts
            .iter()
            .map(|p| wire_cycles(p.segment.len()))
            .sum::<f64>();
        for (k, out) in outs.into_iter().enumerate() {
            assert!(
                out.as_ref() == Ok(segs[i + k].1),
                "streamed segment {}: the engine's outputs differ",
                i + k
            );
        }
        batched += pkts.len() as u64;
        i = end;
    }
    let s = rtl.engine.stats;
    Streamed {
        batched,
        cycles: s.batch_cycles,
        batch_cycles,
        batch_wire,
        in_stall: s.batch_in_stall,
        out_beats: s.batch_out_beats,
    }
}

fn main() {
    let a = parse_args();
    let mut setup = Setup::new(
        a.policy,
        a.requests,
        Impair {
            loss: a.loss / 100.0,
            dup: 0.0,
            reorder: a.loss / 100.0,
        },
        a.seed,
    );
    setup.servers = a.servers;
    // A request's data is its index and key, then the padding.
    setup.pad = Some(a.frame_size - 8);
    setup.record = true;
    let host = || sim::switch(&setup);
    let (rtl_host, spec_host, stream_host) = (host(), host(), host());
    let w = setup.w;
    let o = Sim::new(setup).run(Duration::from_secs(600));
    check(&o, a.requests, w, 8).unwrap_or_else(|e| panic!("the simulated run failed: {e}"));
    let mut rtl = Offload::new(rtl_host, RtlAcpOut::new(a.backpressure, a.seed));
    let mut spec = Offload::new(spec_host, SpecEngine::new(2, w));
    // Per kind the engine took (or "given_back"): segments and clocks.
    let mut by_kind: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut segments = 0u64;
    let (mut in_beats, mut wire) = (0u64, 0.0);
    // Whether the engine took each segment of the trace.
    let mut took = Vec::new();
    for (i, step) in o.trace.iter().enumerate() {
        let Step::Segment(pkt, want) = step else {
            continue;
        };
        let before = (spec.engine.taken_total(), rtl.engine.stats);
        let (got, by_spec) = (rtl.receive(pkt), spec.receive(pkt));
        assert!(
            &got == want && &by_spec == want,
            "segment {i}: the engine plus the host differ from the switch alone"
        );
        let s = rtl.engine.stats;
        took.push(s.taken > before.1.taken);
        let kind = if s.taken > before.1.taken {
            kind_taken(&before.0, &spec.engine.taken_total()).expect("the spec took it too")
        } else {
            "given_back"
        };
        let e = by_kind.entry(kind).or_default();
        e.0 += 1;
        e.1 += s.cycles - before.1.cycles;
        segments += 1;
        in_beats += pkt.segment.len().div_ceil(8) as u64;
        wire += wire_cycles(pkt.segment.len());
    }
    let cycles = rtl.engine.stats.cycles;
    let streamed = stream(&o.trace, &took, stream_host, &a);
    // Every request and every reply is a frame switched.
    let frames = 2 * u64::from(a.requests);
    let kinds: serde_json::Map<String, serde_json::Value> = by_kind
        .iter()
        .map(|(k, (n, c))| {
            let per = *c as f64 / *n as f64;
            (
                k.to_string(),
                json!({ "segments": n, "cycles_per_segment": per }),
            )
        })
        .collect();
    let out = json!({
        "frame_size": a.frame_size,
        "requests": a.requests,
        "servers": a.servers,
        "segments": segments,
        "taken": rtl.engine.stats.taken,
        "given_back": rtl.engine.stats.given_back,
        "kinds": kinds,
        "engine_cycles": cycles,
        "frames": frames,
        "engine_cycles_per_frame": cycles as f64 / frames as f64,
        "streamed": {
            "batched_segments": streamed.batched,
            "engine_cycles": streamed.cycles,
            "cycles_per_segment": streamed.cycles as f64 / segments as f64,
            "engine_cycles_per_frame": streamed.cycles as f64 / frames as f64,
            "ingress_beats": in_beats,
            "ingress_stall_cycles": streamed.in_stall,
            "egress_beats": streamed.out_beats,
            "wire_cycles_per_frame": wire / frames as f64,
            "line_rate_percent": 100.0 * wire / streamed.cycles as f64,
            "taken_line_rate_percent": 100.0 * streamed.batch_wire / streamed.batch_cycles as f64,
        },
    });
    println!("{}", serde_json::to_string_pretty(&out).expect("json"));
}
