//! The results of `make experiments` (JSON, read back by the plot script) and the page written
//! from them, docs/experiments.md.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

/// ACP's frame header: frame bytes on the wire and in buffers are the data plus this.
const FRAME_HEADER: usize = acp::wire::FRAME_HEADER_LEN;

/// One measured transfer: the client sends its frames through the edge to the servers.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Run {
    /// From the client's first frame to the last frame any server took.
    pub seconds: f64,
    pub frames_per_server: Vec<u64>,
    /// Proxy: most frame bytes it held (all its connections). Switch: its fixed state per
    /// connection, `state_bytes(w, max_holes)`.
    pub peak_bytes: u64,
    /// Proxy: most bytes it had sent to the servers and not yet had acknowledged (the part of
    /// `peak_bytes` a terminating proxy cannot avoid: bandwidth times round-trip time).
    pub peak_unacked: Option<u64>,
    /// Switch: most frame ring entries in use, when the daemon reports them.
    pub ring_peak: Option<u64>,
    /// Over time (seconds, value): proxy bytes held; switch ring entries in use.
    pub series: Vec<(f64, u64)>,
    /// Switch: the daemon's `stats` for the service at the end (segments by kind, events).
    #[serde(default)]
    pub switch_stats: Option<serde_json::Value>,
}

impl Run {
    /// Switch: the client's retransmitted data segments per 100 new ones (the daemon's `in_rtx`
    /// and `in_data` segment kinds).
    pub fn peer_retransmit_percent(&self) -> Option<f64> {
        let kinds = self.switch_stats.as_ref()?.get("segments")?;
        let n = |k: &str| kinds.get(k).and_then(|v| v.as_u64()).unwrap_or(0) as f64;
        (n("in_data") > 0.0).then(|| 100.0 * n("in_rtx") / n("in_data"))
    }

    pub fn frames(&self) -> u64 {
        self.frames_per_server.iter().sum()
    }

    pub fn frames_per_second(&self) -> f64 {
        self.frames() as f64 / self.seconds
    }
}

/// One row of an experiment: which edge, how, and what came out (or why nothing did).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Row {
    /// `switch` or `proxy`.
    pub edge: String,
    /// The per-frame policy (`least-loaded` is the proxy's speed-sensitive steering).
    pub policy: String,
    /// Round-trip time added between the edge and the servers.
    pub rtt_ms: f64,
    pub result: Result<Run, String>,
}

/// The RTL's cost of one packet on the line-rate path (`rtl-bench`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RtlFigure {
    pub width: u32,
    pub packet_bytes: usize,
    pub cycles_per_packet: f64,
}

/// The ACP engine's clocks on a connection like experiment 1's (`acp-bench`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EngineFigure {
    pub frame_bytes: usize,
    pub servers: usize,
    pub policy: String,
    /// Segments by kind the engine took (and `given_back`), with its clocks per segment.
    pub kinds: Vec<EngineKind>,
    /// Its clocks over every segment, per frame switched (requests and replies), one segment at a
    /// time and with the segments it takes streamed back to back.
    pub cycles_per_frame: f64,
    #[serde(default)]
    pub streamed_cycles_per_frame: Option<f64>,
    /// The segments' time on a 10 Gb/s wire over the engine's streamed clocks, per cent.
    #[serde(default)]
    pub line_rate_percent: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EngineKind {
    pub kind: String,
    pub segments: u64,
    pub cycles_per_segment: f64,
}

