#!/bin/sh
# Debian yosys `synth_xilinx` of anypoint_top at both data widths in one hierarchical run
# (anypoint_synth_widths.sv: geometry there); writes xilinx_64.stat and xilinx_512.stat (design
# totals, every module multiplied by its instance count) to OUT.
set -e
cd "$(dirname "$0")/.."
OUT=${OUT:-../target/synth}
mkdir -p "$OUT"
yosys -q -l "$OUT/xilinx.log" -p "
read_verilog -sv -Iinclude $(ls rtl/*.sv | tr '\n' ' ') synth/anypoint_synth_widths.sv;
hierarchy -top anypoint_synth_widths;
synth_xilinx -top anypoint_synth_widths;
tee -q -o $OUT/xilinx_64.stat stat -top anypoint_synth_w64;
tee -q -o $OUT/xilinx_512.stat stat -top anypoint_synth_w512;
"
