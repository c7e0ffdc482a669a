//! Seeded random scoreboard of the Verilated RTL against the model (src/scoreboard.rs), at both data
//! widths, with random ingress gaps and egress backpressure and table updates between batches.
//!
//! `ANYPOINT_SEED` picks the seed (default: a fixed one; `random` for a fresh one, printed),
//! `ANYPOINT_PACKETS` the frames per width (default 200000), `ANYPOINT_FST` a waveform file.

use verilator_tests::rtl::Width;
use verilator_tests::scoreboard;

fn seed() -> u64 {
    scoreboard::env_seed(0x5eed_a11c_e5ed_0001)
}

fn packets() -> u64 {
    scoreboard::env_packets(200_000)
}

fn run(width: Width) {
    let seed = seed();
    let fst = std::env::var("ANYPOINT_FST").ok();
    eprintln!("scoreboard DATA_WIDTH={} seed={seed:#x}", width.bits());
    match scoreboard::run(width, seed, packets(), fst.as_deref()) {
        Ok(s) => {
            eprintln!(
                "DATA_WIDTH={}: {} frames, {} egress, {} host records, {} cycles, reasons seen {:#x}",
                width.bits(),
                s.frames,
                s.egress,
                s.host,
                s.cycles,
                s.reasons_seen
            );
            // Every host reason code and the learn record (drops are checked via counters).
            for code in [3, 4, 8, 11, 12, 13, 15, 16, 17, 18, 19, 20, 22] {
                assert!(
                    s.reasons_seen & (1 << code) != 0,
                    "reason {code} never seen"
                );
            }
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn random_scoreboard_64() {
    run(Width::W64);
}

#[test]
fn random_scoreboard_512() {
    run(Width::W512);
}
