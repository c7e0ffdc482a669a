//! The ACP block of a whole device plus the host equal the frame switch alone (docs/pipeline.md
//! section 12): recorded simulated runs (loss, duplication, reordering, a member removed) are
//! replayed through `Offload<DeviceEngine<_>>`, each segment a frame into the device's Ethernet
//! port and each segment it sends a frame out of the port of its neighbour entry, and in lockstep
//! through `Offload<SpecEngine>`. Every event must send what the switch alone sent, the device
//! must take exactly the segments the spec takes, and at the end the host must hold the switch's
//! flows and counters. The device is the model's `Switch` and the Verilated `anypoint_top` at both
//! widths.

#[path = "../../firmware-model/tests/frame_switch/sim.rs"]
mod sim;

use std::time::Duration;

use anypoint_driver::access::Backend;
use anypoint_model::frame_switch::fast::{Engine, Offload, SpecEngine};
use anypoint_model::frame_switch::Policy;
use anypoint_model::regs::reg;
use anypoint_model::Switch;
use sim::{check, server_addr, Impair, Setup, Sim, Step};
use verilator_tests::acp_block::DeviceEngine;
use verilator_tests::rtl::{RtlSwitch, Width, GEOMETRY};

/// Replays `setup` through `dev`'s ACP block; returns how many segments it took.
fn replay<B: Backend + 'static>(mut setup: Setup, requests: u32, dev: B) -> u64 {
    setup.record = true;
    let w = setup.w;
    let host = || sim::switch(&setup);
    let (dev_host, spec_host) = (host(), host());
    let o = Sim::new(setup).run(Duration::from_secs(300));
    check(&o, requests, w, 8).unwrap();
    let engine = DeviceEngine::new(dev);
    let mut dev = Offload::new(dev_host, engine);
    let mut spec = Offload::new(spec_host, SpecEngine::new(dev.engine.slots(), w));
    for (i, step) in o.trace.iter().enumerate() {
        let (got, by_spec, want) = match step {
            Step::Segment(pkt, want) => (dev.receive(pkt), spec.receive(pkt), want),
            Step::Remove(id, want) => (dev.remove_member(*id), spec.remove_member(*id), want),
        };
        assert_eq!(&by_spec, want, "event {i}: the spec engine");
        assert_eq!(&got, want, "event {i}: the device, the switch alone");
        assert_eq!(
            dev.engine.stats.taken,
            spec.engine.taken_total().total(),
            "event {i}: the device took a different segment than the spec"
        );
    }
    dev.sync();
    spec.sync();
    assert_eq!(
        dev.device, spec.device,
        "segments taken by kind: the device's, the spec's"
    );
    assert_eq!(dev.host.counters(), &o.counters);
    let flows = dev.host.describe();
    assert_eq!(flows, o.flows[..flows.len()]);
    let s = dev.engine.stats;
    let (frames, drops) = anypoint_driver::acp::frames_and_drops(&mut dev.engine.dev);
    assert_eq!(
        (u64::from(frames), drops),
        (s.frames, 0),
        "ACP_FRAMES, ACP_DROPS"
    );
    println!(
        "device: {} segments taken ({} frames sent), {} given back; by kind {:?}",
        s.taken, s.frames, s.given_back, dev.device
    );
    assert_eq!(dev.device.total(), s.taken);
    s.taken
}

fn model() -> Switch {
    let mut sw = Switch::new(GEOMETRY);
    assert_eq!(sw.read32(reg::ACP_SLOTS), 2);
    sw
}

#[test]
fn one_frame_per_segment_through_a_lossy_link() {
    let mut setup = Setup::new(
        Policy::KeyHash { offset: 4, len: 4 },
        600,
        Impair::lossy(),
        6,
    );
    setup.pad = Some(1400);
    assert!(replay(setup, 600, model()) > 200);
}

#[test]
fn speed_sensitive_small_frames() {
    let setup = Setup::new(Policy::SpeedSensitive, 600, Impair::lossy(), 11);
    assert!(replay(setup, 600, model()) > 0);
}

#[test]
fn a_member_removed_mid_connection() {
    let mut setup = Setup::new(Policy::RoundRobin, 800, Impair::lossy(), 4);
    setup.pad = Some(600);
    setup.remove = Some((1, 300));
    assert!(replay(setup, 800, model()) > 0);
}

#[test]
fn rtl_one_frame_per_segment_through_a_lossy_link() {
    for width in [Width::W64, Width::W512] {
        let mut setup = Setup::new(
            Policy::KeyHash { offset: 4, len: 4 },
            300,
            Impair::lossy(),
            6,
        );
        setup.pad = Some(1400);
        assert!(replay(setup, 300, RtlSwitch::new(width)) > 100);
    }
}

#[test]
fn rtl_speed_sensitive_small_frames() {
    for width in [Width::W64, Width::W512] {
        let setup = Setup::new(Policy::SpeedSensitive, 300, Impair::lossy(), 11);
        assert!(replay(setup, 300, RtlSwitch::new(width)) > 0);
    }
}

#[test]
fn rtl_a_member_removed_mid_connection() {
    for width in [Width::W64, Width::W512] {
        let mut setup = Setup::new(Policy::RoundRobin, 400, Impair::lossy(), 4);
        setup.pad = Some(600);
        setup.remove = Some((1, 150));
        assert!(replay(setup, 400, RtlSwitch::new(width)) > 0);
    }
}

/// A member with no neighbour entry: the block drops the frames it sends that member (ACP_DROPS),
/// the Verilated top exactly as the model, event by event.
#[test]
fn rtl_drops_what_has_no_neighbour_as_the_model_does() {
    for width in [Width::W64, Width::W512] {
        let mut setup = Setup::new(Policy::RoundRobin, 200, Impair::lossy(), 9);
        setup.record = true;
        let host = || sim::switch(&setup);
        let (model_host, rtl_host) = (host(), host());
        let o = Sim::new(setup).run(Duration::from_secs(300));
        let unroutable = Some(*server_addr(2).ip());
        let mut m = Offload::new(model_host, DeviceEngine::new(model()));
        let mut r = Offload::new(rtl_host, DeviceEngine::new(RtlSwitch::new(width)));
        m.engine.unroutable = unroutable;
        r.engine.unroutable = unroutable;
        for (i, step) in o.trace.iter().enumerate() {
            let (got, want) = match step {
                Step::Segment(pkt, _) => (r.receive(pkt), m.receive(pkt)),
                Step::Remove(id, _) => (r.remove_member(*id), m.remove_member(*id)),
            };
            assert_eq!(got, want, "event {i}: the RTL, the model ({width:?})");
            assert_eq!(
                r.engine.stats.taken, m.engine.stats.taken,
                "event {i}: segments taken"
            );
        }
        let rtl = anypoint_driver::acp::frames_and_drops(&mut r.engine.dev);
        let model = anypoint_driver::acp::frames_and_drops(&mut m.engine.dev);
        assert_eq!(rtl, model, "ACP_FRAMES, ACP_DROPS: the RTL's, the model's");
        assert!(model.1 > 0, "nothing was dropped: {model:?}");
        println!("{width:?}: frames sent, dropped {model:?}");
    }
}
