//! A lab for live tests: network namespaces joined through the daemon's TAP ports, with guards that
//! tear everything down even when a test panics.
//!
//! ```text
//!  client ns (10.77.0.2) --veth-- br0 --tap0 = port 0 [daemon in switch ns] port 1 = tap1-- br1 --veth-- server ns i (10.77.1.(11+i))
//! ```
//! Every lab has its own namespaces (unique names), so labs can use the same addresses and run in
//! parallel; no traffic leaves them.

#![allow(dead_code, unused_imports)] // each test binary uses a different part of the lab

// Namespaces and threads inside them: the ACP crate's, one implementation for both crates' tests.
pub use acp::testing::{can_run_live, in_ns, spawn_in, Impair, Netns, Profile};
use std::fs::File;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The backends every live test runs on: in the daemon's process, or served by
/// `anypoint-ctl sim-device` in its own process and driven over vfio-user.
pub const BACKENDS: &[&str] = &["model", "rtl", "vfio-user:model", "vfio-user:rtl"];

pub const BIN: &str = env!("CARGO_BIN_EXE_anypoint-ctl");
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 100);
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

pub fn server_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, 1, 11 + i as u8)
}

/// A name no other lab (of this or another test process) uses.
pub fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "ap{}{}{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs a command to completion, panicking with its stderr when it fails.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (install iproute2, curl, python3: `make deps`)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A child process, killed (SIGTERM, then SIGKILL) on drop.
pub struct Proc(pub Child);