fn not_run<T>() -> Result<T, String> {
    Err("not run".into())
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Results {
    pub date: String,
    pub machine: String,
    pub scale: f64,
    pub frame_bytes: usize,
    pub servers: usize,
    /// Frames per second the slow server of experiment 3 reads.
    pub slow_rate: f64,
    /// `state_bytes(w, max_holes)` of the switch's service, and those two parameters.
    pub switch_state_bytes: u64,
    pub w: usize,
    pub max_holes: usize,
    pub throughput: Vec<Row>,
    pub memory: Vec<Row>,
    pub slow_server: Vec<Row>,
    pub rtl: Result<Vec<RtlFigure>, String>,
    #[serde(default = "not_run")]
    pub engine: Result<EngineFigure, String>,
    /// When section 4 was measured again on its own (`experiments --rtl-only`).
    #[serde(default)]
    pub rtl_date: Option<String>,
}

/// `a / b` as a ratio for the tables, when both rows were measured.
fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

/// The distinct reasons rows were not measured, numbered in the order they first appear; the
/// tables cite them by number and the page lists them once.
struct Notes(Vec<String>);

impl Notes {
    fn collect(r: &Results) -> Notes {
        let rows = r.throughput.iter().chain(&r.memory).chain(&r.slow_server);
        let errors = rows.filter_map(|row| row.result.as_ref().err());
        let mut notes: Vec<String> = Vec::new();
        let rtl = r.rtl.as_ref().err().into_iter();
        for e in errors.chain(rtl).chain(r.engine.as_ref().err()) {
            if !notes.contains(e) {
                notes.push(e.clone());
            }
        }
        Notes(notes)
    }

    fn not_measured(&self, e: &str) -> String {
        let n = self.0.iter().position(|x| x == e).map_or(0, |i| i + 1);
        format!("not measured [{n}]")
    }

    fn write(&self, md: &mut String) {
        if self.0.is_empty() {
            return;
        }
        md.push_str("\n## Not measured\n\n");
        for (i, e) in self.0.iter().enumerate() {
            let _ = writeln!(md, "{}. {}", i + 1, e.replace('\n', " "));
        }
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn find<'a>(rows: &'a [Row], edge: &str, policy: Option<&str>, rtt: f64) -> Option<&'a Run> {
    rows.iter()
        .find(|r| r.edge == edge && policy.is_none_or(|p| r.policy == p) && r.rtt_ms == rtt)
        .and_then(|r| r.result.as_ref().ok())
}

fn throughput(r: &Results, notes: &Notes, md: &mut String) {
    md.push_str(
        "| edge | policy | frames | seconds | frames/s | MB/s of frame data | vs proxy |\n",
    );
    md.push_str(
        "|------|--------|-------:|--------:|---------:|-------------------:|---------:|\n",
    );
    let proxy = find(&r.throughput, "proxy", None, 0.0).map(Run::frames_per_second);
    for row in &r.throughput {
        match &row.result {
            Ok(run) => {
                let fps = run.frames_per_second();
                let mbs = fps * r.frame_bytes as f64 / 1e6;
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {:.2} | {} | {mbs:.1} | {} |",
                    row.edge,
                    row.policy,
                    thousands(run.frames()),
                    run.seconds,
                    thousands(fps.round() as u64),
                    ratio(Some(fps), proxy)
                );
            }
            Err(e) => {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | | | | |",
                    row.edge,
                    row.policy,
                    notes.not_measured(e)
                );
            }
        }
    }
}

