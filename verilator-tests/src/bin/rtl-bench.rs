//! `rtl-bench`: line-rate benchmark of the Verilated RTL.
//!
//! Every ingress port (by default) receives back-to-back TCP frames of established connections, so
//! every frame does a connection-table hit and an inbound rewrite; port p forwards to port p+1, so
//! no egress is oversubscribed (the tables and frames of `verilator_tests::linerate`, which
//! tests/rtl_line_rate.rs also runs). Egress is always ready. Prints JSON:
//! `packets`, `cycles`, `ingress_stall_cycles`, `egress_idle_cycles`, `latency_cycles_min/max`
//! (first beat in to first beat out), `sim_cycles_per_second`, and more.
//!
//! ```text
//! cargo run --release -p verilator-tests --bin rtl-bench -- --width 512 --frame-size 60 --packets 200000
//! ```
//! `--frame-size` takes a size (60-9018), a range `MIN-MAX` (uniform) or `imix`; `--ports N` limits
//! the traffic to ports 0..N; `--gap-pct P` inserts random idle cycles between input beats.

use std::time::Instant;
use verilator_tests::linerate::{self, frame};
use verilator_tests::rtl::{RtlSwitch, Stress, Width, GEOMETRY};
use verilator_tests::scoreboard::Rng;

struct Args {
    width: Width,
    sizes: Sizes,
    packets: u64,
    ports: u8,
    gap_pct: u32,
    seed: u64,
}

#[derive(Clone, Copy)]
enum Sizes {
    Fixed(usize),
    Range(usize, usize),
    Imix,
}

impl Sizes {
    fn pick(self, rng: &mut Rng) -> usize {
        match self {
            Sizes::Fixed(n) => n,
            Sizes::Range(a, b) => a + rng.below((b - a + 1) as u64) as usize,
            Sizes::Imix => match rng.below(12) {
                0..=6 => 60,
                7..=10 => 590,
                _ => 1514,
            },
        }
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("rtl-bench: {msg}");
    eprintln!(
        "usage: rtl-bench [--width 64|512] [--frame-size N|MIN-MAX|imix] [--packets N] [--ports N] [--gap-pct P] [--seed N]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        width: Width::W512,
        sizes: Sizes::Fixed(60),
        packets: 200_000,
        ports: GEOMETRY.ports,
        gap_pct: 0,
        seed: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        let num = |s: String| -> u64 {
            s.parse()
                .unwrap_or_else(|_| usage(&format!("bad number `{s}`")))
        };
        match flag.as_str() {
            "--width" => {
                a.width = Width::from_bits(num(val()) as u32)
                    .unwrap_or_else(|| usage("width is 64 or 512"))
            }
            "--frame-size" => {
                let v = val();
                a.sizes = if v == "imix" {
                    Sizes::Imix
                } else if let Some((lo, hi)) = v.split_once('-') {
                    Sizes::Range(num(lo.into()) as usize, num(hi.into()) as usize)
                } else {
                    Sizes::Fixed(num(v) as usize)
                };
            }
            "--packets" => a.packets = num(val()),
            "--ports" => a.ports = num(val()).clamp(1, u64::from(GEOMETRY.ports)) as u8,
            "--gap-pct" => a.gap_pct = num(val()) as u32,
            "--seed" => a.seed = num(val()),
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument `{other}`")),
        }
    }
    let check = |n: usize| {
        if !(60..=9018).contains(&n) {
            usage("frame sizes are 60-9018 bytes");
        }
    };
    match a.sizes {
        Sizes::Fixed(n) => check(n),
        Sizes::Range(lo, hi) => {
            check(lo);
            check(hi);
            if lo > hi {
                usage("MIN-MAX with MIN <= MAX");
            }
        }
        Sizes::Imix => {}
    }
    a
}

fn main() {
    let args = parse_args();
    let mut rtl = RtlSwitch::new(args.width);
    let tables = linerate::tables(&GEOMETRY);
    for &(a, v) in &tables.writes {
        rtl.write32(a, v);
    }
    let flows = tables.flows;

    let mut rng = Rng::new(args.seed);
    let mut bytes_in = 0u64;
    let mut beats_in = 0u64;
    for k in 0..args.packets {
        let p = (k % u64::from(args.ports)) as usize;
        let t = flows[p][rng.below(flows[p].len() as u64) as usize];
        let size = args.sizes.pick(&mut rng);
        bytes_in += size as u64;
        beats_in += size.div_ceil(args.width.bytes()) as u64;
        rtl.send(p as u8, &frame(&t, size, 0x10 + p as u8));
    }
    rtl.set_stress(Stress {
        ingress_gap_pct: args.gap_pct,
        egress_stall_pct: 0,
        seed: args.seed,
    });
    rtl.record_times = true;
    rtl.stats = Default::default();
    let start = Instant::now();
    rtl.run_until_idle();
    let secs = start.elapsed().as_secs_f64();
    let stats = rtl.stats.clone();
    let out = rtl.take_egress();
    let host = rtl.take_host();
    let mut lat_min = u64::MAX;
    let mut lat_max = 0;
    let mut lat_sum = 0u64;
    let mut n = 0u64;
    for p in 0..usize::from(args.ports) {
        let q = usize::from(linerate::egress_of(&GEOMETRY, p as u8));
        for (i, o) in rtl.first_in[p].iter().zip(rtl.first_out[q].iter()) {
            let l = o - i;
            lat_min = lat_min.min(l);
            lat_max = lat_max.max(l);
            lat_sum += l;
            n += 1;
        }
    }
    let json = format!(
        concat!(
            "{{\n  \"width\": {},\n  \"ports\": {},\n  \"packets\": {},\n  \"packets_out\": {},\n",
            "  \"host_records\": {},\n  \"bytes_in\": {},\n  \"cycles\": {},\n",
            "  \"ingress_stall_cycles\": {},\n  \"egress_idle_cycles\": {},\n",
            "  \"latency_cycles_min\": {},\n  \"latency_cycles_max\": {},\n  \"latency_cycles_mean\": {:.1},\n",
            "  \"packets_per_cycle\": {:.3},\n  \"ingress_utilization\": {:.3},\n",
            "  \"sim_cycles_per_second\": {:.0}\n}}"
        ),
        args.width.bits(),
        args.ports,
        args.packets,
        out.len(),
        host.len(),
        bytes_in,
        stats.cycles,
        stats.ingress_stall_cycles,
        stats.egress_idle_cycles,
        if n == 0 { 0 } else { lat_min },
        lat_max,
        if n == 0 { 0.0 } else { lat_sum as f64 / n as f64 },
        args.packets as f64 / stats.cycles as f64,
        // Beats taken per port-cycle.
        beats_in as f64 / (stats.cycles as f64 * f64::from(args.ports)),
        stats.cycles as f64 / secs
    );
    println!("{json}");
    if out.len() as u64 != args.packets {
        eprintln!(
            "rtl-bench: {} frames in, {} out, {} host records",
            args.packets,
            out.len(),
            host.len()
        );
        std::process::exit(1);
    }
}
