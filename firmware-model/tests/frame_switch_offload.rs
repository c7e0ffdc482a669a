//! The device's fast path plus the host equal the frame switch alone (docs/frame-switching.md
//! section 9a): simulated runs with loss, duplication, reordering and a member removed are
//! recorded at the switch, then replayed through `Offload<SpecEngine>`; every event must send the
//! same segments, and at the end the host must hold the same flows and counters.

#[path = "frame_switch/sim.rs"]
mod sim;

use std::time::Duration;

use anypoint_model::frame_switch::fast::{
    Engine, Entries, FlowRecord, Offload, Ring, RingEntry, SpecEngine, TakenCount, ENTRIES_PER_CALL,
};
use anypoint_model::frame_switch::{Kind, Packet, Policy};
use sim::{check, Impair, Outcome, Setup, Sim, Step};

const KEYED: Policy = Policy::KeyHash { offset: 4, len: 4 };

/// Runs `setup` recorded and replays it through the offload: the run's outcome and the segments
/// the device took.
fn replay(mut setup: Setup) -> (Outcome, TakenCount) {
    setup.record = true;
    let w = setup.w;
    let host = sim::switch(&setup);
    let o = Sim::new(setup).run(Duration::from_secs(300));
    let mut off = Offload::new(host, SpecEngine::new(2, w));
    for (i, step) in o.trace.iter().enumerate() {
        let (got, want) = match step {
            Step::Segment(pkt, want) => (off.receive(pkt), want),
            Step::Remove(id, want) => (off.remove_member(*id), want),
        };
        assert_eq!(&got, want, "event {i}");
    }
    off.sync();
    assert_eq!(off.host.counters(), &o.counters);
    // The run's flow lines are the switch's, then the client's.
    let flows = off.host.describe();
    assert_eq!(flows, o.flows[..flows.len()]);
    let taken = off.engine.taken_total();
    (o, taken)
}

#[test]
fn one_frame_per_segment_through_a_lossy_link() {
    let mut setup = Setup::new(KEYED, 3000, Impair::lossy(), 6);
    setup.pad = Some(1400);
    let (o, taken) = replay(setup);
    check(&o, 3000, 384, 8).unwrap();
    let c = &o.counters;
    for (kind, n) in taken.by_kind() {
        println!("device took {n} of {} {}", c.segments(kind), kind.name());
    }
    // Each request and reply is one frame a segment: in both directions most of the common
    // case is the device's.
    for (kind, n) in taken.by_kind() {
        if kind != Kind::InRtx {
            assert!(n * 2 > c.segments(kind), "{kind:?}: {taken:?}");
        }
    }
    assert!(taken.in_rtx > 0 && taken.out_rtx > 0, "{taken:?}");
}

/// A small ring (`w` 32) the device runs round several times while it holds the flow: taken back,
/// the frames it wrote and retired share ring slots with those still in flight.
#[test]
fn the_device_runs_round_a_small_ring_between_loads() {
    for impair in [Impair::default(), Impair::lossy()] {
        let mut setup = Setup::new(Policy::RoundRobin, 2000, impair, 5);
        setup.pad = Some(1400);
        setup.w = 32;
        let (o, taken) = replay(setup);
        check(&o, 2000, 32, 8).unwrap();
        assert!(taken.in_data > 64, "{taken:?}");
    }
}

#[test]
fn small_frames_several_a_segment() {
    let (o, taken) = replay(Setup::new(Policy::RoundRobin, 3000, Impair::lossy(), 11));
    check(&o, 3000, 384, 8).unwrap();
    // Segments packed several frames are the host's; single frames and acks the device's. The
    // members' retransmissions here carry several frames: the host's.
    let mut single = taken
        .by_kind()
        .into_iter()
        .filter(|&(k, _)| k != Kind::OutRtx);
    assert!(single.all(|(_, n)| n > 0), "{taken:?}");
}

