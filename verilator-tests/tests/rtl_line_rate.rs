//! Line rate of the Verilated RTL, in clock cycles (not wall time), at both data widths, on the
//! traffic of `rtl-bench` (src/linerate.rs: every frame a TCP ACK of an established connection, so a
//! connection-table hit and an inbound rewrite; port p forwards to port p + 1), egress always ready:
//!
//! - `back_to_back_*`: every Ethernet port receives back to back at once (a new beat offered every
//!   cycle), a seeded mix of frame sizes from 60 to 9018 bytes with 60, 61, 64, 65, 128, 1514 and 9018
//!   on every port and a 9018-byte frame followed by a run of 60-byte ones (the most frames decided
//!   and waiting to be emitted). Ingress `tready` never falls while a beat is offered (0 stall
//!   cycles), and every output equals the model's.
//! - `inject_at_line_rate_*`: the ports at real line rate with inter-frame gaps (12 bytes of IPG and
//!   8 of preamble per frame as idle cycles; 10 Gb/s on 64 bits at 156.25 MHz, 100 Gb/s on 512 bits
//!   at 250 MHz), while host inject records (direct, pipeline-mode forwards and pipeline-mode punts)
//!   keep coming: still 0 ingress stall cycles (inject only takes the egress ports' idle slots),
//!   every inject record's output leaves within a bound derived from the pipeline (never starved),
//!   and every output equals the model's.
//!
//! Outputs are compared per egress port and on the host queue with each source's frames in the
//! model's order (`scoreboard::check_outputs`), and the AXI-Stream hold rule is checked throughout.

use anypoint_model::Switch;
use verilator_tests::linerate::{self, frame};
use verilator_tests::rtl::{RtlSwitch, Width, GEOMETRY};
use verilator_tests::scoreboard::{check_outputs, Rng, Source};

/// Sizes every port's sequence contains.
const SIZES: [usize; 7] = [60, 61, 64, 65, 128, 1514, 9018];
/// Longest frame.
const JUMBO: usize = 9018;
/// Pipeline latency beyond the frame's own beats: first beat in to first beat out is the frame's
/// beats + 32 cycles (hw/README.md, Timing); 40 leaves room for the inject header strip.
const PIPELINE: u64 = 40;

/// A seeded size mix of `n` frames: the sizes of [`SIZES`] in a random order, a 9018-byte frame
/// followed by `run` 60-byte ones, then mostly small frames with some up to 9018.
fn sizes(rng: &mut Rng, n: usize, run: usize) -> Vec<usize> {
    let mut v: Vec<usize> = SIZES.to_vec();
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i as u64 + 1) as usize);
    }
    v.push(JUMBO);
    v.extend(std::iter::repeat_n(60, run));
    while v.len() < n {
        v.push(match rng.below(100) {
            0..=59 => 60 + rng.below(69) as usize,
            60..=69 => rng.pick(&SIZES),
            70..=91 => 129 + rng.below(1386) as usize,
            92..=97 => 1515 + rng.below(7503) as usize,
            _ => JUMBO,
        });
    }
    v
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The pipeline and the model with the line-rate tables.
fn setup(width: Width) -> (RtlSwitch, Switch, Vec<Vec<anypoint_model::FiveTuple>>) {
    let mut rtl = RtlSwitch::new(width);
    let mut model = Switch::new(GEOMETRY);
    let t = linerate::tables(&GEOMETRY);
    for &(a, v) in &t.writes {
        rtl.write32(a, v);
        model.write32(a, v);
    }
    (rtl, model, t.flows)
}

/// Expected outputs: per egress port, and the host queue, with their sources in the model's order.
#[derive(Default)]
struct Expected {
    egress: Vec<(u8, Source, Vec<u8>)>,
    host: Vec<(Source, Vec<u8>)>,
}

impl Expected {
    fn collect(&mut self, model: &mut Switch, src: Source) {
        while let Some((p, f)) = model.pop_egress() {
            self.egress.push((p, src, f));
        }
        while let Some(h) = model.pop_host() {
            self.host.push((src, h));
        }
    }

    /// Every egress port's and the host queue's frames against the model's, per source in order.
    fn check(&self, egress: &[(u8, Vec<u8>)], host: &[Vec<u8>], what: &str) {
        let problems = check_outputs(GEOMETRY.ports, &self.egress, &self.host, egress, host);
        assert!(problems.is_empty(), "{what}: {}", problems.join("\n"));
        assert_eq!(
            egress.len() + host.len(),
            self.egress.len() + self.host.len()
        );
    }
}