fn memory(r: &Results, notes: &Notes, md: &mut String) {
    let _ = writeln!(
        md,
        "The switch's state per connection is {} bytes whatever the RTT (`state_bytes({}, {})`, \
         w = {} ring entries each way, {} hole records).\n",
        thousands(r.switch_state_bytes),
        r.w,
        r.max_holes,
        r.w,
        r.max_holes
    );
    md.push_str("| RTT (ms) | proxy: most bytes held | proxy: most bytes sent, unacknowledged | proxy frames/s | proxy rate x RTT | switch: ring entries in use (most) | switch frames/s | switch: client retransmissions per 100 data segments | proxy bytes / switch state bytes |\n");
    md.push_str("|---------:|------:|------:|------:|------:|------:|------:|------:|------:|\n");
    let mut rtts: Vec<f64> = r.memory.iter().map(|row| row.rtt_ms).collect();
    rtts.dedup();
    for rtt in rtts {
        let cell = |edge: &str, f: &dyn Fn(&Run) -> String| match r
            .memory
            .iter()
            .find(|row| row.edge == edge && row.rtt_ms == rtt)
        {
            Some(Row {
                result: Ok(run), ..
            }) => f(run),
            Some(Row { result: Err(e), .. }) => notes.not_measured(e),
            None => "-".into(),
        };
        let proxy = find(&r.memory, "proxy", None, rtt);
        let rate_x_rtt = |run: &Run| {
            let bytes_per_s = run.frames_per_second() * (r.frame_bytes + FRAME_HEADER) as f64;
            thousands((bytes_per_s * rtt / 1000.0).round() as u64)
        };
        let cells = [
            cell("proxy", &|run| thousands(run.peak_bytes)),
            cell("proxy", &|run| {
                run.peak_unacked.map_or("-".into(), thousands)
            }),
            cell("proxy", &|run| {
                thousands(run.frames_per_second().round() as u64)
            }),
            cell("proxy", &rate_x_rtt),
            cell("switch", &|run| {
                run.ring_peak
                    .map_or("not reported by the daemon".into(), |n| n.to_string())
            }),
            cell("switch", &|run| {
                thousands(run.frames_per_second().round() as u64)
            }),
            cell("switch", &|run| {
                run.peer_retransmit_percent()
                    .map_or("-".into(), |p| format!("{p:.1}"))
            }),
            ratio(
                proxy.map(|p| p.peak_bytes as f64),
                Some(r.switch_state_bytes as f64),
            ),
        ];
        let _ = writeln!(md, "| {rtt} | {} |", cells.join(" | "));
    }
}

fn slow_server(r: &Results, notes: &Notes, md: &mut String) {
    md.push_str("| edge | policy | seconds | frames per server (slow one last) | slow server's share | time vs proxy round-robin |\n");
    md.push_str("|------|--------|--------:|-----------------------------------|--------------------:|---------:|\n");
    let base = find(&r.slow_server, "proxy", Some("round-robin"), 0.0).map(|p| p.seconds);
    for row in &r.slow_server {
        match &row.result {
            Ok(run) => {
                let per: Vec<String> = run
                    .frames_per_server
                    .iter()
                    .map(|&n| thousands(n))
                    .collect();
                let slow = run.frames_per_server.last().copied().unwrap_or(0);
                let share = 100.0 * slow as f64 / run.frames().max(1) as f64;
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.2} | {} | {share:.1}% | {} |",
                    row.edge,
                    row.policy,
                    run.seconds,
                    per.join(" / "),
                    ratio(Some(run.seconds), base)
                );
            }
            Err(e) => {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | | | |",
                    row.edge,
                    row.policy,
                    notes.not_measured(e)
                );
            }
        }
    }
}