#[test]
fn a_member_removed_mid_connection() {
    let mut setup = Setup::new(KEYED, 2000, Impair::lossy(), 4);
    setup.pad = Some(600);
    setup.remove = Some((1, 700));
    let (o, taken) = replay(setup);
    assert!(o.removed.is_some());
    assert!(taken.total() > 0);
}

/// The recorded run of 1,000 requests of 600 bytes, key-hash over three members, lossy link; the
/// trace is replayed through an offload with two slots from its middle event on until the device
/// holds the flow. Returns the offload, the run and the next event.
fn half_replayed() -> (Offload<SpecEngine>, sim::Outcome, usize) {
    let mut setup = Setup::new(KEYED, 1000, Impair::lossy(), 9);
    setup.pad = Some(600);
    setup.record = true;
    let host = sim::switch(&setup);
    let w = setup.w;
    let o = Sim::new(setup).run(Duration::from_secs(300));
    let mut off = Offload::new(host, SpecEngine::new(2, w));
    let mut next = 0;
    while next < o.trace.len() / 2 || !(off.engine.valid(0) || off.engine.valid(1)) {
        if let Step::Segment(pkt, _) = &o.trace[next] {
            off.receive(pkt);
        }
        next += 1;
    }
    (off, o, next)
}

/// A reset leaves the device's records and rings (block RAM): the host reads the flow back from
/// its slot and the rest of the run sends exactly what the switch alone sent.
#[test]
fn a_device_reset_keeps_the_flows_it_held() {
    let (mut off, o, half) = half_replayed();
    let before = off.device.total();
    off.engine.reset();
    for (i, step) in o.trace.iter().enumerate().skip(half) {
        let Step::Segment(pkt, want) = step else {
            unreachable!("no member removed in this run")
        };
        assert_eq!(&off.receive(pkt), want, "event {i}");
    }
    off.sync();
    assert_eq!(off.lost, 0);
    assert!(
        off.device.total() > before,
        "the device took segments after the reset"
    );
    let flows = off.host.describe();
    assert_eq!(flows, o.flows[..flows.len()]);
}

fn has_rst(p: &Packet) -> bool {
    acp::wire::parse_segment(&p.segment).is_ok_and(|s| s.header.flags.has(acp::wire::Flags::RST))
}

/// A power cycle clears the records: the flow the device held is forgotten (what it took since
/// the load is known nowhere), and its next segment is answered with a reset to its sender.
#[test]
fn a_device_power_cycle_forgets_the_flow_it_held() {
    let (mut off, o, half) = half_replayed();
    assert_eq!(off.host.occupancy().len(), 1);
    off.engine = SpecEngine::new(2, off.engine.ring_entries());
    let Step::Segment(pkt, _) = &o.trace[half] else {
        unreachable!("no member removed in this run")
    };
    let out = off.receive(pkt);
    assert_eq!(off.lost, 1);
    assert!(off.host.occupancy().is_empty());
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(has_rst(&out[0]) && out[0].dst == pkt.src, "{out:?}");
}

/// [`SpecEngine`] counting the loads made of it, refusing them all when `refuse` (a device whose
/// queue always holds a segment of the flow).
struct CountingEngine {
    spec: SpecEngine,
    loads: usize,
    refuse: bool,
}

impl Engine for CountingEngine {
    fn slots(&self) -> usize {
        self.spec.slots()
    }
    fn ring_entries(&self) -> usize {
        self.spec.ring_entries()
    }
    fn load(&mut self, slot: usize, rec: &FlowRecord, in_flight: &Entries) -> bool {
        self.loads += 1;
        !self.refuse && self.spec.load(slot, rec, in_flight)
    }
    fn unload(&mut self, slot: usize) {
        self.spec.unload(slot)
    }
    fn read(&mut self, slot: usize) -> FlowRecord {
        self.spec.read(slot)
    }
    fn ring(&mut self, slot: usize, ring: Ring, idx: u16) -> RingEntry {
        self.spec.ring(slot, ring, idx)
    }
    fn taken(&mut self, slot: usize) -> TakenCount {
        self.spec.taken(slot)
    }
    fn send(&mut self, pkt: &Packet) -> Result<Vec<Packet>, Packet> {
        self.spec.send(pkt)
    }
}

