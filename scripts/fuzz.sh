#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer on the stable toolchain (`make fuzz`, not part of `make test`).
#
#   scripts/fuzz.sh [TARGET...]   fuzz each target for $FUZZ_SECONDS (default 60) seconds
#   FUZZ_MERGE=1 scripts/fuzz.sh  then merge what was found into the committed corpus (fuzz/corpus)
#
# Targets: packet_path config control acp_segment frame_switch. New inputs go to
# target/fuzz-corpus/TARGET (the committed corpus fuzz/corpus/TARGET is read as seeds), crashes to
# target/fuzz-artifacts/TARGET/. The instrumentation is LLVM's SanitizerCoverage via stable rustc
# flags (what cargo-fuzz sets, minus the nightly-only sanitizers: the code under test is safe Rust),
# with overflow checks and debug assertions on; the instrumented build lives in target/fuzz so it
# does not disturb the normal one.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(packet_path config control acp_segment frame_switch)
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')

export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# --target keeps the flags off build scripts (they would not link against the coverage runtime).
cargo build --release -q -p anypoint-fuzz --features libfuzzer --bins \
    --target "$TRIPLE" --target-dir target/fuzz

for t in "${TARGETS[@]}"; do
    work=target/fuzz-corpus/$t
    artifacts=target/fuzz-artifacts/$t/
    mkdir -p "$work" "$artifacts"
    echo "== fuzz_$t for ${SECONDS_PER_TARGET}s"
    # -max_len: the largest committed seed is a golden-vector recording (see fuzz/README.md).
    "target/fuzz/$TRIPLE/release/fuzz_$t" "$work" "fuzz/corpus/$t" \
        -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=1024 \
        -malloc_limit_mb=256 -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts" \
        2>&1 | grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ *DONE|==|SUMMARY|.*(panicked|deadly signal|Test unit written))' || true
    if ls "$artifacts" | grep -q .; then
        echo "fuzz_$t: crash inputs in $artifacts" >&2
        exit 1
    fi
    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        "target/fuzz/$TRIPLE/release/fuzz_$t" -merge=1 -max_len=65536 "fuzz/corpus/$t" "$work" 2>&1 | tail -1
    fi
done
