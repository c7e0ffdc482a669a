//! Verilates `hw/` (the `anypoint_top` pipeline) at DATA_WIDTH 64 and 512 with the test geometry, and
//! the ACP out_data engine (`anypoint_acp_out`), and compiles them with the `cc` crate: the Verilator
//! runtime once, each build's generated C++ as one unity translation unit, plus the C ABI shims in
//! `csrc/`. Everything at -O2 whatever the profile.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Table geometry of the test builds; the golden vectors use the same (src/vectors/lab.rs).
const GEOMETRY: &[(&str, u32)] = &[
    ("NUM_PORTS", 4),
    ("NUM_SERVICES", 16),
    ("NUM_MEMBERS", 64),
    ("CONN_BUCKETS_LOG2", 4),
    ("INDIR_SLOTS_LOG2", 12),
];
/// The model's default geometry (`anypoint_model::Geometry::default()`), for the `replay-geometry`
/// feature: `anypoint-ctl replay --backend rtl` on configurations the small test tables cannot hold.
/// With the ACP block, whose slots the daemon's `rtl` backend loads; it costs the idle simulation
/// about a fifth of its clock rate (`sim-rate`: 110,162 against 135,119 clocks per second without).
const DEFAULT_GEOMETRY: &[(&str, u32)] = &[
    ("NUM_PORTS", 4),
    ("NUM_SERVICES", 64),
    ("NUM_MEMBERS", 1024),
    ("CONN_BUCKETS_LOG2", 13),
    ("INDIR_SLOTS_LOG2", 16),
    ("ACP_SLOTS", 2),
];

