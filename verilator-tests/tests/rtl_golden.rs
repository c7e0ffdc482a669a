//! The committed golden vectors replayed on the Verilated RTL, at both data widths.

use verilator_tests::golden::{run_vector, Vector};
use verilator_tests::rtl::{RtlSwitch, Width, GEOMETRY};
use verilator_tests::vectors;

fn committed() -> Vec<Vector> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    vectors::ALL
        .iter()
        .map(|spec| {
            let path = dir.join(format!("{}.json", spec.name));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (run gen-golden)", path.display()));
            Vector::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

fn replay_all(width: Width) {
    let mut failures = Vec::new();
    for v in committed() {
        assert_eq!(
            v.geometry, GEOMETRY,
            "vector `{}` uses another geometry",
            v.name
        );
        let mut rtl = RtlSwitch::new(width);
        if let Err(m) = run_vector(&mut rtl, &v) {
            failures.push(format!("DATA_WIDTH={}: {m}", width.bits()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn golden_vectors_on_the_rtl_64() {
    replay_all(Width::W64);
}

#[test]
fn golden_vectors_on_the_rtl_512() {
    replay_all(Width::W512);
}
