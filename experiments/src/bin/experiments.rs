//! `experiments`: runs the three experiments of docs/experiments.md through the switch and through
//! the proxy, writes OUT/results.json and the page (root: network namespaces and raw sockets).
//!
//! `cargo run --release -p anypoint-experiments --bin experiments -- --out docs/experiments`
//! (`make experiments` also builds the daemon, rtl-bench and acp-bench and draws the plots).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use acp::testing::can_run_live;
use anypoint_experiments::lab::Edge;
use anypoint_experiments::report::{self, EngineFigure, EngineKind, Results, RtlFigure};
use anypoint_experiments::runs::{Transfer, FRAME_BYTES, SERVERS};
use anypoint_model::frame_switch::{state_bytes, Policy, DEFAULT_MAX_HOLES, DEFAULT_W};
use clap::Parser;

/// Frames per second the slow server of experiment 3 reads.
const SLOW_RATE: f64 = 1000.0;
/// Round-trip times of experiment 2, in milliseconds.
const RTTS_MS: [f64; 5] = [0.0, 5.0, 10.0, 20.0, 40.0];
/// Ethernet, IPv4, ACP and frame headers around the frame data of a one-frame segment.
const PACKET_OVERHEAD: usize = 14 + 20 + 20 + 8;

#[derive(Parser)]
struct Args {
    /// Directory for results.json and the plots.
    #[arg(long, default_value = "docs/experiments")]
    out: PathBuf,
    /// The page written from the results.
    #[arg(long, default_value = "docs/experiments.md")]
    page: PathBuf,
    /// The daemon binary (release build).
    #[arg(long, default_value = "target/release/anypoint-ctl")]
    ctl: PathBuf,
    /// The RTL benchmark binary (release build).
    #[arg(long, default_value = "target/release/rtl-bench")]
    rtl_bench: PathBuf,
    /// The ACP engine benchmark binary (release build).
    #[arg(long, default_value = "target/release/acp-bench")]
    acp_bench: PathBuf,
    /// Multiplies every transfer's frame count (1: 20,000 to 50,000 frames of 1 KiB a run).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Measure only section 4 (rtl-bench, acp-bench) again and rewrite the page, keeping the
    /// other results of OUT/results.json.
    #[arg(long)]
    rtl_only: bool,
}

