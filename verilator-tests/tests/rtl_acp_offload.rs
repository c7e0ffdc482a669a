//! The RTL's ACP engine (acks, frames in sequence and retransmissions, either way) plus
//! the host equal the frame switch alone (docs/frame-switching.md section 9a): recorded simulated runs (loss, duplication,
//! reordering, a member removed) are replayed through `Offload<RtlAcpOut>` and, in lockstep,
//! through `Offload<SpecEngine>` (the model's engine). Every event must send what the switch alone sent,
//! the RTL must take exactly the segments the spec takes, and at the end the host must hold the
//! switch's flows and counters.

#[path = "../../firmware-model/tests/frame_switch/sim.rs"]
mod sim;

use std::time::Duration;

use anypoint_model::frame_switch::fast::{Offload, SpecEngine, TakenCount};
use anypoint_model::frame_switch::{Kind, Policy};
use sim::{check, Impair, Setup, Sim, Step};
use verilator_tests::acp_out::RtlAcpOut;

/// The kind of the one segment counted between `before` and `after`, if any.
fn kind_taken(before: &TakenCount, after: &TakenCount) -> Option<Kind> {
    let after = after.by_kind();
    before
        .by_kind()
        .iter()
        .zip(after)
        .find(|((_, b), (_, a))| a != b)
        .map(|(_, (k, _))| k)
}

/// Replays `setup` through the RTL engine (egress held off `backpressure` per mille of clocks);
/// returns the segments it took, by kind.
fn replay(mut setup: Setup, requests: u32, backpressure: u64) -> TakenCount {
    setup.record = true;
    let w = setup.w;
    let host = || sim::switch(&setup);
    let (rtl_host, spec_host) = (host(), host());
    let o = Sim::new(setup).run(Duration::from_secs(300));
    check(&o, requests, w, 8).unwrap();
    let mut rtl = Offload::new(rtl_host, RtlAcpOut::new(backpressure, 7));
    let mut spec = Offload::new(spec_host, SpecEngine::new(2, w));
    // Segments and clocks, by kind taken and given back.
    let mut clocks: Vec<(Option<Kind>, u64, u64)> = Vec::new();
    for (i, step) in o.trace.iter().enumerate() {
        let before = spec.engine.taken_total();
        let (got, by_spec, want) = match step {
            Step::Segment(pkt, want) => (rtl.receive(pkt), spec.receive(pkt), want),
            Step::Remove(id, want) => (rtl.remove_member(*id), spec.remove_member(*id), want),
        };
        assert_eq!(&by_spec, want, "event {i}: the spec engine");
        if &got != want {
            panic!(
                "event {i}: {step:?}\nRTL sent {got:?}\nthe switch alone sent {want:?}",
                step = match step {
                    Step::Segment(p, _) => format!("segment {p:?}"),
                    Step::Remove(id, _) => format!("member {id} removed"),
                }
            );
        }
        assert_eq!(
            rtl.engine.stats.taken,
            spec.engine.taken_total().total(),
            "event {i}: the RTL took a different segment than the spec"
        );
        if let Step::Segment(..) = step {
            let kind = kind_taken(&before, &spec.engine.taken_total());
            let c = rtl.engine.stats.last_cycles;
            match clocks.iter_mut().find(|(k, _, _)| *k == kind) {
                Some(e) => (e.1, e.2) = (e.1 + 1, e.2 + c),
                None => clocks.push((kind, 1, c)),
            }
        }
    }
    rtl.sync();
    spec.sync();
    // The same segments taken, kind by kind (the RTL's counts by kind against the spec's).
    assert_eq!(
        rtl.device, spec.device,
        "segments taken by kind: the RTL's, the spec's"
    );
    assert_eq!(rtl.device, spec.engine.taken_total());
    assert_eq!(rtl.host.counters(), &o.counters);
    let flows = rtl.host.describe();
    assert_eq!(flows, o.flows[..flows.len()]);
    let s = rtl.engine.stats;
    println!(
        "RTL engine: {} segments taken, {} given back, {:.1} clocks per segment",
        s.taken,
        s.given_back,
        s.cycles as f64 / (s.taken + s.given_back).max(1) as f64
    );
    clocks.sort_by_key(|(k, _, _)| k.map(|k| k.name()));
    for (k, n, c) in clocks {
        let name = k.map_or("given back", |k| k.name());
        println!("  {name}: {n}, {:.1} clocks each", c as f64 / n as f64);
    }
    assert_eq!(rtl.device.total(), s.taken);
    rtl.device
}

#[test]
fn one_frame_per_segment_through_a_lossy_link() {
    let mut setup = Setup::new(
        Policy::KeyHash { offset: 4, len: 4 },
        1500,
        Impair::lossy(),
        6,
    );
    setup.pad = Some(1400);
    let taken = replay(setup, 1500, 0);
    assert!(taken.total() > 200, "{taken:?} taken");
    assert!(taken.in_ack > 0 && taken.in_data > 0, "{taken:?} taken");
    assert!(taken.in_rtx > 0 && taken.out_rtx > 0, "{taken:?} taken");
}

/// A 32-entry ring the engine goes round several times while it holds the flow: the host takes
/// back only the entries of frames still in flight, some in slots of frames retired since.
#[test]
fn the_engine_runs_round_a_small_ring_between_loads() {
    let mut setup = Setup::new(Policy::RoundRobin, 2000, Impair::lossy(), 5);
    setup.pad = Some(1400);
    setup.w = 32;
    let taken = replay(setup, 2000, 0);
    assert!(taken.in_data > 64, "{taken:?} taken");
}

#[test]
fn speed_sensitive_small_frames_with_egress_backpressure() {
    let setup = Setup::new(Policy::SpeedSensitive, 1500, Impair::lossy(), 11);
    let taken = replay(setup, 1500, 300);
    assert!(taken.in_data > 0, "{taken:?} taken");
}

#[test]
fn a_member_removed_mid_connection() {
    let mut setup = Setup::new(
        Policy::KeyHash { offset: 4, len: 4 },
        1500,
        Impair::lossy(),
        4,
    );
    setup.pad = Some(600);
    setup.remove = Some((1, 500));
    let taken = replay(setup, 1500, 100);
    assert!(taken.total() > 0, "{taken:?} taken");
}
