#!/bin/sh
# `make experiments` (root): builds the daemon, the runner, rtl-bench and acp-bench, runs the three experiments
# of the Anypoint paper through the switch and through the proxy (EXPERIMENT_SCALE multiplies every
# transfer, default 1), then draws the plots with pinned matplotlib (requirements.txt, in a
# virtualenv under target/). Writes docs/experiments.md and docs/experiments/.
set -e
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
VENV=${VENV:-$ROOT/target/experiments-venv}
CARGO=${CARGO:-cargo}
$CARGO build --release -q -p anypoint-ctl -p anypoint-experiments
# rtl-bench and acp-bench verilate the RTL; without them the page says the RTL figures were not
# measured.
$CARGO build --release -q -p verilator-tests --bin rtl-bench --bin acp-bench || echo "rtl-bench and acp-bench did not build; going on without them" >&2
# The virtualenv is rebuilt whenever the pinned requirements change.
if ! cmp -s scripts/experiments/requirements.txt "$VENV/requirements.txt"; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r scripts/experiments/requirements.txt
  cp scripts/experiments/requirements.txt "$VENV/requirements.txt"
fi
target/release/experiments --scale "${EXPERIMENT_SCALE:-1}" --out docs/experiments --page docs/experiments.md
"$VENV/bin/python" scripts/experiments/plot.py docs/experiments/results.json