/// Cycles per packet of the RTL's line-rate path for one frame of the experiments, both widths.
fn rtl_figures(bin: &Path) -> Result<Vec<RtlFigure>, String> {
    if !bin.exists() {
        return Err(format!("{} is not built", bin.display()));
    }
    let packet_bytes = PACKET_OVERHEAD + FRAME_BYTES;
    [64, 512]
        .into_iter()
        .map(|width| {
            let out = Command::new(bin)
                .args([
                    "--width",
                    &width.to_string(),
                    "--frame-size",
                    &packet_bytes.to_string(),
                ])
                .args(["--packets", "2000", "--ports", "1"])
                .output()
                .map_err(|e| format!("{}: {e}", bin.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "rtl-bench: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)
                .map_err(|e| format!("rtl-bench output: {e}"))?;
            let field = |k: &str| v[k].as_f64().ok_or(format!("rtl-bench output has no {k}"));
            Ok(RtlFigure {
                width,
                packet_bytes,
                cycles_per_packet: field("cycles")? / field("packets_out")?,
            })
        })
        .collect()
}

/// The ACP engine's clocks on a connection of experiment 1's frames, round-robin over the servers.
fn engine_figure(bin: &Path) -> Result<EngineFigure, String> {
    if !bin.exists() {
        return Err(format!("{} is not built", bin.display()));
    }
    let policy = "round-robin";
    let out = Command::new(bin)
        .args(["--frame-size", &FRAME_BYTES.to_string()])
        .args(["--servers", &SERVERS.to_string(), "--policy", policy])
        .args(["--requests", "2000"])
        .output()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "acp-bench: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("acp-bench output: {e}"))?;
    let bad = |k: &str| format!("acp-bench output has no {k}");
    let kinds = v["kinds"]
        .as_object()
        .ok_or_else(|| bad("kinds"))?
        .iter()
        .map(|(kind, k)| {
            Ok(EngineKind {
                kind: kind.clone(),
                segments: k["segments"].as_u64().ok_or_else(|| bad("segments"))?,
                cycles_per_segment: k["cycles_per_segment"]
                    .as_f64()
                    .ok_or_else(|| bad("cycles_per_segment"))?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(EngineFigure {
        frame_bytes: FRAME_BYTES,
        servers: SERVERS,
        policy: policy.into(),
        kinds,
        cycles_per_frame: v["engine_cycles_per_frame"]
            .as_f64()
            .ok_or_else(|| bad("engine_cycles_per_frame"))?,
        streamed_cycles_per_frame: v["streamed"]["engine_cycles_per_frame"].as_f64(),
        line_rate_percent: v["streamed"]["line_rate_percent"].as_f64(),
    })
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Kernel, CPU, cores and load: what the figures depend on.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?");
    format!(
        "{}, {cpu}, {cores} cores, load average {load} at the start",
        command_line("uname", &["-srm"])
    )
}

/// The results of an earlier run, to measure section 4 again.
fn previous(path: &Path) -> Results {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        eprintln!("experiments: {}: {e}", path.display());
        std::process::exit(1)
    });
    serde_json::from_str(&text).unwrap_or_else(|e| {
        eprintln!("experiments: {}: {e}", path.display());
        std::process::exit(1)
    })
}

/// Experiments 1 to 3 through the switch and the proxy (root: network namespaces).
fn live(args: &Args) -> Results {
    if !can_run_live("experiments") {
        std::process::exit(1);
    }
    let frames = |base: f64| (base * args.scale).round().max(100.0) as u32;
    let work = std::env::temp_dir().join(format!("anypoint-experiments-{}", std::process::id()));
    let mut results = Results {
        date: command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        machine: machine(),
        scale: args.scale,
        frame_bytes: FRAME_BYTES,
        servers: SERVERS,
        slow_rate: SLOW_RATE,
        switch_state_bytes: state_bytes(DEFAULT_W, DEFAULT_MAX_HOLES) as u64,
        w: DEFAULT_W,
        max_holes: DEFAULT_MAX_HOLES,
        throughput: Vec::new(),
        memory: Vec::new(),
        slow_server: Vec::new(),
        rtl: Err("not run".into()),
        engine: Err("not run".into()),
        rtl_date: None,
    };
    let edges = [Edge::Switch, Edge::Proxy];
    eprintln!("1. throughput");
    for edge in edges {
        let t = Transfer {
            edge,
            policy: Policy::RoundRobin,
            rtt_ms: 0.0,
            slow: None,
            frames: frames(50_000.0),
        };
        results.throughput.push(t.row(&args.ctl, &work));
    }
    eprintln!("2. memory against RTT");
    for rtt_ms in RTTS_MS {
        for edge in edges {
            let t = Transfer {
                edge,
                policy: Policy::RoundRobin,
                rtt_ms,
                slow: None,
                frames: frames(40_000.0),
            };
            results.memory.push(t.row(&args.ctl, &work));
        }
    }
    eprintln!("3. one slow server of {SERVERS}");
    for (edge, policy) in [
        (Edge::Switch, Policy::SpeedSensitive),
        (Edge::Switch, Policy::RoundRobin),
        (Edge::Proxy, Policy::RoundRobin),
        (Edge::Proxy, Policy::SpeedSensitive),
    ] {
        let t = Transfer {
            edge,
            policy,
            rtt_ms: 0.0,
            slow: Some(SLOW_RATE),
            frames: frames(20_000.0),
        };
        results.slow_server.push(t.row(&args.ctl, &work));
    }
    let _ = std::fs::remove_dir_all(&work);
    results
}

fn main() {
    let args = Args::parse();
    let started = Instant::now();
    let mut results = if args.rtl_only {
        Results {
            rtl_date: Some(command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
            ..previous(&args.out.join("results.json"))
        }
    } else {
        live(&args)
    };
    eprintln!("4. RTL cycles per frame");
    results.rtl = rtl_figures(&args.rtl_bench);
    results.engine = engine_figure(&args.acp_bench);

    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).unwrap_or_else(|e| {
            eprintln!("experiments: {}: {e}", path.display());
            std::process::exit(1)
        })
    };
    std::fs::create_dir_all(&args.out).unwrap_or_else(|e| {
        eprintln!("experiments: {}: {e}", args.out.display());
        std::process::exit(1)
    });
    let json = serde_json::to_string_pretty(&results).expect("results serialize");
    write(&args.out.join("results.json"), &json);
    let page_dir = args.page.parent().unwrap_or(Path::new(""));
    let plots = args.out.strip_prefix(page_dir).unwrap_or(&args.out);
    write(
        &args.page,
        &report::markdown(&results, &plots.to_string_lossy()),
    );
    eprintln!(
        "wrote {} and {} in {:.0} s",
        args.out.join("results.json").display(),
        args.page.display(),
        started.elapsed().as_secs_f64()
    );
}
