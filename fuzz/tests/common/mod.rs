//! The model and the Verilated RTL side by side, for the RTL tests of the fuzz corpus and liveness.

#![allow(dead_code)] // each test file uses its part

use anypoint_ctl::config::Config;
use anypoint_ctl::setup;
use anypoint_fuzz::scenario::{Step, GEOMETRY};
use anypoint_model::regs::{ctr, region};
use anypoint_model::{HashKey, Switch};
use std::fmt::Write as _;
use verilator_tests::recorder::Recorder;
use verilator_tests::rtl::{RtlSwitch, Stress, Width};

pub fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

/// The model and the RTL, fed the same steps; frames are compared in batches from one source.
pub struct Pair {
    pub model: Switch,
    pub rtl: RtlSwitch,
    stress: Stress,
    /// Input beats of the current batch.
    beats: u64,
    /// Most cycles a batch took to drain, as a share of its bound.
    pub worst_drain: f64,
    /// Frames sent since the last comparison, for the report.
    batch: Vec<String>,
    /// The source of the current batch (`None`: host inject).
    source: Option<Option<u8>>,
    pub frames: u64,
    pub forwarded: u64,
}

impl Pair {
    pub fn new(width: Width, stress: Stress) -> Pair {
        assert_eq!(GEOMETRY, verilator_tests::rtl::GEOMETRY);
        let mut rtl = RtlSwitch::new(width);
        rtl.set_stress(stress);
        Pair {
            model: Switch::new(GEOMETRY),
            rtl,
            stress,
            beats: 0,
            worst_drain: 0.0,
            batch: Vec::new(),
            source: None,
            frames: 0,
            forwarded: 0,
        }
    }

    pub fn step(&mut self, step: &Step) -> Result<(), String> {
        let source = match step {
            Step::Write { .. } => None,
            Step::Receive { port, .. } => Some(Some(*port)),
            Step::Inject { .. } => Some(None),
        };
        // Frames from one source come out in order; another source or a write ends the batch.
        if source.is_none()
            || (self.source.is_some() && source != self.source)
            || self.batch.len() >= 32
        {
            self.compare()?;
        }
        match step {
            Step::Write { offset, value } => {
                self.model.write32(*offset, *value);
                self.rtl.write32(*offset, *value);
            }
            Step::Receive { port, frame } => {
                self.model.receive(*port, frame);
                self.rtl.send(*port, frame);
                self.beats += self.beats_of(frame.len());
                self.batch.push(format!("port {port}: {}", hex(frame)));
            }
            Step::Inject { record } => {
                // The RTL drops a record the model rejects; both must then show nothing.
                let _ = self.model.inject(record);
                self.rtl.send_inject(record);
                self.beats += self.beats_of(record.len());
                self.batch.push(format!("inject: {}", hex(record)));
            }
        }
        self.source = source;
        Ok(())
    }

    fn beats_of(&self, len: usize) -> u64 {
        len.max(1).div_ceil(self.rtl.width().bytes()) as u64
    }

    /// Clocks the RTL until it is idle, within a bound: each frame's beats in and out (plus a host
    /// record header and a learn record), the pipeline latency, all stretched by the stall rates
    /// (store and forward through one port's pipeline: frames of a batch do not overlap less).
    pub fn drain(&mut self) -> Result<(), String> {
        let n = self.batch.len() as u64;
        let header_beats = 32u64.div_ceil(self.rtl.width().bytes() as u64);
        let work = 2 * self.beats + n * (2 * header_beats + 32) + 64;
        let stall = self
            .stress
            .ingress_gap_pct
            .max(self.stress.egress_stall_pct);
        let bound = 2 * work * 100 / u64::from(100 - stall.min(95));
        self.beats = 0;
        let mut quiet = 0;
        for c in 1..=bound {
            self.rtl.cycle();
            quiet = if self.rtl.idle() { quiet + 1 } else { 0 };
            // `busy` is sampled before the edge: one more clock settles the last beat.
            if quiet >= 2 {
                self.worst_drain = self.worst_drain.max(c as f64 / bound as f64);
                return Ok(());
            }
        }
        Err(format!(
            "{n} frames not through after {bound} cycles:\n  {}",
            self.batch.join("\n  ")
        ))
    }

    /// Drains the RTL and compares its outputs with the model's.
    pub fn compare(&mut self) -> Result<(), String> {
        self.drain()?;
        let want_egress: Vec<_> = std::iter::from_fn(|| self.model.pop_egress()).collect();
        let want_host: Vec<_> = std::iter::from_fn(|| self.model.pop_host()).collect();
        let got_egress = self.rtl.take_egress();
        let got_host = self.rtl.take_host();
        self.frames += self.batch.len() as u64;
        self.forwarded += want_egress.len() as u64;
        let batch = std::mem::take(&mut self.batch);
        // Frames keep their order per egress port; ports stall independently of each other.
        let by_port = |frames: &[(u8, Vec<u8>)]| {
            let mut ports = vec![Vec::new(); usize::from(GEOMETRY.ports)];
            for (p, f) in frames {
                ports[usize::from(*p)].push(f.clone());
            }
            ports
        };
        if by_port(&want_egress) == by_port(&got_egress) && want_host == got_host {
            return Ok(());
        }
        let mut msg = String::from("RTL differs from the model after:\n");
        for f in &batch {
            let _ = writeln!(msg, "  in {f}");
        }
        for (p, f) in &want_egress {
            let _ = writeln!(msg, "  model egress {p}: {}", hex(f));
        }
        for (p, f) in &got_egress {
            let _ = writeln!(msg, "  rtl   egress {p}: {}", hex(f));
        }
        for h in &want_host {
            let _ = writeln!(msg, "  model host: {}", hex(h));
        }
        for h in &got_host {
            let _ = writeln!(msg, "  rtl   host: {}", hex(h));
        }
        Err(msg)
    }