/// Loads after each segment with the back-off of `Offload::load_wanted` (a daemon reading a
/// queue): what is sent is still exactly the switch's alone, and a flow whose segments the device
/// gives back before it takes any (several frames a segment) is loaded less often than after
/// every one, the device still taking most of what it took then.
#[test]
fn loads_after_each_segment_back_off_from_a_flow_given_back() {
    let mut setup = Setup::new(Policy::RoundRobin, 3000, Impair::lossy(), 11);
    setup.record = true;
    let w = setup.w;
    let hosts = [sim::switch(&setup), sim::switch(&setup)];
    let o = Sim::new(setup).run(Duration::from_secs(300));
    let run = |host, backoff: bool| {
        let engine = CountingEngine {
            spec: SpecEngine::new(2, w),
            loads: 0,
            refuse: false,
        };
        let mut off = Offload::new(host, engine);
        for (i, step) in o.trace.iter().enumerate() {
            let Step::Segment(pkt, want) = step else {
                unreachable!("no member removed in this run")
            };
            let got = off.handle(pkt);
            if backoff {
                off.load_wanted();
            } else {
                off.load_all_wanted();
            }
            assert_eq!(&got, want, "event {i}");
        }
        off.sync();
        assert_eq!(off.host.counters(), &o.counters);
        (off.engine.loads, off.engine.spec.taken_total().total())
    };
    let [a, b] = hosts;
    let (every, taken_every) = run(a, false);
    let (backed_off, taken) = run(b, true);
    println!(
        "loads {every} after every segment, {backed_off} backing off; taken {taken_every}, {taken}"
    );
    // Here about 70% of the loads for three quarters of what the device took.
    assert!(backed_off < every, "{backed_off} of {every} loads");
    assert!(taken * 2 > taken_every, "{taken} of {taken_every} taken");
}

/// Refused loads of a flow with many frames in flight (a device whose queue always holds one of
/// its segments) are tried once per `ENTRIES_PER_CALL` of them calls, where a flow with few is
/// tried after every segment; the host alone then sends exactly what the switch sends.
#[test]
fn refused_loads_of_a_flow_with_many_frames_in_flight_back_off() {
    let mut setup = Setup::new(KEYED, 1000, Impair::lossy(), 9);
    setup.pad = Some(600);
    setup.record = true;
    let w = setup.w;
    let host = sim::switch(&setup);
    let o = Sim::new(setup).run(Duration::from_secs(300));
    let engine = CountingEngine {
        spec: SpecEngine::new(2, w),
        loads: 0,
        refuse: true,
    };
    let mut off = Offload::new(host, engine);
    let (mut calls, mut many) = (0, 0);
    for (i, step) in o.trace.iter().enumerate() {
        let Step::Segment(pkt, want) = step else {
            unreachable!("no member removed in this run")
        };
        assert_eq!(&off.handle(pkt), want, "event {i}");
        let in_flight = off
            .host
            .occupancy()
            .iter()
            .map(|c| c.in_frames + c.out_frames)
            .max();
        many += usize::from(in_flight >= Some(2 * ENTRIES_PER_CALL));
        calls += 1;
        off.load_wanted();
    }
    let loads = off.engine.loads;
    println!("{loads} loads tried after {calls} segments, {many} with 16 frames or more in flight");
    assert!(
        many * 2 > calls,
        "a run with many frames in flight: {many} of {calls}"
    );
    assert!(
        loads > 0 && loads * 2 < calls,
        "{loads} loads after {calls} segments"
    );
    assert_eq!(off.host.counters(), &o.counters);
}
