//! `sim-rate`: how fast the Verilated build of the model's default geometry (the daemon's `rtl`
//! backend: 64 services, 1024 members, 65536 indirection slots) simulates, beside the test
//! geometry's 64-bit build. The daemon runs that build in real time against its ACP peers'
//! retransmission timers: timing round 4 first simulated it about 11 to 13 times slower than the
//! test geometry (4 times slower than round 3) and stalled acp_live's retransmission storm; with
//! the per-member and per-service loops clocked only when a packet is in their stage it runs about
//! as fast (docs/synthesis.md).
//!
//! ```text
//! cargo run --release -p verilator-tests --features replay-geometry --bin sim-rate
//! ```
//! Prints JSON: idle clocks per second of each build and their ratio. Rounds alternate between the
//! builds and the fastest of each counts, so other work on the machine slows both alike.
//! `--clocks N` per round (default 4000), `--rounds N` (default 7).

use std::time::{Duration, Instant};

use verilator_tests::rtl::{RtlSwitch, Width};

/// Wall time of `n` idle clocks of `rtl` (every clock evaluates the whole design, busy or not).
fn clocks(rtl: &mut RtlSwitch, n: u32) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        rtl.cycle();
    }
    t.elapsed()
}

fn arg(args: &[String], name: &str, default: u32) -> u32 {
    match args.iter().position(|a| a == name) {
        None => default,
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name}: a number")),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (n, rounds) = (arg(&args, "--clocks", 4000), arg(&args, "--rounds", 7));
    let mut small = RtlSwitch::new(Width::W64);
    let mut full = RtlSwitch::with_default_geometry();
    let (mut t_small, mut t_full) = (Duration::MAX, Duration::MAX);
    for _ in 0..rounds.max(1) {
        t_small = t_small.min(clocks(&mut small, n));
        t_full = t_full.min(clocks(&mut full, n));
    }
    let rate = |t: Duration| (f64::from(n) / t.as_secs_f64()).round();
    let out = serde_json::json!({
        "clocks_per_round": n,
        "rounds": rounds,
        "test_geometry_clocks_per_second": rate(t_small),
        "default_geometry_clocks_per_second": rate(t_full),
        "slowdown": (t_full.as_secs_f64() / t_small.as_secs_f64() * 100.0).round() / 100.0,
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
}