impl Proc {
    /// SIGTERM, then waits up to `limit` for the exit status.
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        // SAFETY: signals our own child.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.terminate(Duration::from_secs(3)).is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A scratch directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let p = std::env::temp_dir().join(unique("-test"));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Polls `f` every 50 ms until it returns `Some`, panicking with `what` after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            t0.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `anypoint-ctl ARGS --socket SOCKET`.
pub fn ctl(socket: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--socket")
        .arg(socket)
        .stdin(Stdio::null())
        .output()
        .expect("anypoint-ctl runs")
}

/// `anypoint-ctl ARGS`, which must succeed; its stdout.
pub fn ctl_ok(socket: &Path, args: &[&str]) -> String {
    let out = ctl(socket, args);
    assert!(
        out.status.success(),
        "anypoint-ctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn ctl_json(socket: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&ctl_ok(socket, &all)).expect("--json prints JSON")
}

/// A daemon started with `config` (TOML text) and `extra` arguments, in `ns` when given, on
/// `backend` (one of [`BACKENDS`]); for `vfio-user:DATAPATH` with its own `sim-device`.
pub struct Daemon {
    pub socket: PathBuf,
    pub log: PathBuf,
    // Dropped in field order: the daemon goes before the device it drives.
    pub proc: Proc,
    /// The device process of a `vfio-user:*` backend: it owns the ports.
    pub device: Option<SimDevice>,
}

impl Daemon {
    pub fn start(
        dir: &Path,
        ns: Option<&Netns>,
        backend: &str,
        config: &str,
        extra: &[&str],
    ) -> Daemon {
        Daemon::with_ports(dir, ns, backend, config, &[], extra)
    }

    /// With switch ports attached to `ports` (`N=tap:IFNAME`): by the daemon for an in-process
    /// backend, by the device for `vfio-user:*`.
    pub fn with_ports(
        dir: &Path,
        ns: Option<&Netns>,
        backend: &str,
        config: &str,
        ports: &[&str],
        extra: &[&str],
    ) -> Daemon {
        let config_path = dir.join("cluster.toml");
        std::fs::write(&config_path, config).unwrap();
        let socket = dir.join("anypoint.sock");
        let log = dir.join("daemon.log");
        let mut cmd = match ns {
            Some(ns) => ns.cmd(BIN),
            None => Command::new(BIN),
        };
        let device = match backend.strip_prefix("vfio-user:") {
            Some(datapath) => {
                let device = SimDevice::start(dir, ns, datapath, ports);
                cmd.args(["run", "--backend", "vfio-user", "--device"])
                    .arg(&device.socket);
                Some(device)
            }
            None => {
                cmd.args(["run", "--backend", backend])
                    .args(ports.iter().flat_map(|p| ["--port", p]));
                None
            }
        };
        cmd.arg("--config")
            .arg(&config_path)
            .arg("--socket")
            .arg(&socket)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap());
        let mut proc = Proc(cmd.spawn().expect("daemon starts"));
        // Generous: the RTL backends start slowly on two cores shared by several test runs.
        let started = wait_for("the daemon's socket", Duration::from_secs(60), || {
            if let Ok(Some(status)) = proc.0.try_wait() {
                return Some(Err(status));
            }
            socket.exists().then_some(Ok(()))
        });
        if let Err(status) = started {
            panic!(
                "daemon exited with {status}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        Daemon {
            socket,
            log,
            proc,
            device,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// `anypoint-ctl sim-device` serving `backend` (model or rtl) on `dir`/device.sock, in `ns` when
/// given, with `ports` (`N=tap:IFNAME`).
pub struct SimDevice {
    pub socket: PathBuf,
    pub log: PathBuf,
    pub proc: Proc,
}

impl SimDevice {
    pub fn start(dir: &Path, ns: Option<&Netns>, backend: &str, ports: &[&str]) -> SimDevice {
        let socket = dir.join("device.sock");
        let log = dir.join("device.log");
        let mut cmd = match ns {
            Some(ns) => ns.cmd(BIN),
            None => Command::new(BIN),
        };
        cmd.args(["sim-device", "--backend", backend, "--socket"])
            .arg(&socket)
            .args(ports.iter().flat_map(|p| ["--port", p]))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap());
        let mut proc = Proc(cmd.spawn().expect("sim-device starts"));
        let started = wait_for("the device's socket", Duration::from_secs(20), || {
            if let Ok(Some(status)) = proc.0.try_wait() {
                return Some(Err(status));
            }
            socket.exists().then_some(Ok(()))
        });
        if let Err(status) = started {
            panic!(
                "sim-device exited with {status}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        SimDevice { socket, log, proc }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: signals our own child.
        unsafe { libc::kill(self.proc.0.id() as libc::pid_t, sig) };
    }
}

/// The client, the switch and `servers` server namespaces, wired as in the module docs, with the
/// daemon running `services` (TOML `[[service]]` tables) on `backend` (one of [`BACKENDS`]).
pub struct Lab {
    // Dropped in field order: the daemon goes before its namespace.
    pub daemon: Daemon,
    pub client: Netns,
    pub servers: Vec<Netns>,
    pub switch: Netns,
    pub dir: TempDir,
}

pub fn lab_config(services: &str) -> String {
    format!(
        r#"
# Every state's timeout at 120 s: the tests' connections outlive their runs, and the ageing scan
# (a quarter of the shortest timeout) stays off the slow vfio-user paths while they run.
[timeouts]
tcp_syn = 120
tcp = 120
tcp_fin = 120
tcp_rst = 120
[[port]]
id = 0
mac = "02:00:00:00:00:10"
addr = "10.77.0.1/24"
next_hop = "10.77.0.2"
[[port]]
id = 1
mac = "02:00:00:00:00:11"
addr = "10.77.1.1/24"
{services}
"#
    )
}

impl Lab {
    pub fn start(backend: &str, servers: usize, services: &str) -> Lab {
        Lab::start_with(backend, servers, services, &[])
    }

    /// [`Lab::start`] with more arguments for `anypoint-ctl run`.
    pub fn start_with(backend: &str, servers: usize, services: &str, extra: &[&str]) -> Lab {
        let dir = TempDir::new();
        let switch = Netns::new("sw");
        let client = Netns::new("cl");
        let servers: Vec<Netns> = (0..servers).map(|i| Netns::new(&format!("s{i}"))).collect();
        for br in ["br0", "br1"] {
            switch.ip(&["link", "add", br, "type", "bridge"]);
            switch.ip(&["link", "set", br, "up"]);
        }
        let hosts = std::iter::once((
            &client,
            "br0",
            "c".to_string(),
            format!("{CLIENT}/24"),
            None,
        ))
        .chain(servers.iter().enumerate().map(|(i, s)| {
            (
                s,
                "br1",
                format!("s{i}"),
                format!("{}/24", server_addr(i)),
                Some("10.77.1.1"),
            )
        }));
        for (ns, br, end, addr, gateway) in hosts {
            switch.ip(&[
                "link", "add", &end, "type", "veth", "peer", "name", "eth0", "netns", &ns.name,
            ]);
            switch.ip(&["link", "set", &end, "master", br, "up"]);
            ns.ip(&["addr", "add", &addr, "dev", "eth0"]);
            ns.ip(&["link", "set", "eth0", "up"]);
            if let Some(gw) = gateway {
                ns.ip(&["route", "add", "default", "via", gw]);
            }
        }
        let daemon = Lab::daemon(&dir, &switch, backend, &lab_config(services), extra);
        Lab {
            daemon,
            client,
            servers,
            switch,
            dir,
        }
    }

    /// Starts the daemon in `switch` and bridges its TAP ports.
    fn daemon(
        dir: &TempDir,
        switch: &Netns,
        backend: &str,
        config: &str,
        extra: &[&str],
    ) -> Daemon {
        let mut args = vec!["--log-level", "debug"];
        args.extend_from_slice(extra);
        let ports = ["0=tap:tap0", "1=tap:tap1"];
        let daemon = Daemon::with_ports(&dir.0, Some(switch), backend, config, &ports, &args);
        switch.ip(&["link", "set", "tap0", "master", "br0"]);
        switch.ip(&["link", "set", "tap1", "master", "br1"]);
        daemon
    }

    /// Stops the daemon (SIGTERM) and starts a new one with `config` (TOML text) and `extra`.
    pub fn restart(&mut self, backend: &str, config: &str, extra: &[&str]) {
        assert!(
            self.daemon
                .proc
                .terminate(Duration::from_secs(10))
                .is_some_and(|s| s.success()),
            "the daemon did not stop cleanly: {}",
            self.daemon.log()
        );
        self.daemon = Lab::daemon(&self.dir, &self.switch, backend, config, extra);
    }

    pub fn ctl(&self, args: &[&str]) -> String {
        ctl_ok(&self.daemon.socket, args)
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        ctl_json(&self.daemon.socket, args)
    }

    /// Puts the impairment relay on the client's link: the client's veth end and the switch's
    /// port 0 leave the bridge, and the relay carries frames between them, impairing those towards
    /// the switch with `to_switch` and those towards the client with `to_client`.
    pub fn impair_client(&self, to_switch: Profile, to_client: Profile, seed: u64) -> Impair {
        self.switch.ip(&["link", "set", "c", "nomaster"]);
        self.switch.ip(&["link", "set", "tap0", "nomaster"]);
        in_ns(&self.switch.name, move || {
            Impair::start("c", "tap0", to_switch, to_client, seed).expect("the impairment relay")
        })
    }

    /// Waits until every member of `service` has a MAC.
    pub fn wait_resolved(&self, service: &str) {
        wait_for(
            &format!("ARP for the members of {service}"),
            Duration::from_secs(15),
            || {
                let members = self.json(&["member", "list", service]);
                members
                    .as_array()?
                    .iter()
                    .all(|m| !m["mac"].is_null())
                    .then_some(())
            },
        );
    }
}

impl Lab {
    /// An [`EchoServer`] in each server namespace, on its address, port 8080, named `s<i>`.
    pub fn echo_servers(&self) -> Vec<EchoServer> {
        self.servers
            .iter()
            .enumerate()
            .map(|(i, ns)| {
                EchoServer::start(ns, SocketAddrV4::new(server_addr(i), 8080), format!("s{i}"))
            })
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- daemon log ---\n{}", self.daemon.log());
            if let Some(d) = &self.daemon.device {
                eprintln!("--- device log ---\n{}", d.log());
            }
        }
    }
}

/// TCP servers in a namespace that greet each connection with their name, then echo lines.
pub struct EchoServer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Peers of every accepted connection.
    pub peers: std::sync::Arc<std::sync::Mutex<Vec<SocketAddrV4>>>,
}

impl EchoServer {
    pub fn start(ns: &Netns, addr: SocketAddrV4, name: String) -> EchoServer {
        use std::io::{BufRead, BufReader};
        use std::sync::atomic::AtomicBool;
        use std::sync::{Arc, Mutex};
        let stop = Arc::new(AtomicBool::new(false));
        let peers = Arc::new(Mutex::new(Vec::new()));
        let listener = in_ns(&ns.name, move || {
            std::net::TcpListener::bind(addr).expect("bind")
        });
        listener.set_nonblocking(true).unwrap();
        let (s, p) = (stop.clone(), peers.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut conn, std::net::SocketAddr::V4(peer))) => {
                        p.lock().unwrap().push(peer);
                        conn.set_nonblocking(false).unwrap();
                        let name = name.clone();
                        let s = s.clone();
                        std::thread::spawn(move || {
                            conn.set_read_timeout(Some(Duration::from_millis(200)))
                                .unwrap();
                            let _ = writeln!(conn, "{name}");
                            let mut r = BufReader::new(conn.try_clone().unwrap());
                            let mut line = String::new();
                            while !s.load(Ordering::Relaxed) {
                                match r.read_line(&mut line) {
                                    Ok(0) => return,
                                    Ok(_) => {
                                        if conn.write_all(line.as_bytes()).is_err() {
                                            return;
                                        }
                                        line.clear();
                                    }
                                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                                    Err(_) => return,
                                }
                            }
                        });
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        EchoServer { stop, peers }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A TCP connection from the client namespace to `VIP:port`; returns it and the server's greeting.
pub fn connect(lab: &Lab, port: u16) -> std::io::Result<(std::net::TcpStream, String)> {
    use std::io::{BufRead, BufReader};
    let stream = in_ns(&lab.client.name, move || {
        std::net::TcpStream::connect_timeout(
            &SocketAddrV4::new(VIP, port).into(),
            Duration::from_secs(5),
        )
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut greeting = String::new();
    BufReader::new(stream.try_clone()?).read_line(&mut greeting)?;
    Ok((stream, greeting.trim().to_string()))
}

pub fn write_file(path: &Path, text: &str) {
    File::create(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}
