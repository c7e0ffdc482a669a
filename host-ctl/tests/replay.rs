//! `anypoint-ctl replay` end to end: the real binary on examples/demo.pcap and examples/cluster.toml,
//! with etherparse re-parsing every frame it wrote as an independent oracle.

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn out_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn replay(config: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_anypoint-ctl"))
        .arg("replay")
        .arg("--config")
        .arg(config)
        .arg("--in")
        .arg(format!("0:{}", repo().join("examples/demo.pcap").display()))
        .arg("--out-dir")
        .arg(out)
        .args(extra)
        .output()
        .expect("run anypoint-ctl")
}

fn demo_json(out: &Path) -> serde_json::Value {
    let o = replay(&repo().join("examples/cluster.toml"), out, &["--json"]);
    assert!(
        o.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("--json prints JSON")
}

/// Frames of a pcap written by replay (skipping the 24-byte global and 16-byte record headers).
fn pcap_frames(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian microsecond pcap"
    );
    let mut frames = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        frames.push(bytes[at + 16..at + 16 + len].to_vec());
        at += 16 + len;
    }
    frames
}

#[test]
fn same_inputs_give_byte_identical_outputs() {
    let (a, b) = (out_dir("identical-a"), out_dir("identical-b"));
    let (ja, jb) = (demo_json(&a), demo_json(&b));
    assert_eq!(ja, jb);
    for f in ["port0.pcap", "port1.pcap", "host.pcap"] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(x.len() > 24 || f == "port0.pcap", "{f} holds frames");
        assert_eq!(x, y, "{f} differs between runs");
    }
}

struct Member {
    addr: Ipv4Addr,
    port: u16,
}

/// Every forwarded frame is a valid IPv4 TCP/UDP frame to a member of the service it was sent to,
/// from the switch's port-1 MAC, with both checksums right, and one flow always reaches one member.
#[test]
fn forwarded_frames_reach_one_member_per_flow_with_valid_checksums() {
    let out = out_dir("forwarded");
    let report = demo_json(&out);
    let frames = pcap_frames(&out.join("port1.pcap"));
    assert!(
        frames.len() > 200,
        "most demo traffic is forwarded, got {}",
        frames.len()
    );
    let member = |a, b, c, d, port| Member {
        addr: Ipv4Addr::new(a, b, c, d),
        port,
    };
    let tcp_members = [
        member(10, 0, 1, 1, 8080),
        member(10, 0, 1, 2, 8080),
        member(10, 0, 1, 3, 8080),
        member(10, 0, 1, 1, 9443),
        member(10, 0, 1, 2, 9443),
    ];
    let game = [
        member(10, 0, 2, 1, 9000),
        member(10, 0, 2, 2, 9000),
        member(10, 0, 2, 3, 9000),
    ];
    let mut flow_member: BTreeMap<(Ipv4Addr, u16, u16), BTreeSet<(Ipv4Addr, u16)>> =
        BTreeMap::new();
    let mut session_member: BTreeMap<Vec<u8>, BTreeSet<Ipv4Addr>> = BTreeMap::new();
    for f in &frames {
        let p = SlicedPacket::from_ethernet(f).expect("etherparse parses every forwarded frame");
        let Some(etherparse::LinkSlice::Ethernet2(eth)) = &p.link else {
            panic!("Ethernet II")
        };
        assert_eq!(
            eth.source(),
            [2, 0, 0, 0, 0, 0x11],
            "source MAC is port 1's"
        );
        let Some(NetSlice::Ipv4(ip)) = &p.net else {
            panic!("IPv4")
        };
        let h = ip.header();
        assert_eq!(h.ttl(), 63, "TTL decremented");
        assert_eq!(
            h.to_header().calc_header_checksum(),
            h.header_checksum(),
            "IPv4 checksum"
        );
        let (src, dst) = (h.source_addr(), h.destination_addr());
        match &p.transport {
            Some(TransportSlice::Tcp(t)) => {
                let member = tcp_members
                    .iter()
                    .find(|m| m.addr == dst && m.port == t.destination_port())
                    .unwrap_or_else(|| {
                        panic!("TCP to a member, got {dst}:{}", t.destination_port())
                    });
                let want = t
                    .to_header()
                    .calc_checksum_ipv4_raw(src.octets(), dst.octets(), t.payload())
                    .unwrap();
                assert_eq!(want, t.checksum(), "TCP checksum");
                flow_member
                    .entry((src, t.source_port(), member.port))
                    .or_default()
                    .insert((member.addr, member.port));
                assert_eq!(
                    eth.destination()[..5],
                    [2, 0, 0, 0, 1],
                    "destination MAC is the member's"
                );
            }
            Some(TransportSlice::Udp(u)) => {
                assert!(
                    game.iter()
                        .any(|m| m.addr == dst && m.port == u.destination_port()),
                    "UDP to a game member"
                );
                let want = u
                    .to_header()
                    .calc_checksum_ipv4_raw(src.octets(), dst.octets(), u.payload())
                    .unwrap();
                assert_eq!(want, u.checksum(), "UDP checksum");
                session_member
                    .entry(u.payload()[..8].to_vec())
                    .or_default()
                    .insert(dst);
            }
            other => panic!("unexpected transport {other:?}"),
        }
    }
    assert!(flow_member.len() >= 80, "every TCP connection forwarded");
    for (flow, members) in &flow_member {
        assert_eq!(members.len(), 1, "flow {flow:?} reached {members:?}");
    }
    assert!(session_member.len() >= 9, "the game sessions are forwarded");
    for (key, members) in &session_member {
        assert_eq!(
            members.len(),
            1,
            "session {} reached {members:?}",
            String::from_utf8_lossy(key)
        );
    }
    // Round-robin alternates the api connections between its two members.
    let api: Vec<usize> = [1u8, 2]
        .iter()
        .map(|i| {
            flow_member
                .values()
                .filter(|m| m.contains(&(Ipv4Addr::new(10, 0, 1, *i), 9443)))
                .count()
        })
        .collect();
    assert_eq!(api, vec![10, 10], "20 api connections split evenly");
    assert_eq!(
        report["host"]["redirected"], 20,
        "one ALRM redirect per api connection"
    );
}