fn rtl(r: &Results, notes: &Notes, md: &mut String) {
    if let Some(date) = &r.rtl_date {
        let _ = writeln!(md, "Measured again on its own on {date}.\n");
    }
    md.push_str(
        "The device's ACP engine (`hw/rtl/anypoint_acp_out.sv`, docs/frame-switching.md section \
         9a) takes the in-order common case of both directions, in `anypoint_top`'s ACP block \
         on the host queue (docs/pipeline.md section 12). Its clocks, first beat in to done for a segment alone, on a connection of frames of this size, one a segment, each request answered by a frame a \
         byte longer (`acp-bench`: a simulated run replayed through the Verilated engine and \
         the host, which takes what the engine gives back):\n\n",
    );
    match &r.engine {
        Ok(e) => {
            let _ = writeln!(
                md,
                "{} servers, {}, frames of {} bytes.\n",
                e.servers, e.policy, e.frame_bytes
            );
            md.push_str("| segments | count | clocks per segment |\n");
            md.push_str("|------|------:|------:|\n");
            for k in &e.kinds {
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.1} |",
                    k.kind,
                    thousands(k.segments),
                    k.cycles_per_segment
                );
            }
            let _ = writeln!(
                md,
                "\nEvery segment counted, those given back included: **{:.1} clocks per frame \
                 switched** (requests and replies) one segment at a time.",
                e.cycles_per_frame
            );
            if let Some(c) = e.streamed_cycles_per_frame {
                let _ = writeln!(
                    md,
                    "With the segments it takes streamed back to back (it receives the next \
                     while it decides and sends earlier ones): **{c:.1} clocks per frame**."
                );
            }
            if let Some(p) = e.line_rate_percent {
                let _ = writeln!(
                    md,
                    "Streamed, the engine takes the segments in {p:.1}% of the time their Ethernet \
                     frames hold a 10 Gb/s wire (64-bit datapath at 161.13 MHz; at 100% and more it \
                     keeps up with one port at line rate)."
                );
            }
        }
        Err(e) => {
            let _ = writeln!(md, "{}", notes.not_measured(e));
        }
    }
    md.push_str(
        "\nFor comparison, the line-rate path the pipeline has for other traffic, a \
         connection-table hit and rewrite of a TCP packet of the same length (`rtl-bench`, one \
         port, back to back):\n\n",
    );
    match &r.rtl {
        Ok(figs) => {
            md.push_str("| datapath width (bits) | packet bytes | cycles per packet |\n");
            md.push_str("|------:|------:|------:|\n");
            for f in figs {
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.1} |",
                    f.width, f.packet_bytes, f.cycles_per_packet
                );
            }
        }
        Err(e) => {
            let _ = writeln!(md, "{}", notes.not_measured(e));
        }
    }
}

