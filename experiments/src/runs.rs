//! One measured transfer of an experiment: the network, the edge (switch or proxy), the servers
//! and the client of one run, and what came out of it.

use std::net::SocketAddrV4;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use acp::testing::in_ns;
use acp::Endpoint;
use anypoint_model::frame_switch::{state_bytes, Policy, DEFAULT_MAX_HOLES, DEFAULT_W};
use anypoint_model::HashKey;

use crate::lab::{
    acp_config, run_client, server_addr, Edge, Net, Sampler, Server, EDGE_UP, PORT, VIP,
};
use crate::proxy::{self, Gauge};
use crate::report::{Row, Run};
use crate::switch;

/// Servers behind the edge.
pub const SERVERS: usize = 4;
/// Bytes of frame data per frame (the paper used 8 KB frames over a 9000-byte MTU; ours is 1500).
pub const FRAME_BYTES: usize = 1024;
/// How long any one step of a run may take before the run is given up.
pub const LIMIT: Duration = Duration::from_secs(120);
/// The proxy's key-hash key.
pub const PROXY_KEY: HashKey = HashKey([1, 2, 3, 4]);

/// One transfer: the client's frames through `edge` to the servers, the last server reading at
/// most `slow` frames per second when given.
pub struct Transfer {
    pub edge: Edge,
    pub policy: Policy,
    pub rtt_ms: f64,
    pub slow: Option<f64>,
    pub frames: u32,
}

impl Transfer {
    /// The run as a row of the results, with a line of progress on stderr.
    pub fn row(&self, ctl: &Path, work: &Path) -> Row {
        let policy = match (self.edge, self.policy) {
            (Edge::Proxy, Policy::SpeedSensitive) => "least-loaded".to_string(),
            (_, p) => switch::policy_name(p).to_string(),
        };
        let edge = match self.edge {
            Edge::Switch => "switch",
            Edge::Proxy => "proxy",
        };
        eprint!(
            "{edge} {policy}, RTT {} ms, {} frames: ",
            self.rtt_ms, self.frames
        );
        let result = self.run(ctl, work);
        match &result {
            Ok(r) => eprintln!(
                "{:.2} s, {:.0} frames/s, peak {} bytes",
                r.seconds,
                r.frames_per_second(),
                r.peak_bytes
            ),
            Err(e) => eprintln!("not measured: {e}"),
        }
        Row {
            edge: edge.into(),
            policy,
            rtt_ms: self.rtt_ms,
            result,
        }
    }

    /// Builds the network, runs the edge, the servers and the client; the error says what failed
    /// (the row's "not measured" reason).
    pub fn run(&self, ctl: &Path, work: &Path) -> Result<Run, String> {
        let delay = (self.rtt_ms > 0.0).then(|| Duration::from_secs_f64(self.rtt_ms / 2000.0));
        let net = Net::build(self.edge, SERVERS, delay).map_err(|e| format!("lab: {e}"))?;
        let servers = (0..SERVERS)
            .map(|i| {
                let rate = self.slow.filter(|_| i == SERVERS - 1);
                Server::start(&net.servers[i], server_addr(i), rate, LIMIT)
            })
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| format!("server: {e}"))?;
        // The edge, and what is sampled while the transfer runs: switch ring entries in use, or
        // proxy bytes held and of those unacknowledged.
        let (sampler, proxy, daemon) = match self.edge {
            Edge::Switch => {
                let d = Arc::new(switch::start(ctl, &net, self.policy, work)?);
                let d2 = d.clone();
                let s = Sampler::start(Duration::from_millis(100), move || {
                    d2.ring_occupancy().map(|n| (n, None))
                });
                (s, None, Some(d))
            }
            Edge::Proxy => {
                let gauge = Gauge::default();
                let g = gauge.clone();
                let spec = proxy::Spec {
                    policy: self.policy,
                    key: PROXY_KEY,
                    servers: (0..SERVERS)
                        .map(|i| SocketAddrV4::new(server_addr(i), PORT))
                        .collect(),
                    drain_limit: LIMIT,
                };
                let (front, up) = in_ns(&net.edge.name, || {
                    Ok::<_, std::io::Error>((
                        Endpoint::bind(VIP, acp_config())?,
                        Endpoint::bind(EDGE_UP, acp_config())?,
                    ))
                })
                .map_err(|e| format!("proxy: {e}"))?;
                let mut listener = front.listen(PORT).map_err(|e| format!("proxy: {e}"))?;
                listener.set_timeout(Some(LIMIT));
                let t = std::thread::spawn(move || {
                    let r = proxy::serve_one(&listener, &up, &spec, &g);
                    drop((listener, front, up));
                    r
                });
                let s = Sampler::start(Duration::from_millis(5), move || {
                    let b = gauge.held();
                    Some((b.total(), Some(b.unacked)))
                });
                (s, Some(t), None)
            }
        };
        let t0 = run_client(&net.client, self.frames, FRAME_BYTES, LIMIT)
            .map_err(|e| format!("client: {e}"))?;
        let mut taken = Vec::new();
        for s in servers {
            taken.push(s.join().map_err(|e| format!("server: {e}"))?);
        }
        if let Some(t) = proxy {
            t.join()
                .map_err(|_| "the proxy panicked".to_string())?
                .map_err(|e| format!("proxy: {e}"))?;
        }
        // What the switch's segments needed (kinds, holes, patches), for the page's notes.
        let switch_stats = daemon.as_ref().and_then(|d| d.acp_stats());
        let samples = sampler.stop();
        let peak_unacked = samples.iter().filter_map(|(_, (_, u))| *u).max();
        let most = samples.iter().map(|(_, (v, _))| *v).max();
        let series = thin(samples.into_iter().map(|(t, (v, _))| (t, v)).collect(), 200);
        let frames_per_server: Vec<u64> = taken.iter().map(|t| t.frames).collect();
        let got: u64 = frames_per_server.iter().sum();
        if got != u64::from(self.frames) {
            return Err(format!("the servers took {got} of {} frames", self.frames));
        }
        let last = taken
            .iter()
            .filter_map(|t| t.last)
            .max()
            .ok_or("no frame arrived")?;
        Ok(Run {
            seconds: last.saturating_duration_since(t0).as_secs_f64(),
            frames_per_server,
            peak_bytes: match self.edge {
                Edge::Switch => state_bytes(DEFAULT_W, DEFAULT_MAX_HOLES) as u64,
                Edge::Proxy => most.unwrap_or(0),
            },
            peak_unacked,
            ring_peak: most.filter(|_| self.edge == Edge::Switch),
            series,
            switch_stats,
        })
    }
}

/// At most about `n` samples, evenly spaced.
fn thin(series: Vec<(f64, u64)>, n: usize) -> Vec<(f64, u64)> {
    let step = series.len().div_ceil(n).max(1);
    series.into_iter().step_by(step).collect()
}