/// Every frame is accounted for once: rx + re-injected = tx + drop + host, and the reasons add up.
#[test]
fn counters_account_for_every_frame() {
    let r = demo_json(&out_dir("counters"));
    let sum = |key: &str| {
        r["counters"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[key].as_u64().unwrap())
            .sum::<u64>()
    };
    let injected = r["host"]["redirected"].as_u64().unwrap();
    assert_eq!(sum("rx_packets"), r["packets_in"].as_u64().unwrap());
    assert_eq!(
        sum("rx_packets") + injected,
        sum("tx_packets") + sum("drop_packets") + sum("host_packets")
    );
    let reasons = r["counters"]["reasons"].as_object().unwrap();
    let punted_or_dropped: u64 = reasons
        .iter()
        // Learn and state records are beside forwarded frames, not frames of their own.
        .filter(|(k, _)| !["learn", "tcp_fin", "tcp_rst"].contains(&k.as_str()))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum();
    assert_eq!(punted_or_dropped, sum("drop_packets") + sum("host_packets"));
    // The odd frames at the end of demo.pcap, one each.
    for reason in [
        "arp",
        "l4_other",
        "no_service",
        "ip_checksum",
        "ip_fragment",
        "ttl_expired",
        "non_ipv4",
    ] {
        assert_eq!(
            reasons.get(reason).and_then(|v| v.as_u64()),
            Some(1),
            "reason {reason}"
        );
    }
    assert_eq!(
        reasons["learn"].as_u64(),
        Some(60),
        "one learn record per web SYN"
    );
    assert_eq!(
        reasons["host_policy"].as_u64(),
        Some(20),
        "one punt per api SYN"
    );
}

#[test]
fn human_report_shows_distribution_and_counters() {
    let o = replay(
        &repo().join("examples/cluster.toml"),
        &out_dir("human"),
        &[],
    );
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    for needle in [
        "per-member distribution",
        "10.0.1.3:8080",
        "10.0.2.1:9000",
        "reasons:",
        "learn",
    ] {
        assert!(text.contains(needle), "report lacks {needle}:\n{text}");
    }
}

#[test]
fn bad_config_gives_one_line_naming_file_and_field() {
    let dir = out_dir("badconfig");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(repo().join("examples/cluster.toml")).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, text.replacen("out_port = 1", "out_port = 5", 1)).unwrap();
    let o = replay(&bad, &dir.join("out"), &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("bad.toml: service[0].members[0].out_port: port 5 is not configured"),
        "{err}"
    );
}

