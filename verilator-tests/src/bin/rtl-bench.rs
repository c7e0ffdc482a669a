//! `rtl-bench`: line-rate benchmark of the Verilated RTL.
//!
//! Every ingress port (by default) receives back-to-back TCP frames of established connections, so
//! every frame does a connection-table hit and an inbound rewrite; port p forwards to port p+1, so
//! no egress is oversubscribed. Egress is always ready. Prints JSON:
//! `packets`, `cycles`, `ingress_stall_cycles`, `egress_idle_cycles`, `latency_cycles_min/max`
//! (first beat in to first beat out), `sim_cycles_per_second`, and more.
//!
//! ```text
//! cargo run --release -p verilator-tests --bin rtl-bench -- --width 512 --frame-size 60 --packets 200000
//! ```
//! `--frame-size` takes a size (60-9018), a range `MIN-MAX` (uniform) or `imix`; `--ports N` limits
//! the traffic to ports 0..N; `--gap-pct P` inserts random idle cycles between input beats.

use anypoint_model::hash::tuple_hash;
use anypoint_model::regs::{reg, region};
use anypoint_model::{FiveTuple, HashKey};
use std::time::Instant;
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

fn tbl(rtl: &mut RtlSwitch, table: u32, index: u32, words: &[u32]) {
    for (i, w) in words.iter().enumerate() {
        rtl.write32(reg::TBL_WDATA + 4 * i as u32, *w);
    }
    rtl.write32(reg::TBL_CMD, 1 << 30 | table << 24 | index);
}

/// A TCP ACK of `size` bytes (Ethernet header included, no FCS) for `t`.
fn frame(t: &FiveTuple, size: usize, dst_mac: u8) -> Vec<u8> {
    let mut f = vec![0u8; size];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, dst_mac]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0xee]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let total = (size - 14) as u16;
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&t.src_ip.to_be_bytes());
    ip[16..20].copy_from_slice(&t.dst_ip.to_be_bytes());
    let mut s: u32 = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    ip[10..12].copy_from_slice(&(!(s as u16)).to_be_bytes());
    let l4 = &mut f[34..54];
    l4[0..2].copy_from_slice(&t.src_port.to_be_bytes());
    l4[2..4].copy_from_slice(&t.dst_port.to_be_bytes());
    l4[12] = 0x50;
    l4[13] = 0x10;
    f
}

fn main() {
    let args = parse_args();
    let mut rtl = RtlSwitch::new(args.width);
    let key = HashKey([0x0123_4567, 0x89ab_cdef, 0x0f1e_2d3c, 0x4b5a_6978]);
    for (i, w) in key.0.iter().enumerate() {
        rtl.write32(reg::HASH_KEY + 4 * i as u32, *w);
    }
    let ports = u32::from(GEOMETRY.ports);
    for p in 0..ports {
        tbl(
            &mut rtl,
            0,
            p,
            &[0x0000_0010 + p, 0x0002 | 1 << 16, 0x1, 0x0002 | 1 << 16],
        );
    }
    // Member m is reached through port m + 1.
    for m in 0..ports {
        let w1 = 8080 | ((m + 1) % ports) << 16 | 1 << 20;
        tbl(
            &mut rtl,
            2,
            m,
            &[0x0a01_0000 + m, w1, 0x0000_0020 + m, 0x0002 | 1 << 16],
        );
    }
    let vip = 0x0a00_0064;
    let b = u32::from(GEOMETRY.conn_buckets_log2);
    let mask = (1u32 << b) - 1;
    let mut used = vec![false; 8 << b];
    let mut flows: Vec<Vec<FiveTuple>> = vec![Vec::new(); usize::from(GEOMETRY.ports)];
    for p in 0..ports {
        let mut sport = 1000u16;
        while flows[p as usize].len() < 12 && sport < 2000 {
            let t = FiveTuple {
                src_ip: 0xc633_6400 + p,
                dst_ip: vip,
                src_port: sport,
                dst_port: 80,
                proto: 6,
            };
            sport += 1;
            let h = tuple_hash(&key, &t);
            let cands = [h as u32 & mask, (h >> 32) as u32 & mask];
            let slot = (0..2u32)
                .flat_map(|bank| (0..4u32).map(move |w| (bank, w)))
                .find_map(|(bank, w)| {
                    let i = (bank << (b + 2) | cands[bank as usize] << 2 | w) as usize;
                    (!used[i]).then_some(i)
                });
            let Some(i) = slot else { continue };
            used[i] = true;
            let words = [
                t.src_ip,
                t.dst_ip,
                u32::from(t.src_port) << 16 | u32::from(t.dst_port),
                6 | 1 << 31,
                p,
            ];
            tbl(&mut rtl, 3, i as u32, &words);
            flows[p as usize].push(t);
        }
    }
    let _ = region::CTR;

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
        let q = (p + 1) % usize::from(GEOMETRY.ports);
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
