//! The driver over vfio-user against `anypoint-ctl sim-device` running in its own process, on both
//! datapaths (model and Verilated RTL): identity and PCI configuration space, table programming
//! with read-back, counters and host records compared with an in-process model fed the same
//! register writes and frames, device reset and recovery, and the server killed or stopped mid-run.
//! Then the daemon over vfio-user with real TCP through the device's TAPs (root only).
//!
//! `cargo test -p anypoint-ctl --test vfio_user -- --nocapture` prints the figures: register writes
//! per connection insert and inserts per second through vfio-user, ACP slot loads per second.

mod common;

use anypoint_driver::access::CountingAccess;
use anypoint_driver::acp_offload::Shared;
use anypoint_driver::control::Connection;
use anypoint_driver::device::vfio_user::{VfioUserDevice, TIMEOUT};
use anypoint_driver::device::{DeviceAccess, DeviceSwitch, CONFIG_REGION};
use anypoint_driver::{
    Backend, ControlPlane, MemberConfig, PacketIo, PolicyKind, PortConfig, Proto, RegisterAccess,
    ServiceConfig,
};
use anypoint_model::frame_switch::fast::{Engine, Entries, Ring, RingEntry};
use anypoint_model::frame_switch::layout::{unpack, RECORD_WORDS};
use anypoint_model::{FiveTuple, HashKey, HostHeader, InjectHeader, InjectMode};
use common::*;
use etherparse::PacketBuilder;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

const DATAPATHS: [&str; 2] = ["model", "rtl"];
const KEY: HashKey = HashKey([0x0302_0100, 0x0706_0504, 0x0b0a_0908, 0x0f0e_0d0c]);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const PEER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
const PORT_MAC: [[u8; 6]; 2] = [[2, 0, 0, 0, 0, 0x10], [2, 0, 0, 0, 0, 0x11]];
const GATEWAY_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xfe];

type Remote = CountingAccess<DeviceSwitch<VfioUserDevice>>;

/// The same configuration on any switch: two ports, one maglev service with three members.
fn program<B: Backend>(backend: B) -> ControlPlane<B> {
    let mut cp = ControlPlane::new(backend, KEY).expect("identity and geometry");
    for (id, mac) in PORT_MAC.iter().enumerate() {
        cp.set_port(&PortConfig {
            id: id as u8,
            mac: *mac,
            next_hop_mac: Some(GATEWAY_MAC),
            no_service_drop: false,
        })
        .unwrap();
    }
    cp.add_service(ServiceConfig {
        name: "web".into(),
        vip: VIP,
        port: 80,
        proto: Proto::Tcp,
        policy: PolicyKind::Maglev,
        key: None,
        peer_port: 0,
        indir_log2: 10,
    })
    .unwrap();
    for i in 1..=3u8 {
        cp.add_member(
            "web",
            MemberConfig {
                addr: Ipv4Addr::new(10, 1, 0, i),
                port: 8080,
                mac: Some([2, 0xaa, 0, 0, 0, i]),
                out_port: 1,
                weight: 1,
            },
        )
        .unwrap();
    }
    cp
}

/// A SYN from the peer to the VIP, as a pipeline inject on port 0.
fn syn(src_port: u16) -> Vec<u8> {
    let mut frame = InjectHeader {
        mode: InjectMode::Pipeline,
        port: 0,
    }
    .encode()
    .to_vec();
    PacketBuilder::ethernet2(GATEWAY_MAC, PORT_MAC[0])
        .ipv4(PEER.octets(), VIP.octets(), 64)
        .tcp(src_port, 80, 1, 1000)
        .syn()
        .write(&mut frame, &[])
        .unwrap();
    frame
}

fn host_records<B: Backend>(cp: &mut ControlPlane<B>) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| cp.backend().pop_host()).collect()
}

fn config_dword(dev: &mut VfioUserDevice, offset: u64) -> u32 {
    let mut b = [0u8; 4];
    dev.region_read(CONFIG_REGION, offset, &mut b).unwrap();
    u32::from_le_bytes(b)
}

fn connect(device: &SimDevice) -> DeviceSwitch<VfioUserDevice> {
    DeviceSwitch::open(VfioUserDevice::connect(&device.socket).expect("connects"))
        .expect("an Anypoint device")
}

