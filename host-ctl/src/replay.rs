//! `anypoint-ctl replay`: pcap files through one switch with the driver and plugins in the loop.

use crate::config::Config;
use crate::pcap_io::{self, Frame, Writer};
use crate::setup;
use anypoint_driver::{Backend, ControlPlane, Counters, HostDisposition};
use pcap_file::DataLink;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One `--in PORT:FILE` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    pub port: u8,
    pub path: PathBuf,
}

impl std::str::FromStr for Input {
    type Err = String;
    fn from_str(s: &str) -> Result<Input, String> {
        let (port, path) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}` is not PORT:FILE.pcap"))?;
        let port = port
            .parse()
            .map_err(|_| format!("`{port}` in `{s}` is not a port number"))?;
        Ok(Input {
            port,
            path: PathBuf::from(path),
        })
    }
}

/// What the host did with host-queue records during the replay.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HostActivity {
    pub learned: u64,
    pub redirected: u64,
    /// State records (FIN or RST on a connection).
    pub closing: u64,
    pub unhandled: u64,
}

/// Connections in the table per member at the end of the replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberShare {
    pub service: String,
    pub member: String,
    pub weight: u32,
    pub connections: u32,
    pub in_packets: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub packets_in: u64,
    pub host: HostActivity,
    pub distribution: Vec<MemberShare>,
    pub counters: Counters,
}

/// Frames of every input, merged by timestamp; ties keep argument order, then file order.
fn merged(inputs: &[Input]) -> Result<Vec<(u8, Frame)>, String> {
    let mut all = Vec::new();
    for input in inputs {
        all.extend(
            pcap_io::read_ethernet(&input.path)?
                .into_iter()
                .map(|f| (input.port, f)),
        );
    }
    all.sort_by_key(|(_, f)| f.ts);
    Ok(all)
}

/// Output files of one replay.
struct Outputs {
    ports: BTreeMap<u8, Writer>,
    host: Writer,
}

pub fn run<B: Backend>(
    backend: B,
    config: &Config,
    inputs: &[Input],
    out_dir: &Path,
) -> Result<Report, String> {
    let mut ctl = setup::program(backend, config, setup::hash_key(config)?)?;
    for input in inputs {
        if !config.ports.iter().any(|p| p.id() == input.port) {
            return Err(format!(
                "--in {}:{}: port {} is not in the config",
                input.port,
                input.path.display(),
                input.port
            ));
        }
    }
    let frames = merged(inputs)?;
    std::fs::create_dir_all(out_dir)
        .map_err(|e| format!("{}: cannot create: {e}", out_dir.display()))?;
    let mut out = Outputs {
        ports: config
            .ports
            .iter()
            .map(|p| {
                Ok((
                    p.id(),
                    Writer::create(
                        &out_dir.join(format!("port{}.pcap", p.id())),
                        DataLink::ETHERNET,
                    )?,
                ))
            })
            .collect::<Result<_, String>>()?,
        host: Writer::create(&out_dir.join("host.pcap"), DataLink::USER0)?,
    };
    let mut host = HostActivity::default();
    for (port, frame) in &frames {
        ctl.backend().receive(*port, &frame.data);
        drain(&mut ctl, frame.ts, &mut out, &mut host)?;
    }
    for (_, w) in out.ports {
        w.finish()?;
    }
    out.host.finish()?;
    let counters = ctl.counters();
    Ok(Report {
        packets_in: frames.len() as u64,
        host,
        distribution: distribution(&ctl, &counters),
        counters,
    })
}

/// Empties the egress and host queues the way the real host would between packets: host-queue
/// records go to `host.pcap` and to the control plane (learn, ALRM redirect and re-inject).
fn drain<B: Backend>(
    ctl: &mut ControlPlane<B>,
    ts: Duration,
    out: &mut Outputs,
    host: &mut HostActivity,
) -> Result<(), String> {
    loop {
        if let Some((port, data)) = ctl.backend().pop_egress() {
            match out.ports.get_mut(&port) {
                Some(w) => w.write(ts, &data)?,
                None => {
                    return Err(format!(
                        "the switch sent a frame out of unconfigured port {port}"
                    ))
                }
            }
        } else if let Some(record) = ctl.pop_host() {
            out.host.write(ts, &record)?;
            match ctl.handle_host_record(&record).map_err(|e| e.to_string())? {
                HostDisposition::Learned => host.learned += 1,
                HostDisposition::Redirected { .. } => host.redirected += 1,
                HostDisposition::Closing { .. } => host.closing += 1,
                HostDisposition::Unhandled => host.unhandled += 1,
            }
        } else {
            return Ok(());
        }
    }
}

fn distribution<B: Backend>(ctl: &ControlPlane<B>, counters: &Counters) -> Vec<MemberShare> {
    let mut shares = Vec::new();
    for s in ctl.services() {
        let sc = counters
            .services
            .iter()
            .find(|c| c.service == s.config.name);
        for m in &s.members {
            let name = format!("{}:{}", m.config.addr, m.config.port);
            let in_packets = sc
                .and_then(|c| c.members.iter().find(|mc| mc.member == name))
                .map_or(0, |mc| mc.counters.in_packets);
            shares.push(MemberShare {
                service: s.config.name.clone(),
                member: name,
                weight: m.config.weight,
                connections: m.conns,
                in_packets,
            });
        }
    }
    shares
}

/// The human-readable report.
pub fn render(report: &Report) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let w = &mut o;
    writeln!(
        w,
        "replayed {} frames; host: {} learned, {} redirected by ALRM, {} FIN/RST seen, {} other",
        report.packets_in,
        report.host.learned,
        report.host.redirected,
        report.host.closing,
        report.host.unhandled
    )
    .unwrap();
    writeln!(w, "\nper-member distribution:").unwrap();
    writeln!(
        w,
        "  {:<10} {:<22} {:>6} {:>11} {:>10} {:>7}",
        "service", "member", "weight", "connections", "packets", "share"
    )
    .unwrap();
    for s in &report.distribution {
        let total: u64 = report
            .distribution
            .iter()
            .filter(|o| o.service == s.service)
            .map(|o| o.in_packets)
            .sum();
        let share = if total == 0 {
            0.0
        } else {
            100.0 * s.in_packets as f64 / total as f64
        };
        writeln!(
            w,
            "  {:<10} {:<22} {:>6} {:>11} {:>10} {:>6.1}%",
            s.service, s.member, s.weight, s.connections, s.in_packets, share
        )
        .unwrap();
    }
    o.push_str(&crate::render::counters(&report.counters));
    o
}
