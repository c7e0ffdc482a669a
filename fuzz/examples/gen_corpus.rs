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

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for t in ["packet_path", "config", "control"] {
        std::fs::create_dir_all(root.join(t)).expect("corpus dir");
    }
    packet_path_seeds(&root.join("packet_path"));
    control_seeds(&root.join("control"));
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/cluster.toml"),
        root.join("config/cluster.toml"),
    )
    .expect("copy cluster.toml");
}