    /// Every port, reason, service and member counter and the activity bitmap.
    pub fn compare_state(&mut self) -> Result<(), String> {
        self.compare()?;
        let mut offsets = Vec::new();
        for p in 0..u32::from(GEOMETRY.ports) {
            for c in 0..6 {
                offsets.push(region::CTR + ctr::port::OFFSET + p * ctr::port::STRIDE + 8 * c);
            }
        }
        for r in 0..32 {
            offsets.push(region::CTR + ctr::reason::OFFSET + r * ctr::reason::STRIDE);
        }
        for s in 0..u32::from(GEOMETRY.services) {
            for c in 0..4 {
                offsets.push(region::CTR + ctr::service::OFFSET + s * ctr::service::STRIDE + 8 * c);
            }
        }
        for m in 0..u32::from(GEOMETRY.members) {
            for c in 0..4 {
                offsets.push(region::CTR + ctr::member::OFFSET + m * ctr::member::STRIDE + 8 * c);
            }
        }
        let words = (8u32 << GEOMETRY.conn_buckets_log2) / 32;
        offsets.extend((0..words).map(|w| region::ACT + 4 * w));
        for o in offsets {
            // Low word first: it latches the high word of a counter.
            for a in [o, o + 4] {
                let (m, r) = (self.model.read32(a), self.rtl.read32(a));
                if m != r {
                    return Err(format!("register {a:#x}: model {m:#x}, RTL {r:#x}"));
                }
                if a >= region::ACT {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// Runs `steps` on both with 20 % ingress gaps and egress stalls; frames sent and forwarded.
pub fn run_steps(width: Width, seed: u64, steps: &[Step]) -> Result<(u64, u64), String> {
    let mut pair = Pair::new(
        width,
        Stress {
            ingress_gap_pct: 20,
            egress_stall_pct: 20,
            seed,
        },
    );
    for s in steps {
        pair.step(s)?;
    }
    pair.compare_state()?;
    Ok((pair.frames, pair.forwarded))
}

/// A TCP service and a UDP service on the VIP, members behind port 1, programmed by the driver.
const CONFIG: &str = r#"
[[port]]
id = 0
mac = "02:00:00:00:00:10"
next_hop_mac = "02:00:00:00:00:01"
[[port]]
id = 1
mac = "02:00:00:00:00:11"
[[service]]
name = "web"
vip = "10.0.0.100"
port = 80
proto = "tcp"
policy = "maglev"
indirection_slots = 1024
members = [
  { addr = "10.0.1.1", port = 8080, mac = "02:00:00:00:01:01", out_port = 1 },
  { addr = "10.0.1.2", port = 8080, mac = "02:00:00:00:01:02", out_port = 1 },
]
[[service]]
name = "game"
vip = "10.0.0.100"
port = 9000
proto = "udp"
policy = "maglev"
indirection_slots = 1024
members = [
  { addr = "10.0.2.1", port = 9000, mac = "02:00:00:00:02:01", out_port = 1 },
]
"#;

const VIP: [u8; 4] = [10, 0, 0, 100];

/// Fields of a strange frame; everything else is a plain peer-to-VIP frame.
#[derive(Clone, Copy)]
pub struct Odd {
    /// 802.1Q TCI (priority, DEI, VLAN id).
    pub vlan: Option<u16>,
    pub tos: u8,
    pub ip_id: u16,
    /// `None`: UDP.
    pub tcp_flags: Option<u8>,
    pub payload: usize,
    pub client: u8,
}

pub fn odd_frame(o: Odd) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x10, 0x02, 0, 0, 0, 0, 0x01];
    if let Some(tci) = o.vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x00]);
    let l3 = f.len();
    let (proto, l4) = if o.tcp_flags.is_some() {
        (6, 20)
    } else {
        (17, 8)
    };
    let total = (20 + l4 + o.payload) as u16;
    f.extend_from_slice(&[0x45, o.tos]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&o.ip_id.to_be_bytes());
    f.extend_from_slice(&[0x40, 0, 64, proto, 0, 0, 192, 168, 7, o.client]);
    f.extend_from_slice(&VIP);
    let sum = f[l3..l3 + 20]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum::<u32>();
    let sum = !((sum & 0xffff) + (sum >> 16)) as u16;
    f[l3 + 10..l3 + 12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&(40000 + u16::from(o.client)).to_be_bytes());
    match o.tcp_flags {
        Some(flags) => {
            f.extend_from_slice(&[0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff]);
            f.extend_from_slice(&[0; 4]);
        }
        None => {
            f.extend_from_slice(&9000u16.to_be_bytes());
            f.extend_from_slice(&(8 + o.payload as u16).to_be_bytes());
            f.extend_from_slice(&[0, 0]);
        }
    }
    f.extend((0..o.payload).map(|i| i as u8));
    // The frames are well-formed: an independent parser agrees.
    etherparse::SlicedPacket::from_ethernet(&f).expect("a valid frame");
    f
}

/// The register writes with which the driver programs [`CONFIG`] (hash key 1, 2, 3, 4).
pub fn cluster_tables() -> Vec<Step> {
    let config = Config::parse(CONFIG).expect("test config");
    let recorder = Recorder::new(Switch::new(GEOMETRY));
    let key = HashKey([1, 2, 3, 4]);
    let mut ctl = setup::program(recorder, &config, key).expect("program");
    ctl.backend()
        .take_steps()
        .into_iter()
        .filter_map(|s| match s {
            verilator_tests::golden::Step::Write { offset, value } => {
                Some(Step::Write { offset, value })
            }
            _ => None,
        })
        .collect()
}