/// docs/experiments.md; `plots` is the PNG directory relative to the page.
pub fn markdown(r: &Results, plots: &str) -> String {
    let notes = Notes::collect(r);
    let mut md = String::new();
    let _ = write!(
        md,
        "# Experiments: the Anypoint paper's three results\n\n\
         Written by `make experiments` (not part of `make test`) on {date}, scale {scale}. \
         Machine: {machine}.\n\n\
         Each figure sits beside the same measurement through `acp-proxy` \
         (`experiments/src/proxy.rs`), a proxy that terminates the client's ACP connection, opens \
         one ACP connection to each of the {servers} servers and forwards each frame by the same \
         per-frame policy; the switch is `anypoint-ctl run --backend model` serving a \
         `proto = \"acp\"` service. Every end is the `acp` library in its own network namespace, \
         frames of {frame} bytes, one client connection. **These are software numbers on a shared \
         machine, not hardware numbers: compare the ratios, not the absolute figures.** Raw \
         results: `{plots}/results.json`.\n\n",
        date = r.date,
        scale = r.scale,
        machine = r.machine,
        servers = r.servers,
        frame = r.frame_bytes,
    );
    md.push_str(
        "## 1. Throughput of bulk frames\n\n\
         The paper: with 8 KB frames a TCP proxy is CPU-bound at 63 MB/s, the switch reaches \
         106 MB/s (limited by the NIC). Here: one connection, round-robin over the servers.\n\n",
    );
    throughput(r, &notes, &mut md);
    let _ = write!(md, "\n![throughput]({plots}/throughput.png)\n\n");
    md.push_str(
        "## 2. Memory per connection against round-trip time\n\n\
         The paper: the switch's memory is bounded by its frame ring per flow; a proxy's grows \
         with bandwidth times delay. Here the impairment relay delays every ACP packet between \
         the edge and the servers by half the RTT each way. The proxy's figure is the most frame \
         bytes it held at once in its five connections (send queues, sent but unacknowledged, \
         and received but not yet forwarded), sampled every 5 ms; the switch holds no payload, its \
         state per connection is fixed (docs/frame-switching.md section 2), and the ring entries \
         in use show how much of it a run needed. `rate x RTT` is the proxy's measured rate in \
         frame bytes times the added RTT: what any proxy must hold unacknowledged to keep that rate \
         up, and it grows with the delay. The proxy here holds more, up to its buffers (the \
         library's 1 MiB per connection and direction): ACP, like TCP, fills the servers' 1 MiB \
         windows when nothing is lost, and the relay's queue takes what the delay does not. The \
         switch does not terminate the connection, so its rate is the client's end-to-end one: \
         every frame a member misses is the client's to retransmit over the whole path (the \
         retransmission column), where the proxy recovers on its own short leg. Its ring bounds \
         the frames in flight: at most w frames per round trip (the window it offers is the free \
         ring entries times the smallest frame), so a ring in use to its last entry means the \
         rate is the ring's, w x frame / RTT; a larger `frame_window` buys rate at long RTTs for \
         24 bytes per entry.\n\n",
    );
    memory(r, &notes, &mut md);
    let _ = write!(md, "\n![memory]({plots}/memory.png)\n\n");
    let _ = write!(
        md,
        "## 3. One slow server of four\n\n\
         The paper: with one slow server of four, window-aware steering keeps throughput up while \
         a proxy drops to the slowest server. Here the last server reads at most {:.0} frames/s; \
         the others read as fast as they can. Time runs until every server has its last frame. \
         `least-loaded` is the proxy sending each frame to the server connection with the most \
         room in its send buffer, the proxy's form of speed-sensitive steering.\n\n",
        r.slow_rate
    );
    slow_server(r, &notes, &mut md);
    let _ = write!(
        md,
        "\n![slow server]({plots}/slow_server.png)\n\n## 4. RTL cycles per frame\n\n"
    );
    rtl(r, &notes, &mut md);
    notes.write(&mut md);
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seconds: f64, per: &[u64], peak: u64) -> Result<Run, String> {
        Ok(Run {
            seconds,
            frames_per_server: per.to_vec(),
            peak_bytes: peak,
            ..Run::default()
        })
    }

    fn row(edge: &str, policy: &str, rtt: f64, result: Result<Run, String>) -> Row {
        Row {
            edge: edge.into(),
            policy: policy.into(),
            rtt_ms: rtt,
            result,
        }
    }

    fn results() -> Results {
        Results {
            date: "2026-11-27 20:00 UTC".into(),
            machine: "test".into(),
            scale: 1.0,
            frame_bytes: 1024,
            servers: 4,
            slow_rate: 1000.0,
            switch_state_bytes: 10_080,
            w: 384,
            max_holes: 8,
            throughput: vec![
                row(
                    "switch",
                    "round-robin",
                    0.0,
                    run(1.0, &[5000, 5000, 5000, 5000], 10_080),
                ),
                row(
                    "proxy",
                    "round-robin",
                    0.0,
                    run(2.0, &[2500, 2500, 2500, 2500], 1),
                ),
            ],
            memory: vec![
                row(
                    "proxy",
                    "round-robin",
                    10.0,
                    run(1.0, &[1], 2_016_000).map(|r| Run {
                        peak_unacked: Some(900_000),
                        ..r
                    }),
                ),
                row(
                    "switch",
                    "round-robin",
                    10.0,
                    Err("the daemon exited | badly".into()),
                ),
            ],
            slow_server: vec![
                row(
                    "proxy",
                    "round-robin",
                    0.0,
                    run(8.0, &[300, 300, 300, 100], 0),
                ),
                row(
                    "switch",
                    "speed-sensitive",
                    0.0,
                    run(2.0, &[330, 330, 330, 10], 0),
                ),
            ],
            rtl: Err("rtl-bench not built".into()),
            engine: Err("acp-bench not built".into()),
            rtl_date: None,
        }
    }

    fn line<'a>(md: &'a str, start: &str) -> &'a str {
        md.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{md}"))
    }

    #[test]
    fn throughput_rows_give_rates_and_the_ratio_to_the_proxy() {
        let md = markdown(&results(), "experiments");
        assert_eq!(
            line(&md, "| switch | round-robin |"),
            "| switch | round-robin | 20,000 | 1.00 | 20,000 | 20.5 | 4.00x |"
        );
        assert_eq!(
            line(&md, "| proxy | round-robin | 10,000"),
            "| proxy | round-robin | 10,000 | 2.00 | 5,000 | 5.1 | 1.00x |"
        );
        assert!(md.contains("![throughput](experiments/throughput.png)"));
    }

    #[test]
    fn retransmissions_are_per_hundred_new_data_segments() {
        let mut run = run(1.0, &[1], 0).unwrap();
        assert_eq!(run.peer_retransmit_percent(), None);
        run.switch_stats = Some(serde_json::json!({"segments": {"in_data": 200, "in_rtx": 10}}));
        assert_eq!(run.peer_retransmit_percent(), Some(5.0));
        run.switch_stats = Some(serde_json::json!({"segments": {"in_rtx": 10}}));
        assert_eq!(run.peer_retransmit_percent(), None);
    }

    #[test]
    fn a_failed_row_says_not_measured_without_breaking_the_table() {
        let md = markdown(&results(), "experiments");
        let l = line(&md, "| 10 |");
        assert_eq!(
            l,
            "| 10 | 2,016,000 | 900,000 | 1 | 10 | not measured [1] | not measured [1] | not measured [1] | 200.00x |"
        );
        assert!(md.contains("state per connection is 10,080 bytes"));
        // Each reason once, numbered in order of appearance.
        assert!(md.ends_with(
            "## Not measured\n\n1. the daemon exited | badly\n2. rtl-bench not built\n\
             3. acp-bench not built\n"
        ));
        assert!(md.contains("\nnot measured [2]\n"));
    }

    #[test]
    fn slow_server_rows_give_the_slow_share_and_time_against_the_proxy() {
        let md = markdown(&results(), "p");
        assert_eq!(
            line(&md, "| switch | speed-sensitive |"),
            "| switch | speed-sensitive | 2.00 | 330 / 330 / 330 / 10 | 1.0% | 0.25x |"
        );
        assert!(line(&md, "| proxy | round-robin | 8.00").contains("| 10.0% | 1.00x |"));
    }

    #[test]
    fn the_engine_section_gives_clocks_by_kind_and_per_frame() {
        let mut r = results();
        r.engine = Ok(EngineFigure {
            frame_bytes: 1024,
            servers: 4,
            policy: "round-robin".into(),
            kinds: vec![EngineKind {
                kind: "in_data".into(),
                segments: 12345,
                cycles_per_segment: 270.25,
            }],
            cycles_per_frame: 301.5,
            streamed_cycles_per_frame: Some(150.7),
            line_rate_percent: Some(103.25),
        });
        r.rtl_date = Some("2026-11-28 05:00 UTC".into());
        let md = markdown(&r, "p");
        assert_eq!(line(&md, "| in_data |"), "| in_data | 12,345 | 270.2 |");
        assert!(md.contains("4 servers, round-robin, frames of 1024 bytes."));
        assert!(md.contains("**301.5 clocks per frame switched**"));
        assert!(md.contains(
            "streamed back to back (it receives the next while it decides and \
             sends earlier ones): **150.7 clocks per frame**."
        ));
        assert!(md.contains("Measured again on its own on 2026-11-28 05:00 UTC."));
        assert!(md.contains("in 103.2% of the time their Ethernet frames hold a 10 Gb/s wire"));
        // Results written before the engine was measured still read.
        let mut old = serde_json::to_value(results()).unwrap();
        old.as_object_mut().unwrap().remove("engine");
        let back: Results = serde_json::from_value(old).unwrap();
        assert_eq!(back.engine, Err("not run".into()));
    }

    #[test]
    fn results_survive_a_json_round_trip() {
        let r = results();
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Results>(&text).unwrap(), r);
    }
}