/// Every port back to back at once, egress always ready.
fn back_to_back(width: Width, frames_per_port: usize, seed: u64) {
    let what = format!("back to back, DATA_WIDTH={} seed={seed:#x}", width.bits());
    let (mut rtl, mut model, flows) = setup(width);
    let mut rng = Rng::new(seed);
    let mut exp = Expected::default();
    let mut beats = vec![0u64; usize::from(GEOMETRY.ports)];
    for p in 0..GEOMETRY.ports {
        // At 512 bits the run of 60-byte frames behind the jumbo is 141 frames long in the
        // 9018-byte frame's time; 200 keeps the queue of decided frames at its deepest a while.
        for size in sizes(&mut rng, frames_per_port, 200) {
            let t = rng.pick(&flows[usize::from(p)]);
            let f = frame(&t, size, 0x10 + p);
            beats[usize::from(p)] += size.div_ceil(width.bytes()) as u64;
            model.receive(p, &f);
            exp.collect(&mut model, Source::Port(p));
            rtl.send(p, &f);
        }
    }
    assert!(
        exp.host.is_empty() && exp.egress.len() == frames_per_port * usize::from(GEOMETRY.ports),
        "{what}: every frame is a connection hit forwarded"
    );
    rtl.stats = Default::default();
    rtl.run_until_idle();
    let stats = rtl.stats.clone();
    let longest = *beats.iter().max().unwrap();
    eprintln!(
        "{what}: {} frames per port, {} cycles for at most {longest} beats per port, {} ingress stall cycles",
        frames_per_port, stats.cycles, stats.ingress_stall_cycles
    );
    if let Some(v) = rtl.hold_violation() {
        panic!("{what}: {v}");
    }
    assert_eq!(
        stats.ingress_stall_cycles, 0,
        "{what}: ingress tready fell while a beat was offered"
    );
    exp.check(&rtl.take_egress(), &rtl.take_host(), &what);
    // Egress kept up too: the run ends a pipeline latency and one frame after the last beat in.
    let jumbo_beats = JUMBO.div_ceil(width.bytes()) as u64;
    assert!(
        stats.cycles <= longest + PIPELINE + jumbo_beats + 16,
        "{what}: {} cycles for {longest} beats",
        stats.cycles
    );
}

/// Marks inject record `k`'s frame (bytes 54..58 of the frame: TCP payload, which no rewrite touches;
/// the ports' frames have a zero payload).
fn mark(f: &mut [u8], k: usize) {
    f[54..56].copy_from_slice(&[0xa5, 0x5a]);
    f[56..58].copy_from_slice(&(k as u16).to_be_bytes());
}

fn marked(f: &[u8]) -> Option<usize> {
    (f.len() >= 58 && f[54..56] == [0xa5, 0x5a])
        .then(|| usize::from(u16::from_be_bytes([f[56], f[57]])))
}

/// Bytes per cycle of the wire behind a port at `width`, at the clock of docs/hardware.md: 64 bits
/// carry a 10 Gb/s port at 156.25 MHz (8 bytes per cycle: the bus no faster than the wire, the worst
/// case; 161.13 MHz gives 7.76), 512 bits a 100 Gb/s port at 250 MHz (50 bytes per cycle).
fn wire_bytes_per_cycle(width: Width) -> u64 {
    match width {
        Width::W64 => 8,
        Width::W512 => 50,
    }
}

/// Idle cycles before each frame of `sizes` on a port whose bus carries `bus` bytes per cycle and
/// whose wire carries `wire` (at most `bus`): frame k may start once the wire has carried every
/// earlier frame plus 20 bytes each (12 of inter-frame gap, 8 of preamble), and not before the bus
/// has carried the earlier frames' beats (a partial last beat wastes the rest of its cycle, so for a
/// while the bus can be the slower one). Returns the idles and the cycle the schedule ends.
fn ipg_idles(sizes: &[usize], bus: usize, wire: u64) -> (Vec<u64>, u64) {
    let mut wire_bytes = 0u64;
    let mut at = 0u64;
    let idles = sizes
        .iter()
        .map(|&n| {
            let start = wire_bytes.div_ceil(wire).max(at);
            let idle = start - at;
            at = start + n.div_ceil(bus) as u64;
            wire_bytes += n as u64 + 20;
            idle
        })
        .collect();
    (idles, at)
}