#[test]
fn driver_over_vfio_user_matches_the_in_process_model() {
    for datapath in DATAPATHS {
        let dir = TempDir::new();
        let device = SimDevice::start(&dir.0, None, datapath, &[]);

        // PCI configuration space (docs/sim-device.md): IDs, Ethernet class, BARs sized like PCI.
        let mut raw = VfioUserDevice::connect(&device.socket).expect("connects");
        assert_eq!(config_dword(&mut raw, 0x00), 0x4150_1234);
        assert_eq!(config_dword(&mut raw, 0x08) >> 8, 0x02_0000);
        for (bar, mask) in [(0x10, 0xfff0_0000u32), (0x18, 0xffff_0000)] {
            raw.region_write(CONFIG_REGION, bar, &u32::MAX.to_le_bytes())
                .unwrap();
            assert_eq!(config_dword(&mut raw, bar), mask, "BAR at {bar:#x}");
        }
        // "ANYP" and register map 1.x.
        let mut remote = DeviceSwitch::open(raw).expect("an Anypoint device");
        assert_eq!(remote.read32(0), 0x414e_5950);
        assert_eq!(remote.read32(4) >> 16, 1);
        assert!(remote.irq_fd().is_some(), "the interrupt is routed");
        drop(remote);

        // Every table write is read back by the driver (verify is on by default); the device then
        // behaves as the model does under the same writes.
        let mut remote = program(CountingAccess::new(connect(&device)));
        let mut local = program(anypoint_model::Switch::new(Default::default()));
        for sport in 40000..40008 {
            assert!(remote.backend().inject(&syn(sport)));
            assert!(PacketIo::inject(local.backend(), &syn(sport)));
        }
        let records = host_records(&mut remote);
        assert_eq!(records.len(), 8, "one learn record per SYN");
        assert_eq!(records, host_records(&mut local));
        for r in &records {
            let h = HostHeader::decode(r).expect("a host record");
            assert_eq!((h.tuple.src_ip, h.tuple.dst_port), (PEER.into(), 80));
        }
        let counters = remote.counters();
        assert_eq!(counters, local.counters());
        assert_eq!(counters.ports[1].tx_packets, 8, "forwarded to the members");
        assert!(remote.backend().inner.lost().is_none());

        insert_figures(datapath, &mut remote);
        reset_and_recover(&mut remote);
        drop(remote);
        acp_load_figures(datapath, &device);
        lost_when_killed(device);
    }
}

/// Register writes per connection insert and inserts per second, each insert a round trip per
/// register access through the socket.
fn insert_figures(datapath: &str, cp: &mut ControlPlane<Remote>) {
    let n = 2000u32;
    let (writes0, reads0) = (cp.backend().writes, cp.backend().reads);
    let t0 = Instant::now();
    for i in 0..n {
        let conn = Connection {
            inbound: FiveTuple {
                src_ip: 0xc633_0000 | i,
                dst_ip: VIP.into(),
                src_port: 1024 + (i % 50000) as u16,
                dst_port: 80,
                proto: 6,
            },
            service: 0,
            member: (i % 3) as u16,
            peer_port: 0,
        };
        assert_eq!(cp.insert_connection(&conn), Ok(true));
    }
    let secs = t0.elapsed().as_secs_f64();
    let writes = (cp.backend().writes - writes0) as f64 / f64::from(n);
    let reads = (cp.backend().reads - reads0) as f64 / f64::from(n);
    // At least both directions' entry words and commands (docs/registers.md).
    assert!(writes >= 14.0, "{writes} writes per insert");
    println!(
        "vfio-user, {datapath}: {n} connection inserts (read-back on): {writes:.2} register writes \
         and {reads:.2} reads per insert, {:.0} inserts/s",
        f64::from(n) / secs
    );
}

/// Loads of an ACP block slot through vfio-user, with 64 frames in flight each way, read back
/// whole; and loads per second. The record and each ring entry travel as one message
/// (`RegisterAccess::write_words`).
fn acp_load_figures(datapath: &str, device: &SimDevice) {
    let mut switch = Shared::new(connect(device));
    let mut slots = switch.acp_engine().expect("the device's ACP block");
    let mut rec = unpack(&[0; RECORD_WORDS]);
    rec.w = 64;
    rec.peer = SocketAddrV4::new(PEER, 40000);
    rec.vip = SocketAddrV4::new(VIP, 7000);
    let entry = |k: u32| RingEntry {
        leg: (k % 3) as u8,
        member_seq: k.wrapping_mul(0x9e37_79b9),
        peer_seq: !k,
        len: 1000 + k as u16,
    };
    let in_flight = Entries {
        inbound: (0..64).map(entry).collect(),
        outbound: (64..128).map(entry).collect(),
    };
    let n = 50;
    let t0 = Instant::now();
    for _ in 0..n {
        assert!(
            slots.load(0, &rec, &in_flight),
            "nothing given back: no load refused"
        );
    }
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(slots.read(0), rec);
    for (ring, entries) in [
        (Ring::In, &in_flight.inbound),
        (Ring::Out, &in_flight.outbound),
    ] {
        for (k, e) in entries.iter().enumerate() {
            assert_eq!(&slots.ring(0, ring, k as u16), e, "{ring:?} entry {k}");
        }
    }
    println!(
        "vfio-user, {datapath}: {:.0} ACP slot loads/s (64 frames in flight each way)",
        f64::from(n) / secs
    );
}

