//! The committed golden vectors against the model, and the checker against corrupted vectors.

use anypoint_model::Switch;
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use verilator_tests::golden::{run_vector, Step, Vector};
use verilator_tests::vectors;

fn committed() -> Vec<Vector> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    vectors::ALL
        .iter()
        .map(|spec| {
            let path = dir.join(format!("{}.json", spec.name));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (run gen-golden)", path.display()));
            let v = Vector::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(v.name, spec.name, "{}", path.display());
            v
        })
        .collect()
}

fn replay(v: &Vector) -> Result<(), verilator_tests::golden::Mismatch> {
    run_vector(&mut Switch::new(v.geometry), v)
}

#[test]
fn every_committed_vector_replays_on_the_model() {
    for v in committed() {
        if let Err(m) = replay(&v) {
            panic!("{m}");
        }
    }
}

/// Flips one byte (or bit) of the first expectation `pick` finds; replay must fail at that step.
fn corrupt_and_replay(pick: impl Fn(&mut Step) -> bool) {
    let mut v = committed()
        .into_iter()
        .find(|v| v.name == "reasons")
        .unwrap();
    let index = v
        .steps
        .iter_mut()
        .position(pick)
        .expect("a step to corrupt");
    let m = replay(&v).expect_err("the checker catches the corruption");
    assert_eq!((m.vector.as_str(), m.step), ("reasons", index), "{m}");
    assert_ne!(m.expected, m.actual);
    assert!(m.to_string().contains(&format!("step {index} ")), "{m}");
}

#[test]
fn a_wrong_egress_byte_fails() {
    corrupt_and_replay(|step| match step {
        Step::Receive { expect, .. } if !expect.egress.is_empty() => {
            let frame = &mut expect.egress[0].frame.0;
            let last = frame.len() - 1;
            frame[last] ^= 0x01;
            true
        }
        _ => false,
    });
}

#[test]
fn a_wrong_host_record_byte_fails() {
    corrupt_and_replay(|step| match step {
        Step::Receive { expect, .. } if !expect.host.is_empty() => {
            expect.host[0].0[2] ^= 0x80;
            true
        }
        _ => false,
    });
}

#[test]
fn a_wrong_read_value_fails() {
    corrupt_and_replay(|step| match step {
        Step::Read { value, .. } if *value != 0 => {
            *value ^= 1;
            true
        }
        _ => false,
    });
}

#[test]
fn a_missing_output_fails() {
    corrupt_and_replay(|step| match step {
        Step::Receive { expect, .. } if !expect.egress.is_empty() => {
            expect.egress.clear();
            true
        }
        _ => false,
    });
}

/// The model's incremental checksum updates, checked against checksums computed from scratch by
/// etherparse on every frame that leaves a port in any vector.
#[test]
fn every_egress_frame_has_valid_checksums() {
    let (mut ip, mut tcp, mut udp) = (0, 0, 0);
    for v in committed() {
        for (index, step) in v.steps.iter().enumerate() {
            let (Step::Receive { expect, .. } | Step::Inject { expect, .. }) = step else {
                continue;
            };
            for e in &expect.egress {
                let at = format!("{} step {index}: {}", v.name, e.frame);
                let p = SlicedPacket::from_ethernet(&e.frame.0)
                    .unwrap_or_else(|err| panic!("{at}: {err}"));
                let Some(NetSlice::Ipv4(ipv4)) = p.net else {
                    continue;
                };
                let h = ipv4.header();
                assert_eq!(
                    h.header_checksum(),
                    h.to_header().calc_header_checksum(),
                    "{at}"
                );
                ip += 1;
                let (src, dst) = (h.source(), h.destination());
                match p.transport {
                    Some(TransportSlice::Tcp(t)) => {
                        assert_eq!(Ok(t.checksum()), t.calc_checksum_ipv4(src, dst), "{at}");
                        tcp += 1;
                    }
                    Some(TransportSlice::Udp(u)) if u.checksum() != 0 => {
                        let sum = u.to_header().calc_checksum_ipv4_raw(src, dst, u.payload());
                        assert_eq!(Ok(u.checksum()), sum, "{at}");
                        udp += 1;
                    }
                    _ => {}
                }
            }
        }
    }
    assert!(
        ip > 0 && tcp > 0 && udp > 0,
        "checked {ip} IPv4, {tcp} TCP, {udp} UDP frames"
    );
}
