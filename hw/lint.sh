#!/bin/sh
# Lints hw/ with Verilator -Wall (waivers with reasons in hw/lint/waivers.vlt) at both data widths.
set -e
cd "$(dirname "$0")"
for w in 64 512; do
  verilator --lint-only -Wall -Iinclude -Irtl lint/waivers.vlt rtl/*.sv --top-module anypoint_top -GDATA_WIDTH=$w
  verilator --lint-only -Wall -Iinclude -Irtl lint/waivers.vlt rtl/*.sv --top-module anypoint_top -GDATA_WIDTH=$w \
    -GNUM_SERVICES=16 -GNUM_MEMBERS=64 -GCONN_BUCKETS_LOG2=4 -GINDIR_SLOTS_LOG2=12
done
# The ACP engine alone, at its own defaults (anypoint_top instantiates it through its ACP block).
verilator --lint-only -Wall -Iinclude -Irtl lint/waivers.vlt rtl/anypoint_acp_out.sv --top-module anypoint_acp_out
echo "hw lint: clean"