/// VFIO_DEVICE_RESET brings the device to power-on; the driver sees it and restores the tables.
fn reset_and_recover(cp: &mut ControlPlane<Remote>) {
    let inbound = |sport| {
        let mut f = syn(sport);
        // ACK instead of SYN: forwarded by the connection table only.
        f[4 + 14 + 20 + 13] = 0x10;
        f
    };
    let conn = Connection {
        inbound: FiveTuple {
            src_ip: PEER.into(),
            dst_ip: VIP.into(),
            src_port: 50001,
            dst_port: 80,
            proto: 6,
        },
        service: 0,
        member: 1,
        peer_port: 0,
    };
    assert_eq!(cp.insert_connection(&conn), Ok(true));
    assert!(!cp.reset_detected());
    cp.backend().inner.reset().expect("VFIO_DEVICE_RESET");
    assert!(cp.reset_detected());
    let tx = |cp: &mut ControlPlane<Remote>| cp.counters().ports[1].tx_packets;
    assert_eq!(tx(cp), 0, "counters at their power-on value");
    assert!(cp.backend().inject(&inbound(50001)));
    assert_eq!(tx(cp), 0, "no service after the reset");
    host_records(cp);
    cp.reprogram().expect("reprogrammed");
    assert!(!cp.reset_detected());
    assert!(cp.backend().inject(&inbound(50001)));
    assert_eq!(tx(cp), 1, "the connection is back");
    assert!(
        host_records(cp).is_empty(),
        "forwarded by the connection table"
    );
}

/// A killed server fails the next request at once; the device is lost, never hung on.
fn lost_when_killed(mut device: SimDevice) {
    let mut switch = connect(&device);
    device.proc.0.kill().unwrap();
    device.proc.0.wait().unwrap();
    let t0 = Instant::now();
    assert_eq!(switch.read32(0), u32::MAX);
    assert!(!switch.inject(&syn(1)));
    assert!(switch.pop_host().is_none());
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    let why = switch.lost().expect("lost").to_string();
    assert!(why.contains("closed the connection"), "{why}");
}

/// A server that stops answering costs one timeout, then the device is lost.
#[test]
fn a_stopped_server_times_out() {
    let dir = TempDir::new();
    let device = SimDevice::start(&dir.0, None, "model", &[]);
    let mut switch = connect(&device);
    device.signal(libc::SIGSTOP);
    let t0 = Instant::now();
    assert_eq!(switch.read32(0), u32::MAX);
    let waited = t0.elapsed();
    device.signal(libc::SIGCONT);
    assert!(
        waited >= TIMEOUT && waited < TIMEOUT + Duration::from_secs(2),
        "{waited:?}"
    );
    let why = switch.lost().expect("lost").to_string();
    assert!(why.contains("no reply within"), "{why}");
}

/// The device serves one driver at a time: a second one is refused after the timeout, and served
/// once the first has gone.
#[test]
fn a_second_driver_waits_its_turn() {
    let dir = TempDir::new();
    let device = SimDevice::start(&dir.0, None, "model", &[]);
    let first = connect(&device);
    let t0 = Instant::now();
    let e = VfioUserDevice::connect(&device.socket)
        .err()
        .expect("refused");
    assert!(t0.elapsed() >= TIMEOUT, "{:?}", t0.elapsed());
    assert!(e.to_string().contains("another driver is attached"), "{e}");
    drop(first);
    let mut second = connect(&device);
    assert_eq!(second.read32(0), 0x414e_5950);
}

