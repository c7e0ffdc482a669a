"""Plots of `make experiments`: reads the runner's results.json, writes throughput.png, memory.png
and slow_server.png beside it. A row that was not measured is left out of its plot and named in
the plot's note (the page, docs/experiments.md, says why)."""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def measured(rows):
    """(row, run) for the rows with a result."""
    return [(r, r["result"]["Ok"]) for r in rows if "Ok" in r["result"]]


def missing_note(ax, rows):
    gone = sorted({f"{r['edge']} {r['policy']}" for r in rows if "Err" in r["result"]})
    if gone:
        ax.text(0.01, 0.99, "not measured: " + ", ".join(gone), transform=ax.transAxes,
                va="top", fontsize=8, color="gray")


def label(row):
    return f"{row['edge']}\n{row['policy']}"


def frames_per_second(run):
    return sum(run["frames_per_server"]) / run["seconds"]


def throughput(res, out):
    fig, ax = plt.subplots(figsize=(6, 4))
    rows = measured(res["throughput"])
    ax.bar([label(r) for r, _ in rows], [frames_per_second(run) for _, run in rows],
           color=["tab:blue" if r["edge"] == "switch" else "tab:orange" for r, _ in rows])
    ax.set_ylabel("frames/s")
    ax.set_title(f"Bulk {res['frame_bytes']}-byte frames, one connection, {res['servers']} servers")
    missing_note(ax, res["throughput"])
    fig.tight_layout()
    fig.savefig(out / "throughput.png", dpi=100)


def memory(res, out):
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    proxy = [(r, run) for r, run in measured(res["memory"]) if r["edge"] == "proxy"]
    switch = [(r, run) for r, run in measured(res["memory"]) if r["edge"] == "switch"]
    rtts = [r["rtt_ms"] for r, _ in proxy]
    left.plot(rtts, [run["peak_bytes"] / 1024 for _, run in proxy], "o-", color="tab:orange",
              label="proxy: most bytes held")
    left.plot(rtts, [(run["peak_unacked"] or 0) / 1024 for _, run in proxy], "s--",
              color="tab:red", label="proxy: most bytes unacknowledged")
    frame = res["frame_bytes"] + 8  # ACP's frame header
    left.plot(rtts, [frames_per_second(run) * frame * r["rtt_ms"] / 1000 / 1024 for r, run in proxy],
              "^:", color="tab:gray", label="proxy: its rate x RTT (least it must hold)")
    left.axhline(res["switch_state_bytes"] / 1024, color="tab:blue",
                 label=f"switch: state per connection (w = {res['w']}, {res['max_holes']} holes)")
    if switch:
        left.plot([r["rtt_ms"] for r, _ in switch], [run["peak_bytes"] / 1024 for _, run in switch],
                  "o", color="tab:blue", label="switch: measured runs")
    left.set_xlabel("added round-trip time (ms)")
    left.set_ylabel("KiB per client connection (log scale)")
    left.set_yscale("log")
    left.set_title("Memory against round-trip time")
    left.legend(fontsize=8)
    missing_note(left, res["memory"])
    for r, run in proxy:
        t = [s[0] for s in run["series"]]
        v = [s[1] / 1024 for s in run["series"]]
        right.plot(t, v, label=f"RTT {r['rtt_ms']:g} ms")
    right.set_xlabel("seconds")
    right.set_ylabel("KiB held by the proxy")
    right.set_title("Proxy bytes held over time")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "memory.png", dpi=100)


def slow_server(res, out):
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    rows = measured(res["slow_server"])
    names = [label(r) for r, _ in rows]
    left.bar(names, [run["seconds"] for _, run in rows],
             color=["tab:blue" if r["edge"] == "switch" else "tab:orange" for r, _ in rows])
    left.set_ylabel("seconds until every server has its frames")
    left.set_title(f"One slow server of {res['servers']} ({res['slow_rate']:g} frames/s)")
    missing_note(left, res["slow_server"])
    bottom = [0] * len(rows)
    for i in range(res["servers"]):
        share = [run["frames_per_server"][i] for _, run in rows]
        slow = i == res["servers"] - 1
        right.bar(names, share, bottom=bottom, label="slow server" if slow else f"server {i}",
                  hatch="//" if slow else None)
        bottom = [b + s for b, s in zip(bottom, share)]
    right.set_ylabel("frames")
    right.set_title("Frames per server")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "slow_server.png", dpi=100)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: plot.py RESULTS.json")
    path = Path(sys.argv[1])
    res = json.loads(path.read_text())
    throughput(res, path.parent)
    memory(res, path.parent)
    slow_server(res, path.parent)
    print(f"wrote {path.parent}/throughput.png, memory.png, slow_server.png")


main()
