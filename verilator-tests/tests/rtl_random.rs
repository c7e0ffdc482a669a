//! Seeded random scoreboard of the Verilated RTL against the model (src/scoreboard.rs), at both data
//! widths, with random ingress gaps and egress backpressure and table updates between batches: every
//! egress port and the host queue carry each ingress source's frames in the model's order, the
//! AXI-Stream hold rule holds on every output, and every reason code of docs/pipeline.md section 9
//! occurs at least once (counted by the per-reason counters, which equal the RTL's).
//!
//! `ANYPOINT_SEED` picks the seed (default: a fixed one; `random` for a fresh one, printed),
//! `ANYPOINT_PACKETS` the frames per width (default 200000), `ANYPOINT_FST` a waveform file (in a
//! build with `ANYPOINT_TRACE=1`; a mismatch prints the whole command).

use anypoint_model::regs::reason;
use verilator_tests::rtl::Width;
use verilator_tests::scoreboard;

fn seed() -> u64 {
    scoreboard::env_seed(0x5eed_a11c_e5ed_0001)
}

/// The frames per width of a full run: the 200000.
const FULL_RUN: u64 = 200_000;

fn packets() -> u64 {
    scoreboard::env_packets(FULL_RUN)
}

fn run(width: Width) {
    let seed = seed();
    let fst = std::env::var("ANYPOINT_FST").ok();
    eprintln!("scoreboard DATA_WIDTH={} seed={seed:#x}", width.bits());
    let packets = packets();
    match scoreboard::run(width, seed, packets, fst.as_deref()) {
        Ok(s) => {
            eprintln!(
                "DATA_WIDTH={}: {} frames, {} egress, {} host records, {} cycles, reasons seen {:#x}",
                width.bits(),
                s.frames,
                s.egress,
                s.host,
                s.cycles,
                s.reasons_seen()
            );
            let counts: Vec<String> = reason::ALL
                .iter()
                .map(|(code, name)| format!("{name} {}", s.reason_counts[usize::from(*code)]))
                .collect();
            eprintln!("  per reason: {}", counts.join(", "));
            // Every code of docs/pipeline.md section 9 (the model's `regs::reason::ALL`, 1 to 24):
            // drops, punts, learn and state records. None is impossible here: the generator makes
            // every parser defect, and the random tables every decision outcome. The rarest, `learn`
            // (a TCP SYN to a maglev service whose slot's member is active, with a next hop and an
            // enabled port), comes some 70 times in a full run; a shorter one (a waveform replay up
            // to a mismatch) is not expected to reach every code.
            let missing: Vec<&str> = reason::ALL
                .iter()
                .filter(|(code, _)| s.reason_counts[usize::from(*code)] == 0)
                .map(|(_, name)| *name)
                .collect();
            if !missing.is_empty() && packets < FULL_RUN {
                eprintln!("  not reached in {packets} frames (not asserted below {FULL_RUN}): {missing:?}");
            }
            assert!(
                missing.is_empty() || packets < FULL_RUN,
                "DATA_WIDTH={} seed={seed:#x}: reason codes never counted: {missing:?}",
                width.bits()
            );
            // The counters add up with the host records: a code that always goes to the host (or
            // is a learn or state record) counted exactly its records; the others (drops, and
            // `no_service`, dropped on ports with the flag) at least theirs.
            for (code, name) in reason::ALL {
                let (n, recs) = (
                    s.reason_counts[usize::from(code)],
                    s.host_reason_counts[usize::from(code)],
                );
                let always_host = !matches!(
                    code,
                    reason::RUNT
                        | reason::OVERSIZE
                        | reason::IP_TRUNCATED
                        | reason::IP_VERSION
                        | reason::IP_IHL
                        | reason::IP_TOTAL_LEN
                        | reason::IP_CHECKSUM
                        | reason::L4_TRUNCATED
                        | reason::NO_SERVICE
                        | reason::PORT_DOWN
                );
                assert!(
                    if always_host { n == recs } else { n >= recs },
                    "reason {name}: counted {n}, {recs} host records"
                );
            }
            // Codes outside the list are never counted.
            for (code, n) in s.reason_counts.iter().enumerate() {
                let known = reason::ALL.iter().any(|(c, _)| usize::from(*c) == code);
                assert!(known || *n == 0, "reason counter {code} counted {n}");
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
