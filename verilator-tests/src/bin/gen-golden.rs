//! Writes every golden vector to `verilator-tests/golden/NAME.json`.
//!
//! `cargo run -p verilator-tests --bin gen-golden` rewrites the files; with `--check` nothing is
//! written and the exit status is 1 if any file is missing, differs from what the model produces
//! now, or belongs to no vector.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;
use verilator_tests::vectors;

fn main() -> ExitCode {
    let check = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => {
            eprintln!("usage: gen-golden [--check]");
            return ExitCode::from(2);
        }
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    match run(&dir, check) {
        Ok(problems) if problems.is_empty() => ExitCode::SUCCESS,
        Ok(problems) => {
            for p in &problems {
                eprintln!("gen-golden: {p}");
            }
            if check {
                eprintln!(
                    "gen-golden: `cargo run -p verilator-tests --bin gen-golden` rewrites them"
                );
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("gen-golden: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes (or with `check`, compares) every vector; returns the problems `check` found.
fn run(dir: &Path, check: bool) -> Result<Vec<String>, String> {
    if !check {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut problems = Vec::new();
    let mut expected = BTreeSet::new();
    for spec in &vectors::ALL {
        let file = format!("{}.json", spec.name);
        let path = dir.join(&file);
        let text = spec.generate().to_json();
        if check {
            match std::fs::read_to_string(&path) {
                Ok(old) if old == text => {}
                Ok(_) => problems.push(format!("{}: stale", path.display())),
                Err(_) => problems.push(format!("{}: missing", path.display())),
            }
        } else {
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            println!("wrote {}", path.display());
        }
        expected.insert(file);
    }
    // A file no vector writes would be replayed by the tests forever.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") && !expected.contains(&name) {
                problems.push(format!(
                    "{}: written by no vector, delete it",
                    entry.path().display()
                ));
            }
        }
    }
    problems.sort();
    Ok(problems)
}
