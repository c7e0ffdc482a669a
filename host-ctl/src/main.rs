//! `anypoint-ctl`: run the Anypoint switch as a daemon, steer it, or replay pcap files through it.

use anypoint_ctl::backend::{self, BackendKind, RunBackend};
use anypoint_ctl::link::PortSpec;
use anypoint_ctl::protocol::{self, ConnList, KeySpec, MemberView, Request, ServiceView, Stats};
use anypoint_ctl::{cli, config, daemon, log, render, replay, sim_device};

use clap::{Args, Parser, Subcommand};
use serde::de::DeserializeOwned;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "anypoint-ctl",
    version,
    about = "Anypoint transport switch: daemon, control and replay"
)]
struct Cli {
    /// Control socket of the daemon.
    #[arg(long, global = true, value_name = "PATH", default_value = protocol::DEFAULT_SOCKET)]
    socket: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the switch as a daemon: ports attached to links, slow path, control socket.
    Run {
        /// Cluster configuration (TOML, docs/config.md).
        #[arg(long)]
        config: PathBuf,
        #[arg(long, value_enum, default_value = "model")]
        backend: RunBackend,
        /// vfio: the NIC's PCI address (0000:01:00.0); vfio-user: the device server's socket.
        #[arg(long, value_name = "PCI-ADDRESS|SOCKET")]
        device: Option<String>,
        /// N=tap:IFNAME: attach switch port N to a TAP device (repeatable; model and rtl only,
        /// a device has its own ports).
        #[arg(long = "port", value_name = "N=tap:IFNAME")]
        ports: Vec<PortSpec>,
        #[arg(long, value_enum, default_value = "info")]
        log_level: log::Level,
        /// State file: the connection table and hash key, written every 5 s and at shutdown and
        /// restored at start, so a restart keeps connections (docs/control.md).
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Serves the switch (model or RTL) as a vfio-user PCI device on --socket, its Ethernet ports on
    /// TAP devices, for `run --backend vfio-user --device SOCKET` (docs/sim-device.md).
    SimDevice {
        #[arg(long, value_enum, default_value = "model")]
        backend: BackendKind,
        /// N=tap:IFNAME: attach device port N to a TAP device (repeatable).
        #[arg(long = "port", value_name = "N=tap:IFNAME")]
        ports: Vec<PortSpec>,
        #[arg(long, value_enum, default_value = "info")]
        log_level: log::Level,
    },
    /// Services (virtual IPs).
    #[command(subcommand)]
    Service(ServiceCmd),
    /// Members (real servers) of a service.
    #[command(subcommand)]
    Member(MemberCmd),
    /// Connections in the switch's table.
    #[command(subcommand)]
    Conn(ConnCmd),
    /// Counters per port, reason, service and member, and what the slow path did.
    Stats {
        /// Per-second rates over one second instead of totals.
        #[arg(long)]
        rate: bool,
        #[arg(long)]
        json: bool,
    },
    /// Prints the running configuration as TOML that `run --config` restores.
    Save,
    /// Replays pcap files through one switch (driver and ALRM plugins in the loop) and writes
    /// DIR/port<N>.pcap for every port and DIR/host.pcap for host-queue records.
    Replay {
        /// Cluster configuration (TOML, docs/config.md).
        #[arg(long)]
        config: PathBuf,
        #[arg(long, value_enum, default_value = "model")]
        backend: BackendKind,
        /// PORT:FILE.pcap, frames received on PORT (repeatable; merged by timestamp).
        #[arg(long = "in", value_name = "PORT:FILE", required = true)]
        inputs: Vec<replay::Input>,
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct Json {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ServiceCmd {
    List(Json),
    Add {
        name: String,
        #[arg(long)]
        vip: Ipv4Addr,
        #[arg(long)]
        port: u16,
        /// tcp, udp or acp (frame-level switching).
        #[arg(long)]
        proto: String,
        /// maglev, key-hash, round-robin or least-conn; acp: key-hash, round-robin or
        /// speed-sensitive.
        #[arg(long)]
        policy: String,
        /// key-hash: OFF:LEN, the key's bytes in the UDP payload (acp: in each frame's data).
        #[arg(long, value_name = "OFF:LEN", value_parser = parse_key)]
        key: Option<KeySpec>,
        /// Port towards peers (default: the first port with a next hop).
        #[arg(long)]
        peer_port: Option<u8>,
        /// Indirection slots, a power of two (default 4096).
        #[arg(long)]
        slots: Option<u32>,
        /// acp: frame ring entries per direction and connection, 16-4096 (default 384).
        #[arg(long)]
        frame_window: Option<u16>,
        /// acp: holes per connection, 1-64 (default 8).
        #[arg(long)]
        max_holes: Option<u8>,
        /// acp: members in each connection's active set, 1-8 (default 8), the policy picking
        /// which.
        #[arg(long)]
        active_set: Option<u8>,
    },
    Delete {
        name: String,
    },
}

#[derive(Subcommand)]
enum MemberCmd {
    Add {
        service: String,
        #[arg(value_name = "ADDR:PORT")]
        member: SocketAddrV4,
        #[arg(long)]
        weight: Option<u32>,
        /// Port the member is reached through (default: the port whose addr covers ADDR).
        #[arg(long)]
        out_port: Option<u8>,
        /// The member's MAC (default: resolved by ARP).
        #[arg(long)]
        mac: Option<String>,
    },
    SetWeight {
        service: String,
        #[arg(value_name = "ADDR:PORT")]
        member: SocketAddrV4,
        weight: u32,
    },
    /// Weight 0: new connections go elsewhere, existing ones stay.
    Drain {
        service: String,
        #[arg(value_name = "ADDR:PORT")]
        member: SocketAddrV4,
    },
    /// Removes the member and its connections (acp: it leaves each connection, which goes on
    /// with the other members).
    Remove {
        service: String,
        #[arg(value_name = "ADDR:PORT")]
        member: SocketAddrV4,
    },
    List {
        service: String,
        #[command(flatten)]
        json: Json,
    },
}

#[derive(Subcommand)]
enum ConnCmd {
    List {
        #[arg(long)]
        service: Option<String>,
        /// List at most N connections (the total is always given).
        #[arg(long)]
        limit: Option<usize>,
        #[command(flatten)]
        json: Json,
    },
}

fn parse_key(s: &str) -> Result<KeySpec, String> {
    let bad = || format!("`{s}` is not OFF:LEN");
    let (offset, len) = s.split_once(':').ok_or_else(bad)?;
    Ok(KeySpec {
        offset: offset.parse().map_err(|_| bad())?,
        len: len.parse().map_err(|_| bad())?,
    })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help, --version
            print!("{e}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            eprintln!("anypoint-ctl: {}", first.trim_start_matches("error: "));
            return ExitCode::FAILURE;
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("anypoint-ctl: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Sends a request whose reply has no result.
fn act(socket: &Path, req: Request) -> Result<(), String> {
    cli::call(socket, &req).map(drop)
}

/// Sends a request and decodes its result.
fn query<T: DeserializeOwned>(
    socket: &Path,
    req: Request,
) -> Result<(T, serde_json::Value), String> {
    let v = cli::call(socket, &req)?;
    let typed = serde_json::from_value(v.clone())
        .map_err(|e| format!("unexpected reply from the daemon: {e}"))?;
    Ok((typed, v))
}

/// A list query: the daemon's JSON as is, or the typed reply rendered as a table.
fn show<T: DeserializeOwned>(
    socket: &Path,
    req: Request,
    json: bool,
    render: impl FnOnce(&T) -> String,
) -> Result<(), String> {
    let (typed, v): (T, _) = query(socket, req)?;
    if json {
        print_json(&v)
    } else {
        print!("{}", render(&typed))
    }
    Ok(())
}

fn print_json(v: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).expect("json values serialize")
    );
}

fn member_key(m: SocketAddrV4) -> (Ipv4Addr, u16) {
    (*m.ip(), m.port())
}

fn run(cli: Cli) -> Result<(), String> {
    let socket = cli.socket.as_path();
    match cli.command {
        Command::Run {
            config,
            backend,
            device,
            ports,
            log_level,
            state,
        } => {
            log::set_level(log_level);
            let config = config::Config::load(&config).map_err(|e| e.to_string())?;
            let opts = daemon::RunOptions {
                config,
                ports,
                socket: socket.to_path_buf(),
                state,
            };
            if backend.is_device() && !opts.ports.is_empty() {
                return Err(
                    "--port: a device has its own Ethernet ports (attach them where the device \
                     is served, e.g. `sim-device --port`)"
                        .into(),
                );
            }
            let device = match (backend.is_device(), device) {
                (true, Some(d)) => d,
                (true, None) => {
                    let name = clap::ValueEnum::to_possible_value(&backend)
                        .map(|v| v.get_name().to_string())
                        .unwrap_or_default();
                    return Err(format!("--backend {name}: give --device"));
                }
                (false, Some(_)) => {
                    return Err("--device: only for --backend vfio and vfio-user".into())
                }
                (false, None) => String::new(),
            };
            match backend {
                RunBackend::Model => daemon::run(|| Ok(BackendKind::Model.build()), opts),
                RunBackend::Rtl => daemon::run(|| Ok(BackendKind::Rtl.build()), opts),
                RunBackend::Vfio => daemon::run(|| backend::open_vfio(&device), opts),
                RunBackend::VfioUser => {
                    daemon::run(|| backend::open_vfio_user(Path::new(&device)), opts)
                }
            }
        }
        Command::SimDevice {
            backend,
            ports,
            log_level,
        } => {
            log::set_level(log_level);
            if socket == Path::new(protocol::DEFAULT_SOCKET) {
                return Err(
                    "sim-device: give --socket PATH for the device's vfio-user socket \
                            (the default is the daemon's control socket)"
                        .into(),
                );
            }
            sim_device::run(sim_device::SimOptions {
                socket: socket.to_path_buf(),
                backend,
                ports,
            })
        }
        Command::Service(ServiceCmd::List(Json { json })) => {
            show::<Vec<ServiceView>>(socket, Request::ServiceList, json, |l| render::services(l))
        }
        Command::Service(ServiceCmd::Add {
            name,
            vip,
            port,
            proto,
            policy,
            key,
            peer_port,
            slots,
            frame_window,
            max_holes,
            active_set,
        }) => act(
            socket,
            Request::ServiceAdd {
                name,
                vip,
                port,
                proto,
                policy,
                key,
                peer_port,
                slots,
                frame_window,
                max_holes,
                active_set,
            },
        ),
        Command::Service(ServiceCmd::Delete { name }) => {
            act(socket, Request::ServiceDelete { name })
        }
        Command::Member(MemberCmd::Add {
            service,
            member,
            weight,
            out_port,
            mac,
        }) => {
            let (addr, port) = member_key(member);
            act(
                socket,
                Request::MemberAdd {
                    service,
                    addr,
                    port,
                    weight,
                    out_port,
                    mac,
                },
            )
        }
        Command::Member(MemberCmd::SetWeight {
            service,
            member,
            weight,
        }) => {
            let (addr, port) = member_key(member);
            act(
                socket,
                Request::MemberSetWeight {
                    service,
                    addr,
                    port,
                    weight,
                },
            )
        }
        Command::Member(MemberCmd::Drain { service, member }) => {
            let (addr, port) = member_key(member);
            act(
                socket,
                Request::MemberSetWeight {
                    service,
                    addr,
                    port,
                    weight: 0,
                },
            )
        }
        Command::Member(MemberCmd::Remove { service, member }) => {
            let (addr, port) = member_key(member);
            act(
                socket,
                Request::MemberRemove {
                    service,
                    addr,
                    port,
                },
            )
        }
        Command::Member(MemberCmd::List {
            service,
            json: Json { json },
        }) => show::<Vec<MemberView>>(socket, Request::MemberList { service }, json, |l| {
            render::members(l)
        }),
        Command::Conn(ConnCmd::List {
            service,
            limit,
            json: Json { json },
        }) => show::<ConnList>(
            socket,
            Request::ConnList { service, limit },
            json,
            render::conns,
        ),
        Command::Stats { rate, json } => {
            let (mut stats, _): (Stats, _) = query(socket, Request::Stats)?;
            if rate {
                let start = Instant::now();
                std::thread::sleep(Duration::from_secs(1));
                let (after, _): (Stats, _) = query(socket, Request::Stats)?;
                let secs = start.elapsed().as_secs_f64();
                stats.counters = cli::rates(&stats.counters, &after.counters, secs);
                stats.uptime_ms = after.uptime_ms;
            }
            if json {
                print_json(&serde_json::to_value(&stats).expect("stats serialize"))
            } else {
                print!(
                    "{}{}{}",
                    render::counters(&stats.counters),
                    render::slow_path(&stats.slow_path),
                    render::acp(&stats.acp)
                )
            }
            Ok(())
        }
        Command::Save => {
            let (text, _): (String, _) = query(socket, Request::Save)?;
            print!("{text}");
            Ok(())
        }
        Command::Replay {
            config,
            backend,
            inputs,
            out_dir,
            json,
        } => {
            let config = config::Config::load(&config).map_err(|e| e.to_string())?;
            let report = replay::run(backend.build(), &config, &inputs, &out_dir)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("report serializes")
                );
            } else {
                print!("{}", replay::render(&report));
            }
            Ok(())
        }
    }
}
