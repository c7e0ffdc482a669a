//! Generates the Rust, Verilog and Markdown views of `hw/regmap.toml`.
//!
//! `regmap-gen` rewrites the generated files; `regmap-gen --check` exits 1 and names every stale file.

mod emit;
mod spec;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Writes one generated view of the map.
type Generator = fn(&spec::RegMap) -> String;

/// (path relative to the repository root, generator).
const OUTPUTS: [(&str, Generator); 3] = [
    ("firmware-model/src/regs.rs", emit::rust),
    ("hw/include/anypoint_regmap.svh", emit::verilog),
    ("docs/registers.md", emit::markdown),
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("regmap-gen lives one level below the repository root")
        .to_path_buf()
}

fn main() -> ExitCode {
    let check = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(other) => {
            eprintln!("regmap-gen: unknown argument `{other}` (usage: regmap-gen [--check])");
            return ExitCode::from(2);
        }
    };
    let root = repo_root();
    let map = match spec::load(&root.join("hw/regmap.toml")) {
        Ok(map) => map,
        Err(e) => {
            eprintln!("regmap-gen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stale = Vec::new();
    for (rel, generate) in OUTPUTS {
        let path = root.join(rel);
        let text = generate(&map);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == text {
            continue;
        }
        if check {
            stale.push(rel);
        } else if let Err(e) = std::fs::create_dir_all(path.parent().unwrap())
            .and_then(|()| std::fs::write(&path, text))
        {
            eprintln!("regmap-gen: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        } else {
            println!("regmap-gen: wrote {rel}");
        }
    }
    if stale.is_empty() {
        ExitCode::SUCCESS
    } else {
        for rel in stale {
            eprintln!("regmap-gen: {rel} is stale; run `cargo run -p regmap-gen` and commit it");
        }
        ExitCode::FAILURE
    }
}
