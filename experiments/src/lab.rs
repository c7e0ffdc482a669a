//! The network of one experiment run: a client, the edge (the switch's daemon or the proxy) and
//! servers, each in its own network namespace, created here and deleted on drop.
//!
//! ```text
//!  client 10.77.0.2 --veth-- edge --veth-- [relay: delay each way] --veth-- lan bridge --veth-- server i
//!                            switch: br0 + tap0 (port 0), br1 + tap1 (port 1), no addresses
//!                            proxy:  10.77.0.100 (the VIP) facing the client, 10.77.1.1 facing the servers
//! ```
//! The relay (`acp::testing::Impair`) is there only when a delay is asked for; it delays ACP
//! packets only (ARP passes at once).

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use acp::testing::{in_ns, veth, Impair, Netns, Profile};
use acp::{Config, Endpoint};

pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 100);
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
/// The edge's address on the servers' side (the switch's port 1, the proxy's upstream endpoint).
pub const EDGE_UP: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 1);
/// ACP port of the service at the VIP and of every server.
pub const PORT: u16 = 7000;

pub fn server_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, 1, 11 + i as u8)
}

/// Fixed server MACs, so the switch's config names them and no ARP has to resolve first.
pub fn server_mac(i: usize) -> String {
    format!("02:00:00:00:01:{:02x}", 11 + i)
}

/// The ACP configuration of every endpoint of a run: the library's defaults, with a handshake that
/// gives up within about 30 s when nothing answers (a switch without ACP support).
pub fn acp_config() -> Config {
    Config {
        rto_initial: Duration::from_millis(250),
        max_retries: 6,
        ..Config::default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    Switch,
    Proxy,
}

/// The namespaces of one run. Fields drop in order: the relay stops before the namespaces go.
pub struct Net {
    /// Held for the run: the relay thread and its namespace.
    _relay: Option<(Impair, Netns)>,
    pub client: Netns,
    pub edge: Netns,
    pub servers: Vec<Netns>,
    /// Held for the run: the servers' bridge.
    _lan: Netns,
}

impl Net {
    /// `servers` servers; `delay`, when given, is added to every ACP packet each way between the
    /// edge and the servers.
    pub fn build(edge_kind: Edge, servers: usize, delay: Option<Duration>) -> io::Result<Net> {
        let client = Netns::new("cl");
        let edge = Netns::new("ed");
        let lan = Netns::new("lan");
        let server_ns: Vec<Netns> = (0..servers).map(|i| Netns::new(&format!("s{i}"))).collect();
        lan.ip(&["link", "add", "lanbr", "type", "bridge"]);
        lan.ip(&["link", "set", "lanbr", "up"]);
        for (i, s) in server_ns.iter().enumerate() {
            let end = format!("s{i}");
            let addr = format!("{}/24", server_addr(i));
            veth(&lan, &end, None, s, "eth0", Some(&addr));
            lan.ip(&["link", "set", &end, "master", "lanbr"]);
            s.ip(&["link", "set", "eth0", "address", &server_mac(i)]);
            s.ip(&["route", "add", "default", "via", &EDGE_UP.to_string()]);
        }
        let (c_addr, up_addr) = match edge_kind {
            Edge::Proxy => (Some(format!("{VIP}/24")), Some(format!("{EDGE_UP}/24"))),
            Edge::Switch => (None, None),
        };
        veth(
            &client,
            "eth0",
            Some(&format!("{CLIENT}/24")),
            &edge,
            "edge0",
            c_addr.as_deref(),
        );
        let relay = match delay {
            Some(d) => {
                let r = Netns::new("rl");
                veth(&edge, "edge1", up_addr.as_deref(), &r, "ra", None);
                veth(&r, "rb", None, &lan, "uplink", None);
                let p = Profile {
                    delay: d,
                    protocol: Some(acp::wire::PROTOCOL),
                    ..Profile::default()
                };
                let imp = in_ns(&r.name, move || Impair::start("ra", "rb", p, p, 1))?;
                Some((imp, r))
            }
            None => {
                veth(&edge, "edge1", up_addr.as_deref(), &lan, "uplink", None);
                None
            }
        };
        lan.ip(&["link", "set", "uplink", "master", "lanbr"]);
        if edge_kind == Edge::Switch {
            for (br, port) in [("br0", "edge0"), ("br1", "edge1")] {
                edge.ip(&["link", "add", br, "type", "bridge"]);
                edge.ip(&["link", "set", br, "up"]);
                edge.ip(&["link", "set", port, "master", br]);
            }
        }
        Ok(Net {
            _relay: relay,
            client,
            edge,
            servers: server_ns,
            _lan: lan,
        })
    }
}

/// What one server took.
#[derive(Clone, Copy, Debug, Default)]
pub struct Taken {
    pub frames: u64,
    /// When its last frame arrived.
    pub last: Option<Instant>,
}

/// A server: accepts one connection on `PORT` and reads it to the end, at most `rate` frames per
/// second when given (a slow server), then closes.
pub struct Server(JoinHandle<io::Result<Taken>>);

impl Server {
    pub fn start(
        ns: &Netns,
        addr: Ipv4Addr,
        rate: Option<f64>,
        limit: Duration,
    ) -> io::Result<Server> {
        let ep = in_ns(&ns.name, move || Endpoint::bind(addr, acp_config()))?;
        let mut listener = ep.listen(PORT)?;
        listener.set_timeout(Some(limit));
        Ok(Server(std::thread::spawn(move || {
            let mut conn = listener.accept()?;
            conn.set_timeout(Some(limit));
            let mut taken = Taken::default();
            let t0 = Instant::now();
            while conn.recv_frame()?.is_some() {
                taken.frames += 1;
                taken.last = Some(Instant::now());
                if let Some(r) = rate {
                    let due = t0 + Duration::from_secs_f64(taken.frames as f64 / r);
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                }
            }
            conn.close()?;
            conn.wait_closed(Duration::from_secs(10))?;
            drop(ep);
            Ok(taken)
        })))
    }

    pub fn join(self) -> io::Result<Taken> {
        self.0
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("server thread panicked")))
    }
}