#[test]
fn sim_device_and_run_refuse_bad_arguments() {
    let dir = TempDir::new();
    let config = dir.0.join("c.toml");
    std::fs::write(&config, lab_config("")).unwrap();
    let sock = dir.0.join("ctl.sock");
    let cases: [(&[&str], &str); 5] = [
        (&["sim-device"], "give --socket"),
        (
            &[
                "run",
                "--backend",
                "vfio-user",
                "--config",
                config.to_str().unwrap(),
            ],
            "--backend vfio-user: give --device",
        ),
        (
            &[
                "run",
                "--backend",
                "vfio-user",
                "--device",
                "/nonexistent/dev.sock",
                "--config",
                config.to_str().unwrap(),
                "--socket",
                sock.to_str().unwrap(),
            ],
            "/nonexistent/dev.sock: connect: no such socket",
        ),
        (
            &[
                "run",
                "--backend",
                "vfio-user",
                "--device",
                "x",
                "--port",
                "0=tap:t0",
                "--config",
                config.to_str().unwrap(),
            ],
            "a device has its own Ethernet ports",
        ),
        (
            &[
                "run",
                "--backend",
                "vfio",
                "--device",
                "0000:01:00.0",
                "--config",
                config.to_str().unwrap(),
                "--socket",
                sock.to_str().unwrap(),
            ],
            "0000:01:00.0",
        ),
    ];
    for (args, why) in cases {
        let out = std::process::Command::new(BIN).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(why), "{args:?}: `{err}` lacks `{why}`");
    }
}

/// The daemon over vfio-user: TCP through the device's TAPs, a reset behind the daemon's back
/// (SIGUSR1 to the device) recovered without losing the open connection, then the device killed:
/// the CLI reports it lost and the daemon still stops cleanly.
#[test]
fn daemon_survives_a_device_reset_and_reports_it_lost() {
    if !can_run_live("daemon_survives_a_device_reset_and_reports_it_lost") {
        return;
    }
    for datapath in DATAPATHS {
        let services = format!(
            "[[service]]\nname = \"web\"\nvip = \"{}\"\nport = 80\nproto = \"tcp\"\npolicy = \"maglev\"\nmembers = [ {{ addr = \"{}\", port = 8080, out_port = 1 }} ]\n",
            common::VIP,
            server_addr(0)
        );
        let mut lab = Lab::start(&format!("vfio-user:{datapath}"), 1, &services);
        let _server = EchoServer::start(
            &lab.servers[0],
            SocketAddrV4::new(server_addr(0), 8080),
            "s0".into(),
        );
        lab.wait_resolved("web");
        let (mut conn, name) = common::connect(&lab, 80).expect("connects through the device");
        assert_eq!(name, "s0");
        let echo = |conn: &mut std::net::TcpStream, msg: &str| {
            use std::io::{BufRead, BufReader};
            conn.write_all(msg.as_bytes()).unwrap();
            let mut line = String::new();
            BufReader::new(conn.try_clone().unwrap())
                .read_line(&mut line)
                .unwrap();
            line
        };
        assert_eq!(echo(&mut conn, "before\n"), "before\n");
        let stats = lab.json(&["stats"]);
        assert!(
            stats["counters"]["ports"][0]["rx_packets"]
                .as_u64()
                .unwrap()
                >= 3
        );

        let device = lab.daemon.device.as_ref().unwrap();
        device.signal(libc::SIGUSR1);
        wait_for("the reset to be recovered", Duration::from_secs(10), || {
            (lab.json(&["stats"])["slow_path"]["resets"].as_u64() == Some(1)).then_some(())
        });
        assert_eq!(
            echo(&mut conn, "after\n"),
            "after\n",
            "the connection survives"
        );
        let (_, name) = common::connect(&lab, 80).expect("new connections after the reset");
        assert_eq!(name, "s0");

        let device = lab.daemon.device.as_mut().unwrap();
        device.proc.0.kill().unwrap();
        device.proc.0.wait().unwrap();
        let out = wait_for(
            "the CLI to report the device lost",
            Duration::from_secs(5),
            || {
                let out = ctl(&lab.daemon.socket, &["stats"]);
                (!out.status.success()).then_some(out)
            },
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("device lost"), "{err}");
        let err = String::from_utf8_lossy(&ctl(&lab.daemon.socket, &["service", "list"]).stderr)
            .to_string();
        assert!(err.contains("device lost"), "{err}");
        let status = lab.daemon.proc.terminate(Duration::from_secs(5));
        assert!(status.is_some_and(|s| s.success()), "{}", lab.daemon.log());
        assert!(lab.daemon.log().contains("ERROR device lost"));
    }
}
