# Anypoint: `make demo` runs the main job, `make test` runs every test.
SHELL := /bin/bash
CARGO ?= cargo
# Debian packages the build and tests need (installed when missing; see scripts/ensure-deps.sh).
DEB_PACKAGES := gcc g++ libc6-dev make verilator iproute2 curl python3 iputils-ping
# Switch backend of `make demo` (model or rtl).
BACKEND ?= model

.PHONY: all demo demo-replay test deps lint check-generated generate bench synth fuzz soak experiments

all: test

deps:
	@scripts/ensure-deps.sh $(DEB_PACKAGES)

# Real HTTP traffic between network namespaces through the daemon on $(BACKEND) (root).
demo: deps
	$(CARGO) build --release -q -p anypoint-ctl
	scripts/demo.sh $(BACKEND)

# Replays examples/demo.pcap through the model with examples/cluster.toml (no root needed).
demo-replay: deps
	$(CARGO) build --release -q -p anypoint-ctl
	target/release/anypoint-ctl replay --config examples/cluster.toml --in 0:examples/demo.pcap --out-dir target/demo
	@echo "output captures: target/demo/port0.pcap target/demo/port1.pcap target/demo/host.pcap"

test: deps lint check-generated
	$(CARGO) test --workspace

lint:
	$(CARGO) fmt --all --check
	hw/lint.sh
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Fails when a generated file differs from what its generator writes now.
check-generated:
	$(CARGO) run -q -p regmap-gen -- --check
	$(CARGO) run -q -p anypoint-ctl --example gen_demo_pcap -- --check examples/demo.pcap
	$(CARGO) run -q -p verilator-tests --bin gen-golden -- --check

# Rewrites every generated file.
generate:
	$(CARGO) run -q -p regmap-gen
	$(CARGO) run -q -p anypoint-ctl --example gen_demo_pcap -- examples/demo.pcap
	$(CARGO) run -q -p verilator-tests --bin gen-golden

# Criterion benchmark of the model (packets per second on one core).
bench:
	$(CARGO) bench -p anypoint-model --bench pipeline

# Synthesis figures (not part of `make test`): Debian yosys for Xilinx resource counts, pinned
# yowasp tools from PyPI (hw/synth/requirements.txt, in target/synth-venv) for an ECP5 place and
# route; writes docs/synthesis.md.
synth:
	@scripts/ensure-deps.sh yosys python3-venv
	hw/synth/report.sh

# The Anypoint paper's three results, switch against a terminating ACP proxy (root; not part of
# `make test`): writes docs/experiments.md and its plots. EXPERIMENT_SCALE multiplies the transfers
# (default 1: about 30 s of runs once built); plots with pinned matplotlib
# (scripts/experiments/requirements.txt, in target/experiments-venv).
EXPERIMENT_SCALE ?= 1
experiments: deps
	@scripts/ensure-deps.sh python3-venv
	EXPERIMENT_SCALE=$(EXPERIMENT_SCALE) scripts/experiments/run.sh

# Coverage-guided fuzzing (libFuzzer on stable; not part of `make test`): FUZZ_SECONDS per target
# (default 60), FUZZ_TARGETS (default: packet_path config control acp_segment frame_switch),
# FUZZ_MERGE=1 to add what was found to the committed corpus fuzz/corpus. See docs/hardening.md.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh $(FUZZ_TARGETS)

# 10-minute soak of the daemon (root; not part of `make test`): real traffic and control operations,
# daemon RSS and descriptors sampled every 10 s and required flat. SOAK_SECONDS, SOAK_BACKEND.
soak: deps
	$(CARGO) test -p anypoint-ctl --test soak -- --ignored --nocapture