#[test]
fn input_on_an_unconfigured_port_is_refused() {
    let dir = out_dir("badport");
    let o = Command::new(env!("CARGO_BIN_EXE_anypoint-ctl"))
        .args(["replay", "--config"])
        .arg(repo().join("examples/cluster.toml"))
        .arg("--in")
        .arg(format!("3:{}", repo().join("examples/demo.pcap").display()))
        .arg("--out-dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("port 3 is not in the config"));
}

/// The Verilated RTL behind the same driver and plugins gives the model's bytes and counters.
#[test]
fn rtl_backend_replays_byte_identical_to_the_model() {
    let (m, r) = (out_dir("backend-model"), out_dir("backend-rtl"));
    let config = repo().join("examples/cluster.toml");
    let om = replay(&config, &m, &["--json", "--backend", "model"]);
    let or = replay(&config, &r, &["--json", "--backend", "rtl"]);
    assert!(
        or.status.success(),
        "rtl replay failed: {}",
        String::from_utf8_lossy(&or.stderr)
    );
    let (jm, jr): (serde_json::Value, serde_json::Value) = (
        serde_json::from_slice(&om.stdout).unwrap(),
        serde_json::from_slice(&or.stdout).unwrap(),
    );
    assert_eq!(jm, jr, "counters and distribution");
    for f in ["port0.pcap", "port1.pcap", "host.pcap"] {
        assert_eq!(
            std::fs::read(m.join(f)).unwrap(),
            std::fs::read(r.join(f)).unwrap(),
            "{f}"
        );
    }
}

/// A pcap of `frames` (replay's writer), the n-th stamped n microseconds in, so that replay
/// merges the files of several ports back into the order given.
fn write_pcap(path: &Path, frames: &[(u64, &[u8])]) {
    let mut w = anypoint_ctl::pcap_io::Writer::create(path, pcap_file::DataLink::ETHERNET).unwrap();
    for (n, f) in frames {
        w.write(std::time::Duration::from_micros(*n), f).unwrap();
    }
    w.finish().unwrap();
}

/// The frames of every golden vector (verilator-tests/golden: reason codes, VLAN padding, random
/// traffic, membership changes...) replayed through examples/cluster.toml, whose lab addresses they
/// share, on both backends: the same driver and plugins give the same bytes and counters.
#[test]
fn rtl_backend_replays_the_golden_vectors_frames_byte_identical_to_the_model() {
    use verilator_tests::golden::{Step, Vector};
    let config = repo().join("examples/cluster.toml");
    let mut vectors = 0;
    for entry in std::fs::read_dir(repo().join("verilator-tests/golden")).unwrap() {
        let path = entry.unwrap().path();
        let v = Vector::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
        // cluster.toml has ports 0 and 1: the vectors' other ports fold onto them.
        let mut by_port: [Vec<(u64, &[u8])>; 2] = [Vec::new(), Vec::new()];
        for (n, step) in v.steps.iter().enumerate() {
            if let Step::Receive { port, frame, .. } = step {
                by_port[usize::from(port % 2)].push((n as u64, &frame.0));
            }
        }
        let dir = out_dir(&format!("golden-{}", v.name));
        std::fs::create_dir_all(&dir).unwrap();
        let mut args = Vec::new();
        for (p, frames) in by_port.iter().enumerate() {
            if !frames.is_empty() {
                let pcap = dir.join(format!("in{p}.pcap"));
                write_pcap(&pcap, frames);
                args.push(format!("{p}:{}", pcap.display()));
            }
        }
        let run = |backend: &str| {
            let out = dir.join(backend);
            let mut c = Command::new(env!("CARGO_BIN_EXE_anypoint-ctl"));
            c.arg("replay").arg("--config").arg(&config);
            for a in &args {
                c.arg("--in").arg(a);
            }
            let o = c
                .arg("--out-dir")
                .arg(&out)
                .args(["--json", "--backend", backend])
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{} on {backend}: {}",
                v.name,
                String::from_utf8_lossy(&o.stderr)
            );
            let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            (out, report)
        };
        let ((m, jm), (r, jr)) = (run("model"), run("rtl"));
        assert_eq!(jm, jr, "{}: counters and distribution", v.name);
        let mut frames_out = 0;
        for f in ["port0.pcap", "port1.pcap", "host.pcap"] {
            let got = std::fs::read(m.join(f)).unwrap();
            assert_eq!(got, std::fs::read(r.join(f)).unwrap(), "{}: {f}", v.name);
            frames_out += pcap_frames(&m.join(f)).len();
        }
        assert!(frames_out > 0, "{}: nothing came out", v.name);
        vectors += 1;
    }
    assert!(vectors >= 8, "golden vectors found: {vectors}");
}
