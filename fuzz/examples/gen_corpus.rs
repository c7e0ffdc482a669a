//! Writes the seed corpus of the fuzz targets (`fuzz/corpus/`): each golden vector's register writes
//! and frames as a packet-path scenario, the frames of examples/demo.pcap, and control-protocol
//! request lines covering every request. Inputs the fuzzer found are merged in beside them
//! (`FUZZ_MERGE=1 make fuzz`); rerunning this rewrites only the seeds it names.
//!
//! `cargo run -p anypoint-fuzz --example gen_corpus`

use anypoint_ctl::protocol::{encode_request, KeySpec, Request};
use anypoint_fuzz::scenario::{encode, Step};
use std::path::Path;
use verilator_tests::golden::{self, Vector};

/// Largest seed: libFuzzer's `-max_len` in scripts/fuzz.sh.
const MAX_SEED: usize = 65536;

fn packet_path_seeds(dir: &Path) {
    let golden_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../verilator-tests/golden");
    let mut names: Vec<_> = std::fs::read_dir(&golden_dir)
        .expect("golden vectors")
        .map(|e| e.expect("dir entry").path())
        .collect();
    names.sort();
    for path in names {
        let text = std::fs::read_to_string(&path).expect("read vector");
        let vector = Vector::from_json(&text).expect("vector parses");
        let mut steps = Vec::new();
        for s in vector.steps {
            let step = match s {
                golden::Step::Write { offset, value } => Step::Write { offset, value },
                golden::Step::Read { .. } => continue,
                golden::Step::Receive { port, frame, .. } => Step::Receive {
                    port,
                    frame: frame.0,
                },
                golden::Step::Inject { record, .. } => Step::Inject { record: record.0 },
            };
            steps.push(step);
            if encode(&steps).len() > MAX_SEED {
                steps.pop();
                break;
            }
        }
        let name = path.file_stem().unwrap().to_string_lossy();
        std::fs::write(dir.join(format!("golden_{name}")), encode(&steps)).expect("write seed");
    }
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo.pcap");
    let mut reader =
        pcap_file::pcap::PcapReader::new(std::fs::File::open(pcap).expect("demo.pcap"))
            .expect("pcap header");
    let mut steps = Vec::new();
    while let Some(p) = reader.next_packet() {
        steps.push(Step::Receive {
            port: 0,
            frame: p.expect("packet").data.into_owned(),
        });
        if encode(&steps).len() > MAX_SEED {
            steps.pop();
            break;
        }
    }
    std::fs::write(dir.join("demo_pcap"), encode(&steps)).expect("write seed");
}

fn control_seeds(dir: &Path) {
    let addr = "10.0.1.9".parse().unwrap();
    let requests = [
        Request::ServiceList,
        Request::ServiceAdd {
            name: "db".into(),
            vip: "10.0.0.101".parse().unwrap(),
            port: 5432,
            proto: "tcp".into(),
            policy: "maglev".into(),
            key: None,
            peer_port: Some(0),
            slots: Some(256),
            frame_window: None,
            max_holes: None,
            active_set: None,
        },
        Request::ServiceAdd {
            name: "kv".into(),
            vip: "10.0.0.102".parse().unwrap(),
            port: 7000,
            proto: "udp".into(),
            policy: "key-hash".into(),
            key: Some(KeySpec { offset: 4, len: 8 }),
            peer_port: None,
            slots: None,
            frame_window: None,
            max_holes: None,
            active_set: None,
        },
        Request::MemberAdd {
            service: "db".into(),
            addr,
            port: 5432,
            weight: Some(3),
            out_port: Some(1),
            mac: Some("02:00:00:00:01:09".into()),
        },
        Request::MemberSetWeight {
            service: "web".into(),
            addr: "10.0.1.1".parse().unwrap(),
            port: 8080,
            weight: 0,
        },
        Request::MemberRemove {
            service: "web".into(),
            addr: "10.0.1.2".parse().unwrap(),
            port: 8080,
        },
        Request::MemberList {
            service: "api".into(),
        },
        Request::ConnList {
            service: Some("web".into()),
            limit: Some(10),
        },
        Request::Stats,
        Request::ServiceDelete { name: "api".into() },
        Request::Save,
    ];
    let mut all = String::new();
    for (i, r) in requests.iter().enumerate() {
        let line = encode_request(r);
        std::fs::write(dir.join(format!("request_{i:02}")), &line).expect("write seed");
        all += &line;
        all.push('\n');
    }
    std::fs::write(dir.join("session"), all).expect("write seed");
}

/// The example segments of docs/acp.md section 5 (its ```hex blocks).
fn acp_segment_seeds(dir: &Path) {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/acp.md");
    let text = std::fs::read_to_string(doc).expect("docs/acp.md");
    let mut blocks = text.split("```hex ").skip(1);
    for block in &mut blocks {
        let (name, rest) = block.split_once('\n').expect("block name");
        let hex = rest.split("```").next().expect("block end");
        let bytes: Vec<u8> = hex
            .split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
            .collect();
        std::fs::write(dir.join(format!("doc_{name}")), bytes).expect("write seed");
    }
}

/// Frame-switch scenarios (format in fuzz/src/frame_switch.rs): a peer's SYN, then answers to the
/// newest segment the switch sent, with frames, one policy per seed.
fn frame_switch_seeds(dir: &Path) {
    for (name, setup) in [("keyhash", 0x04u8), ("round_robin", 0x15), ("speed", 0x86)] {
        // OPEN peer 0: options (MSS 9 + 127, window shift 7), ISN 0x12345678, window 0xffff.
        let mut seed = vec![setup, 0x00, 0xff, 0x78, 0x56, 0x34, 0x12, 0, 0];
        for i in 0..40u8 {
            // ANSWER newest / second newest: bits (two frames every other answer), nudge, window.
            seed.extend_from_slice(&[0x01 | (i % 2) << 3, (i % 2) << 5, 0, 0, 0]);
            if i % 2 == 1 {
                seed.extend_from_slice(&[0x04, b'k', b'e', b'y', i]);
                seed.extend_from_slice(&[0x03, b'a', b'b', i]);
            }
        }
        // Member churn and a close from the peer's side.
        seed.extend_from_slice(&[0x0f, 0x07, 0x01, 0x01, 0, 0, 0]);
        std::fs::write(dir.join(format!("handshake_{name}")), seed).expect("write seed");
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for t in [
        "packet_path",
        "config",
        "control",
        "acp_segment",
        "frame_switch",
    ] {
        std::fs::create_dir_all(root.join(t)).expect("corpus dir");
    }
    packet_path_seeds(&root.join("packet_path"));
    control_seeds(&root.join("control"));
    acp_segment_seeds(&root.join("acp_segment"));
    frame_switch_seeds(&root.join("frame_switch"));
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/cluster.toml"),
        root.join("config/cluster.toml"),
    )
    .expect("copy cluster.toml");
}