/// One host inject record, number `k` (marked): direct to a port, pipeline mode on a port's flow
/// (forwarded on a connection hit) or pipeline mode as ARP (to the host queue); 60 to 256 bytes.
fn inject_record(rng: &mut Rng, flows: &[Vec<anypoint_model::FiveTuple>], k: usize) -> Vec<u8> {
    let p = rng.below(u64::from(GEOMETRY.ports)) as u8;
    let t = rng.pick(&flows[usize::from(p)]);
    let mut f = frame(&t, 60 + rng.below(197) as usize, 0x30 + p);
    let mode = match k % 3 {
        0 => 1,
        1 => 0,
        _ => {
            f[12..14].copy_from_slice(&[0x08, 0x06]);
            0
        }
    };
    mark(&mut f, k);
    let mut rec = vec![1, mode, p, 0];
    rec.extend_from_slice(&f);
    rec
}

/// The ports at line rate with inter-frame gaps, and meanwhile a steady stream of host inject
/// records sized to take `share` of the egress ports' idle time: more inject beats per egress port
/// over the run than a port's frame FIFO holds, so the ports would stall if inject took anything but
/// idle slots (with the gaps removed, the same run stalls them). The inject pipeline's forwards leave
/// in order, each waiting for its egress port's current frame, so its own rate is limited too: at
/// 512 bits, where the gaps leave a fifth of the cycles idle, a third of them keeps the records
/// ahead of a new one few.
fn inject_at_line_rate(width: Width, frames_per_port: usize, share: f64, seed: u64) {
    let what = format!(
        "inject at line rate, DATA_WIDTH={} seed={seed:#x}",
        width.bits()
    );
    let (mut rtl, mut model, flows) = setup(width);
    let mut rng = Rng::new(seed);
    let mut exp = Expected::default();
    let mut traffic_end = u64::MAX;
    let (mut beats, mut slots) = (0u64, 0u64);
    for p in 0..GEOMETRY.ports {
        // The sizes of SIZES and the jumbo before the run of 60-byte frames, then nothing above
        // 1514 bytes (more frames, so more gaps: more idle time to take).
        let sizes: Vec<usize> = sizes(&mut rng, frames_per_port, 60)
            .into_iter()
            .enumerate()
            .map(|(i, n)| if i > SIZES.len() { n.min(1514) } else { n })
            .collect();
        let (idles, end) = ipg_idles(&sizes, width.bytes(), wire_bytes_per_cycle(width));
        traffic_end = traffic_end.min(end);
        slots += end;
        for (size, idle) in sizes.iter().zip(idles) {
            let t = rng.pick(&flows[usize::from(p)]);
            let f = frame(&t, *size, 0x10 + p);
            beats += size.div_ceil(width.bytes()) as u64;
            model.receive(p, &f);
            exp.collect(&mut model, Source::Port(p));
            rtl.send_after(p, &f, idle);
        }
    }
    let idle = 1.0 - beats as f64 / slots as f64;
    // Two thirds of the records go to an egress port, a quarter of those to each: one record of
    // `b` egress beats every `b / (6 * load)` cycles loads each egress port by `load`.
    let load = idle * share;
    let out_beats = |r: &[u8]| (r.len() - 4).div_ceil(width.bytes()) as u64;
    let interval = |r: &[u8]| (out_beats(r) as f64 / (6.0 * load)).ceil() as u64;
    // The bound on an inject record's time from offered to its output's last beat: its beats in and
    // the pipeline, then for it and each record still ahead of it in the inject pipeline one frame of
    // the competing port at the egress arbiter (round robin of whole frames: at most a jumbo) and the
    // record's own beats out (the host queue has no competitor here).
    let jumbo_beats = JUMBO.div_ceil(width.bytes()) as u64;
    let in_beats = |r: &[u8]| r.len().div_ceil(width.bytes()) as u64;
    let max_out = (4 + 256 + 32u64).div_ceil(width.bytes() as u64);
    let bound =
        |r: &[u8], ahead: u64| in_beats(r) + PIPELINE + (ahead + 1) * (jumbo_beats + max_out) + 8;
    rtl.stats = Default::default();
    let mut records: Vec<Vec<u8>> = Vec::new();
    // Per record: the cycle it was offered and the records ahead of it then.
    let mut offered: Vec<(u64, u64)> = Vec::new();
    let mut done: Vec<Option<u64>> = Vec::new();
    let (mut got_egress, mut got_host) = (Vec::new(), Vec::new());
    let mut next_at = 0u64;
    let collect = |rtl: &mut RtlSwitch,
                   done: &mut Vec<Option<u64>>,
                   got_egress: &mut Vec<(u8, Vec<u8>)>,
                   got_host: &mut Vec<Vec<u8>>| {
        let now = rtl.stats.cycles;
        for (p, f) in rtl.take_egress() {
            if let Some(k) = marked(&f) {
                done[k] = Some(now);
            }
            got_egress.push((p, f));
        }
        for h in rtl.take_host() {
            if let Some(k) = marked(&h[32.min(h.len())..]) {
                done[k] = Some(now);
            }
            got_host.push(h);
        }
    };
    loop {
        let now = rtl.stats.cycles;
        if now < traffic_end && now >= next_at && rtl.inject_pending() == 0 {
            let rec = inject_record(&mut rng, &flows, records.len());
            model.inject(&rec).unwrap();
            exp.collect(&mut model, Source::Inject);
            rtl.send_inject(&rec);
            next_at = now + interval(&rec);
            let ahead = done.iter().filter(|d| d.is_none()).count() as u64;
            offered.push((now, ahead));
            done.push(None);
            records.push(rec);
        }
        if now >= traffic_end && rtl.idle() {
            break;
        }
        rtl.cycle();
        collect(&mut rtl, &mut done, &mut got_egress, &mut got_host);
        assert!(rtl.stats.cycles < 100_000_000, "{what}: no end");
    }
    rtl.run_until_idle();
    collect(&mut rtl, &mut done, &mut got_egress, &mut got_host);
    let stats = rtl.stats.clone();
    let mut late = None;
    let mut worst = (0u64, 0usize);
    let mut per_egress = vec![0u64; usize::from(GEOMETRY.ports)];
    for (k, r) in records.iter().enumerate() {
        if r[1] == 1 || r[4 + 12..4 + 14] == [0x08, 0x00] {
            let egress = if r[1] == 1 {
                r[2]
            } else {
                linerate::egress_of(&GEOMETRY, r[2])
            };
            per_egress[usize::from(egress)] += out_beats(r);
        }
        let Some(t) = done[k] else {
            panic!("{what}: inject record {k} never came out: {}", hex(r));
        };
        let (at, ahead) = offered[k];
        let latency = t - at;
        worst = worst.max((latency, k));
        if latency > bound(r, ahead) && late.is_none() {
            late = Some(format!(
                "{what}: inject record {k} took {latency} cycles (bound {} with {ahead} ahead): {}",
                bound(r, ahead),
                hex(r)
            ));
        }
    }
    // anypoint_top's FIFO_LOG2 for FRAME_CAP 16384: room for a longest frame and 64 beats, rounded up.
    let fifo_beats = ((16384 / width.bytes() + 64) as u64).next_power_of_two();
    eprintln!(
        "{what}: {frames_per_port} frames per port ({:.1}% of the ports' cycles idle by the \
         schedule), {} inject records in {} cycles ({:?} beats per egress port; a frame FIFO holds \
         {fifo_beats}), {} ingress stall cycles, slowest inject {} cycles (record {}, {} ahead)",
        100.0 * idle,
        records.len(),
        stats.cycles,
        per_egress,
        stats.ingress_stall_cycles,
        worst.0,
        worst.1,
        offered[worst.1].1
    );
    // Without the gaps' idle slots the injected beats would not fit in the ports' frame FIFOs.
    assert!(
        per_egress.iter().all(|&b| b > fifo_beats),
        "{what}: too few inject beats to tell"
    );
    if let Some(v) = rtl.hold_violation() {
        panic!("{v}");
    }
    assert_eq!(
        stats.ingress_stall_cycles, 0,
        "{what}: ingress tready fell while a beat was offered"
    );
    if let Some(l) = late {
        panic!("{l}");
    }
    exp.check(&got_egress, &got_host, &what);
}

#[test]
fn back_to_back_64() {
    back_to_back(Width::W64, 5000, 0x11e_4a7e_0064);
}

#[test]
fn back_to_back_512() {
    back_to_back(Width::W512, 8000, 0x11e_4a7e_0512);
}

#[test]
fn inject_at_line_rate_64() {
    inject_at_line_rate(Width::W64, 6000, 0.5, 0x1a7e_c700_0064);
}

#[test]
fn inject_at_line_rate_512() {
    inject_at_line_rate(Width::W512, 8000, 1.0 / 3.0, 0x1a7e_c700_0512);
}
