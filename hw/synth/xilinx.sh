#!/bin/sh
# Debian yosys `synth_xilinx` of anypoint_top at DATA_WIDTH $1 (64 or 512); prints the stat report.
# Geometry: 4 ports, 16 services, 64 members, 2 x 8192 x 4 connection entries, 65536 indirection slots.
set -e
cd "$(dirname "$0")/.."
W=${1:-64}
OUT=${OUT:-../target/synth}
mkdir -p "$OUT"
yosys -q -l "$OUT/xilinx_$W.log" -p "
read_verilog -sv -Iinclude $(ls rtl/*.sv | tr '\n' ' ');
hierarchy -top anypoint_top -chparam DATA_WIDTH $W -chparam NUM_SERVICES 16 -chparam NUM_MEMBERS 64 -chparam CONN_BUCKETS_LOG2 13 -chparam INDIR_SLOTS_LOG2 16;
synth_xilinx -top anypoint_top;
tee -o $OUT/xilinx_$W.stat stat -top anypoint_top;
"
cat "$OUT/xilinx_$W.stat"
