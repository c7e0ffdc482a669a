//! Replays the committed fuzz corpus (`fuzz/corpus/TARGET/`) through each harness on the model: the
//! inputs the fuzzer kept, crashes it found once included, must keep passing every check.

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: empty corpus", dir.display());
    files
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).unwrap();
            (p, data)
        })
        .collect()
}

/// Runs `harness` on every input of `target`, naming the input that fails.
fn replay(target: &str, harness: impl Fn(&[u8]) + std::panic::RefUnwindSafe) {
    for (path, data) in inputs(target) {
        if std::panic::catch_unwind(|| harness(&data)).is_err() {
            panic!("{} fails its harness", path.display());
        }
    }
}

#[test]
fn packet_path_corpus_is_accounted_for() {
    let mut frames = 0;
    for (path, data) in inputs("packet_path") {
        frames += std::panic::catch_unwind(|| anypoint_fuzz::packet_path::run(&data))
            .unwrap_or_else(|_| panic!("{} fails its harness", path.display()));
    }
    // The seeds alone carry thousands of frames; an empty decode would pass vacuously.
    assert!(frames > 1000, "only {frames} frames in the corpus");
}

#[test]
fn config_corpus_passes() {
    replay("config", anypoint_fuzz::config::run);
}

#[test]
fn control_corpus_passes() {
    replay("control", anypoint_fuzz::control::run);
}

#[test]
fn acp_segment_corpus_passes() {
    replay("acp_segment", anypoint_fuzz::acp_segment::run);
}

#[test]
fn frame_switch_corpus_is_accounted_for() {
    let mut segments = 0;
    for (path, data) in inputs("frame_switch") {
        segments += std::panic::catch_unwind(|| anypoint_fuzz::frame_switch::run(&data))
            .unwrap_or_else(|_| panic!("{} fails its harness", path.display()));
    }
    // The seeds alone carry hundreds of segments; an empty decode would pass vacuously.
    assert!(segments > 100, "only {segments} segments in the corpus");
}