/// A Verilated build: directory / lower-case prefix, top module and its parameters.
struct Variant {
    name: &'static str,
    top: &'static str,
    width: Option<u32>,
    geometry: &'static [(&'static str, u32)],
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let hw = manifest.join("../hw");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed=../hw/rtl");
    println!("cargo:rerun-if-changed=../hw/include");
    println!("cargo:rerun-if-changed=csrc");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=ANYPOINT_TRACE");
    // FST waveforms cost build time: only with ANYPOINT_TRACE=1 at build time.
    let trace = std::env::var("ANYPOINT_TRACE").is_ok_and(|v| v == "1");

    let root = verilator_root();
    let include = root.join("include");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(hw.join("rtl"))
        .expect("hw/rtl")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sv"))
        .collect();
    sources.sort();
    for s in &sources {
        println!("cargo:rerun-if-changed={}", s.display());
    }

    // Verilate both widths (in parallel: each is single-threaded).
    let mut variants = vec![
        Variant {
            name: "vap64",
            top: "anypoint_top",
            width: Some(64),
            geometry: GEOMETRY,
        },
        Variant {
            name: "vap512",
            top: "anypoint_top",
            width: Some(512),
            geometry: GEOMETRY,
        },
        Variant {
            name: "vacp",
            top: "anypoint_acp_out",
            width: None,
            geometry: &[],
        },
    ];
    let replay = std::env::var("CARGO_FEATURE_REPLAY_GEOMETRY").is_ok();
    if replay {
        variants.push(Variant {
            name: "vap64d",
            top: "anypoint_top",
            width: Some(64),
            geometry: DEFAULT_GEOMETRY,
        });
    }
    let units: Vec<PathBuf> = std::thread::scope(|scope| {
        let handles: Vec<_> = variants
            .iter()
            .map(|v| {
                let (hw, out, sources) = (&hw, &out, &sources);
                scope.spawn(move || verilate(hw, out, sources, v, trace))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    // Compile: the runtime and shim, and each model, on their own threads.
    let base = |name: &str| {
        let mut b = cc::Build::new();
        let t = if trace { "1" } else { "0" };
        b.cpp(true)
            .opt_level(2)
            .debug(false)
            .flag_if_supported("-std=c++17")
            .flag_if_supported("-w")
            .flag_if_supported("-faligned-new")
            .flag_if_supported("-fcf-protection=none")
            .define("VM_TRACE", t)
            .define("VM_TRACE_FST", t)
            .define("VM_TRACE_VCD", "0")
            .define("VM_COVERAGE", "0")
            .define("VM_SC", "0")
            .include(&include)
            .include(include.join("vltstd"));
        let _ = name;
        b
    };
    std::thread::scope(|scope| {
        let mut jobs = Vec::new();
        {
            let mut b = base("aprt");
            for v in &variants {
                b.include(out.join(v.name));
            }
            if replay {
                b.define("AP_REPLAY_GEOMETRY", "1");
            }
            b.file(include.join("verilated.cpp"))
                .file(include.join("verilated_threads.cpp"))
                .file(manifest.join("csrc/shim.cpp"))
                .file(manifest.join("csrc/acp_shim.cpp"));
            if trace {
                b.file(include.join("verilated_fst_c.cpp"));
            }
            jobs.push(scope.spawn(move || b.compile("aprt")));
        }
        if trace {
            let mut c = cc::Build::new();
            c.opt_level(2)
                .debug(false)
                .flag_if_supported("-w")
                .include(include.join("gtkwave"))
                .define("FST_CONFIG_INCLUDE", "\"fst_config.h\"")
                .file(include.join("gtkwave/fstapi.c"))
                .file(include.join("gtkwave/lz4.c"))
                .file(include.join("gtkwave/fastlz.c"));
            jobs.push(scope.spawn(move || c.compile("apfst")));
        }
        // The generated models are the bulk of the build: compile them as separate compiler
        // processes in parallel (cc alone would run them one after the other).
        let mut objects = Vec::new();
        let mut procs = Vec::new();
        for (v, unit) in variants.iter().zip(&units) {
            let mut b = base("model");
            b.include(out.join(v.name));
            let obj = out.join(format!("{}_unity.o", v.name));
            let mut cmd = b.get_compiler().to_command();
            cmd.arg("-c").arg(unit).arg("-o").arg(&obj);
            objects.push(obj);
            procs.push(scope.spawn(move || {
                let status = cmd.status().expect("running the C++ compiler");
                assert!(status.success(), "compiling {} failed", unit.display());
            }));
        }
        for j in jobs.into_iter().chain(procs) {
            j.join().unwrap();
        }
        let mut models = cc::Build::new();
        for o in &objects {
            models.object(o);
        }
        models.compile("vapmodels");
    });
    if trace {
        println!("cargo:rustc-link-lib=z");
    }
}

fn verilator_root() -> PathBuf {
    let out = Command::new("verilator")
        .args(["--getenv", "VERILATOR_ROOT"])
        .output()
        .expect("verilator not found: install the Debian package `verilator`");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Runs Verilator for one build; returns the unity file including every generated .cpp.
fn verilate(hw: &Path, out: &Path, sources: &[PathBuf], v: &Variant, trace: bool) -> PathBuf {
    let prefix = format!("V{}", &v.name[1..]);
    let mdir = out.join(v.name);
    let _ = std::fs::remove_dir_all(&mdir);
    let mut cmd = Command::new("verilator");
    cmd.arg("--cc")
        .args(["--prefix", &prefix])
        .arg("--Mdir")
        .arg(&mdir)
        .arg(format!("-I{}", hw.join("include").display()))
        .arg(format!("-I{}", hw.join("rtl").display()))
        .args(["--top-module", v.top])
        .args(["-O3", "--x-assign", "fast", "--x-initial", "fast"])
        .args(["-Wno-fatal", "-Wno-lint", "-Wno-style", "--no-timing"]);
    if trace {
        cmd.arg("--trace-fst");
    }
    if let Some(width) = v.width {
        cmd.arg(format!("-GDATA_WIDTH={width}"));
    }
    for (name, value) in v.geometry {
        cmd.arg(format!("-G{name}={value}"));
    }
    cmd.args(sources);
    let status = cmd.status().expect("running verilator");
    assert!(status.success(), "verilator failed for {}", v.name);
    let mut cpps: Vec<PathBuf> = std::fs::read_dir(&mdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cpp"))
        .collect();
    cpps.sort();
    let unity = out.join(format!("{}_unity.cpp", v.name));
    let text: String = cpps
        .iter()
        .map(|p| format!("#include \"{}\"\n", p.display()))
        .collect();
    std::fs::write(&unity, text).unwrap();
    unity
}
