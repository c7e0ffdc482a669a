#!/usr/bin/env python3
"""Rough static timing of a `synth_ecp5` JSON netlist, in seconds instead of a place and route's
hour: the longest register-to-register paths under a per-cell delay model, named by the RTL nets
at their ends. The model leaves out routing congestion (nextpnr's figures on a full part are about
twice these); it ranks paths, it does not predict Fmax.

    ecp5_paths.py NETLIST.json [--groups N] [--paths N] [--end REGEX] [--fanout N]

prints the worst path ending at each register group (`--groups`, default 40), then the
`--paths` worst paths in full (default 3), only those whose end net matches `--end` if given,
then the `--fanout` nets with the most loads (default 0): on a full part the placer spreads a
net's loads far apart, and nextpnr's delay grows with that span, which this delay model ignores.
"""
import argparse
import collections
import json
import re
import sys
import threading

TOP = "anypoint_synth_harness"
# Clock to output of the path's start: a flip-flop, a block RAM without output register.
START = {"TRELLIS_FF": 0.6, "DP16KD": 3.8}


def cell_delay(kind, pin_in, pin_out):
    """Delay through a combinational cell from `pin_in` to `pin_out` in ns (with its share of
    local routing), or None when the pin does not time through (a LUT RAM's write side)."""
    if kind == "LUT4":
        return 1.1
    if kind in ("PFUMX", "L6MUX21"):
        return 0.35
    if kind == "TRELLIS_DPR16X4":
        return 1.2 if pin_in.startswith("RAD") else None
    if kind == "CCU2C":
        if pin_in == "CIN":
            return 0.08 if pin_out == "COUT" else 0.35
        return 1.2
    return None


class Netlist:
    def __init__(self, path):
        module = json.load(open(path))["modules"][TOP]
        self.cells = module["cells"]
        self.names = collections.defaultdict(list)
        for n, v in module["netnames"].items():
            for b in v["bits"]:
                if isinstance(b, int):
                    self.names[b].append(n)
        self.driver = {}
        for cn, c in self.cells.items():
            for p, bits in c["connections"].items():
                if c["port_directions"].get(p) == "output":
                    for b in bits:
                        if isinstance(b, int):
                            self.driver[b] = (cn, p)
        self.memo = {}

    def name(self, bit):
        """The most readable name of a net bit: an RTL name before a generated one."""
        return min(self.names.get(bit, ["?"]), key=lambda s: ("$" in s, len(s)))

    def arrival(self, bit):
        """(arrival time, the input bit it came through, its driver cell) of a net bit."""
        if bit in self.memo:
            return self.memo[bit]
        if not isinstance(bit, int) or bit not in self.driver:
            self.memo[bit] = (0.0, None, None)
            return self.memo[bit]
        cn, pout = self.driver[bit]
        c = self.cells[cn]
        if c["type"] in START:
            self.memo[bit] = (START[c["type"]], None, cn)
            return self.memo[bit]
        self.memo[bit] = (0.0, None, cn)  # a combinational loop starts here
        best = (0.0, None, cn)
        for p, bits in c["connections"].items():
            d = cell_delay(c["type"], p, pout)
            if c["port_directions"].get(p) != "input" or d is None:
                continue
            for ib in bits:
                t = self.arrival(ib)[0] + d
                if t > best[0]:
                    best = (t, ib, cn)
        self.memo[bit] = best
        return best

    def endpoints(self):
        """(arrival, bit, cell, pin) of every timed input of a flip-flop or block RAM."""
        ends = []
        for cn, c in self.cells.items():
            if c["type"] not in START:
                continue
            for p, bits in c["connections"].items():
                if c["port_directions"].get(p) != "input" or p.startswith("CLK"):
                    continue
                for b in bits:
                    if isinstance(b, int):
                        ends.append((self.arrival(b)[0], b, cn, p))
        return sorted(ends, reverse=True)

    def fanout(self):
        """(loads, bit, driver cell type) of every driven net bit, most loads first."""
        loads = collections.Counter()
        for c in self.cells.values():
            for p, bits in c["connections"].items():
                if c["port_directions"].get(p) == "input":
                    loads.update(b for b in bits if b in self.driver)
        kind = lambda b: self.cells[self.driver[b][0]]["type"]
        return [(k, b, kind(b)) for b, k in loads.most_common()]

    def path(self, bit):
        """The cells of the worst path into `bit`, from its start: (time, net, cell type)."""
        steps = []
        while bit is not None:
            t, prev, cn = self.arrival(bit)
            steps.append((t, self.name(bit), self.cells[cn]["type"] if cn else "-"))
            bit = prev
        return steps[::-1]


def group(net):
    """A register's name without bit indices and the names yosys derives from it."""
    net = re.sub(r"_TRELLIS_FF_Q.*|_DI.*|\.0\.0_.*", "", net)
    net = re.sub(r"\.mem\[\d+\]", ".mem", net)
    return re.sub(r"\[\d+\]$", "", net)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("netlist")
    ap.add_argument("--groups", type=int, default=40)
    ap.add_argument("--paths", type=int, default=3)
    ap.add_argument("--end", help="only paths whose end net matches this regex")
    ap.add_argument("--fanout", type=int, default=0)
    args = ap.parse_args()
    n = Netlist(args.netlist)
    ends = n.endpoints()
    print(f"{len(ends)} timed endpoints; worst {ends[0][0]:.1f} ns" if ends else "no endpoints")
    worst = {}
    for t, b, _, _ in ends:
        key = (group(n.path(b)[0][1]), group(n.name(b)))
        worst.setdefault(key, t)
    print("\nworst path per (start group, end group), ns:")
    for (start, end), t in sorted(worst.items(), key=lambda kv: -kv[1])[: args.groups]:
        print(f"{t:5.1f}  {start}  ->  {end}")
    shown = 0
    for t, b, cn, p in ends:
        if shown >= args.paths:
            break
        if args.end and not re.search(args.end, n.name(b)):
            continue
        steps = n.path(b)
        print(f"\n{t:.1f} ns, {len(steps)} cells, to {n.cells[cn]['type']}.{p} {n.name(b)}")
        for st, net, kind in steps:
            print(f"    {st:5.2f}  {kind:<16} {net[:120]}")
        shown += 1
    if args.fanout:
        print("\nnets with the most loads:")
        for k, b, kind in n.fanout()[: args.fanout]:
            print(f"{k:6d}  {kind:<12} {n.name(b)[:120]}")
    return 0


if __name__ == "__main__":
    # Paths are walked recursively, thousands of cells deep along carry chains.
    sys.setrecursionlimit(1_000_000)
    threading.stack_size(1 << 29)
    result = []
    worker = threading.Thread(target=lambda: result.append(main()))
    worker.start()
    worker.join()
    sys.exit(result[0] if result else 1)