/// Frame `n` of the client: its number (the key of key-hash, 4 bytes at offset 0), then padding.
pub fn client_frame(n: u32, size: usize) -> Vec<u8> {
    let mut f = n.to_be_bytes().to_vec();
    f.resize(size.max(4), 0x5a);
    f
}

/// The client: connects to the VIP, sends `frames` frames of `size` bytes, closes and waits for the
/// far end to close. Returns when it started; gives up after `limit`.
pub fn run_client(ns: &Netns, frames: u32, size: usize, limit: Duration) -> io::Result<Instant> {
    let name = ns.name.clone();
    let (tx, rx) = mpsc::channel();
    // A thread of its own, so a handshake nobody answers cannot hold the run past `limit`.
    std::thread::spawn(move || {
        let r = in_ns(&name, move || -> io::Result<Instant> {
            let ep = Endpoint::bind(CLIENT, acp_config())?;
            let mut conn = ep.connect(SocketAddrV4::new(VIP, PORT))?;
            conn.set_timeout(Some(limit));
            let t0 = Instant::now();
            for n in 0..frames {
                conn.send_frame(&client_frame(n, size))?;
            }
            conn.close()?;
            conn.wait_closed(limit)?;
            Ok(t0)
        });
        let _ = tx.send(r);
    });
    rx.recv_timeout(limit).unwrap_or_else(|_| {
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the client did not finish within {limit:?}"),
        ))
    })
}

/// Samples `f` every `every` on a thread until stopped.
pub struct Sampler<T> {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<(f64, T)>>,
}

impl<T: Send + 'static> Sampler<T> {
    pub fn start(every: Duration, f: impl Fn() -> Option<T> + Send + 'static) -> Sampler<T> {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut series = Vec::new();
            while !s.load(Ordering::Relaxed) {
                if let Some(v) = f() {
                    series.push((t0.elapsed().as_secs_f64(), v));
                }
                std::thread::sleep(every);
            }
            series
        });
        Sampler { stop, thread }
    }

    /// The samples: seconds since the start, value.
    pub fn stop(self) -> Vec<(f64, T)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}
