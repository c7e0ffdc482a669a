//! Pipeline liveness on the Verilated RTL: for random input sequences (fuzzer-format scenarios from
//! random bytes, on tables a golden vector programmed) and random ingress gaps and egress and host
//! backpressure, every frame gets its one outcome (the model's, checked for per-frame accounting by
//! the packet-path harness) within a bound on the cycles; and a host that stops reading stalls only
//! the traffic that needs the host queue, loses nothing, and everything flows once it reads again.

mod common;

use anypoint_fuzz::scenario::{decode, Step};
use common::{cluster_tables, odd_frame, Odd, Pair};
use std::path::Path;
use verilator_tests::rtl::{Stress, Width};
use verilator_tests::scoreboard::Rng;

/// Register writes of a committed seed (a golden vector's table programming).
fn tables() -> Vec<Step> {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/packet_path/golden_maglev_tcp");
    decode(&std::fs::read(seed).unwrap())
        .into_iter()
        .filter(|s| matches!(s, Step::Write { .. }))
        .collect()
}

/// A random scenario: chunks of random fuzzer-format bytes, one step kind each, decoded one by one
/// (decoded as one string, the first long length field would swallow the rest).
fn random_scenario(rng: &mut Rng) -> Vec<Step> {
    let mut steps = Vec::new();
    for _ in 0..100 + rng.below(300) {
        let kind = rng.below(16) as u8;
        let any = rng.below(300) as u16;
        let n = rng.pick(&[0, 1, 13, 14, 34, 60, 64, 65, 1514, any]);
        let mut chunk = vec![kind];
        if kind == 0 {
            chunk.extend_from_slice(&[rng.below(4) as u8, n as u8, (n >> 8) as u8]);
        }
        chunk.extend((0..usize::from(n) + 48).map(|_| rng.next_u64() as u8));
        steps.extend(decode(&chunk));
    }
    steps
}

fn random_sequences(width: Width, cases: u64) {
    let tables = tables();
    let mut rng = Rng::new(0x11fe_0000 + u64::from(width.bits()));
    let mut worst: f64 = 0.0;
    let mut frames = 0;
    for case in 0..cases {
        let steps = random_scenario(&mut rng);
        // The model's side: exactly one outcome per frame.
        anypoint_fuzz::packet_path::run_steps(&steps);
        let stress = Stress {
            ingress_gap_pct: rng.below(60) as u32,
            egress_stall_pct: rng.pick(&[0, 10, 50, 80, 95]),
            seed: rng.next_u64(),
        };
        let mut pair = Pair::new(width, stress);
        let result = tables
            .iter()
            .chain(&steps)
            .try_for_each(|s| pair.step(s))
            .and_then(|()| pair.compare_state());
        if let Err(e) = result {
            panic!("DATA_WIDTH={} case {case} ({stress:?}): {e}", width.bits());
        }
        worst = worst.max(pair.worst_drain);
        frames += pair.frames;
    }
    eprintln!(
        "DATA_WIDTH={}: {cases} sequences, {frames} frames, slowest batch used {:.0} % of its cycle bound",
        width.bits(),
        worst * 100.0
    );
}

#[test]
fn every_frame_has_one_outcome_within_bounded_cycles_64() {
    random_sequences(Width::W64, 12);
}

#[test]
fn every_frame_has_one_outcome_within_bounded_cycles_512() {
    random_sequences(Width::W512, 12);
}

/// A host that stops reading the host queue: the RTL backpressures rather than drops. Frames that
/// need the host queue wait (and hold up their port's ingress); frames of other ports that need no
/// host record keep being forwarded; once the host reads again everything comes out as the model says.
#[test]
fn a_host_that_stops_reading_loses_nothing() {
    for width in [Width::W64, Width::W512] {
        let mut pair = Pair::new(width, Stress::default());
        for s in cluster_tables() {
            pair.step(&s).unwrap();
        }
        pair.compare().unwrap();
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01, 0x08, 0x06]);
        arp.resize(60, 0);
        const N: usize = 1000;
        let acks: Vec<_> = (0..200)
            .map(|i| {
                odd_frame(Odd {
                    vlan: None,
                    tos: 0,
                    ip_id: i as u16,
                    tcp_flags: Some(0x10),
                    payload: i % 100,
                    client: i as u8,
                })
            })
            .collect();
        pair.rtl.host_blocked = true;
        for i in 0..N {
            pair.model.receive(0, &arp);
            pair.rtl.send(0, &arp);
            if let Some(ack) = acks.get(i) {
                pair.model.receive(2, ack);
                pair.rtl.send(2, ack);
            }
        }
        for _ in 0..100_000 {
            pair.rtl.cycle();
        }
        let during: Vec<_> = pair.rtl.take_egress();
        assert!(
            pair.rtl.take_host().is_empty(),
            "host records while blocked"
        );
        let want_egress: Vec<_> = std::iter::from_fn(|| pair.model.pop_egress()).collect();
        let want_host: Vec<_> = std::iter::from_fn(|| pair.model.pop_host()).collect();
        // Port 2's frames need no host record: all forwarded while the host queue is full.
        assert_eq!(during, want_egress, "DATA_WIDTH={}", width.bits());
        let stalled = pair.rtl.stats.ingress_stall_cycles;
        assert!(
            stalled > 50_000,
            "port 0 was not backpressured ({stalled} stall cycles)"
        );
        pair.rtl.host_blocked = false;
        let mut cycles = 0;
        while !pair.rtl.idle() {
            pair.rtl.cycle();
            cycles += 1;
            assert!(cycles < 200_000, "no progress after the host reads again");
        }
        pair.rtl.run_until_idle();
        assert_eq!(
            pair.rtl.take_host(),
            want_host,
            "DATA_WIDTH={}",
            width.bits()
        );
        assert_eq!(want_host.len(), N);
        pair.compare_state().unwrap();
        eprintln!(
            "DATA_WIDTH={}: host blocked 100000 cycles: {} frames forwarded meanwhile, port 0 ingress stalled {stalled} cycles; {N} host records {cycles} cycles after it reads again",
            width.bits(),
            during.len(),
        );
    }
}
