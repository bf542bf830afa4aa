#!/usr/bin/env python3
"""Cold collections: one fresh process per sample, as a program meets its first large
collection (and as pyperformance's runner measures). Each Rust sample is the collector
bench binary started with GCRT_COLD=<workload>:<system> (benches/collector/cold.rs); each
CPython sample is the workload's script run with --runs 1 (its one timed collection, after
one untimed collection of the empty heap). Samples of all systems are interleaved round by
round; the tables give medians and their ratios, then each system's range (fastest and
slowest sample), so that a noisy machine shows as such.

Usage (from the repository root):

    python3 benches/cold.py                 # 5 rounds of w1, w3-w8, all systems
    python3 benches/cold.py --rounds 9 --workloads w3 --systems gcrt,rust-cc
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPYTHON_DIR = ROOT / "benches" / "cpython"
SYSTEMS = ["gcrt", "gcmodule", "rust-cc", "dumpster", "bacon_rajan_cc"]
# Pairs that cannot run: dumpster and bacon_rajan_cc overflow the stack on a 1,000,000-node
# ring (recursive marking), as in benches/collector.rs.
SKIP = {("w4", "dumpster"), ("w4", "bacon_rajan_cc")}
WORKLOADS = {
    "w3": ("1,000,000 objects in two-node cycles", "w3_cycles.py", "cpython"),
    "w4": ("one 1,000,000-node ring", "w4_ring.py", "cpython"),
    "w5": ("full collection, 1,000,000 live objects, every one dirty", "w5_live.py", "cpython"),
    # The reference row of the goal: CPython with `__slots__` nodes.
    "w7": ("pyperformance gc_collect, 2,100 dead ring nodes", "w7_gc_collect.py", "cpython_slots"),
    "w8": ("pyperformance gc_traversal, 499,500 edges, every object dirty", "w8_gc_traversal.py",
           "cpython"),
    # Whole programs, timed as a whole, with `Rc` and `Box` running the same program.
    "w1": ("10,000,000 tracked nodes allocated and dropped", None, None),
    "w6": ("binary trees, depth 16, the whole program", "w6_binary_trees.py", "cpython"),
}
# The workloads that `Rc` and `Box` run too.
PROGRAMS = {"w1", "w6"}
BASELINES = ["Rc", "Box"]


def bench_binary():
    """Builds the collector bench and returns its executable."""
    out = subprocess.run(
        ["cargo", "bench", "--bench", "collector", "--no-run", "--message-format=json"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "collector":
            if msg.get("executable"):
                return msg["executable"]
    sys.exit("cold.py: no collector bench executable in cargo's output")


def rust_sample(exe, workload, system):
    env = dict(os.environ, GCRT_COLD=f"{workload}:{system}")
    out = subprocess.run([exe], env=env, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("COLD ns="):
            return int(line.split("=", 1)[1]) / 1e6
    sys.exit(f"cold.py: no COLD line from {workload}:{system}")


def cpython_sample(python, script, row):
    out = subprocess.run([python, script, "--runs", "1"], cwd=CPYTHON_DIR,
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("RESULT "):
            fields = dict(kv.split("=", 1) for kv in line.split()[1:])
            if fields["system"] == row:
                return float(fields["median_ms"])
    sys.exit(f"cold.py: no RESULT system={row} from {script}")


def fmt(ms):
    """Milliseconds with three significant digits or more (W7 takes tens of microseconds)."""
    return f"{ms:.2f}" if ms >= 1 else f"{ms:.4f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workloads", default="w1,w3,w4,w5,w6,w7,w8")
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--python", default="python3")
    args = ap.parse_args()
    exe = bench_binary()
    systems = args.systems.split(",")
    version = subprocess.run([args.python, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"### Cold collections: one fresh process per sample, {args.rounds} rounds (median ms)\n")
    workloads = args.workloads.split(",")
    baselines = BASELINES if PROGRAMS & set(workloads) else []
    columns = systems + baselines
    print("| workload | " + " | ".join(columns) + f" | {version} | gcrt / CPython"
          + " | gcrt / fastest peer |" + (" gcrt / Rc |" if baselines else ""))
    print("|---|" + "---|" * (len(columns) + 3 + bool(baselines)))
    spreads = []
    for w in workloads:
        title, script, row = WORKLOADS[w]
        run_systems = [s for s in systems if (w, s) not in SKIP]
        run_systems += baselines if w in PROGRAMS else []
        samples = {s: [] for s in run_systems}
        if script:
            samples["cpython"] = []
        for _ in range(args.rounds):
            for s in run_systems:
                samples[s].append(rust_sample(exe, w, s))
            if script:
                samples["cpython"].append(cpython_sample(args.python, script, row))
        med = {s: statistics.median(v) for s, v in samples.items()}
        peers = {s: m for s, m in med.items() if s in systems and s != "gcrt"}
        fastest = min(peers.items(), key=lambda kv: kv[1]) if peers else None

        def cell(s):
            if s in med:
                return fmt(med[s])
            return "-" if s in baselines else "stack overflow"

        cells = " | ".join(cell(s) for s in columns)
        ratio_py = f"{med['gcrt'] / med['cpython']:.3f}x" if "gcrt" in med and script else "-"
        ratio_peer = f"{med['gcrt'] / fastest[1]:.2f}x ({fastest[0]})" if fastest and "gcrt" in med else "-"
        ratio_rc = ""
        if baselines:
            ratio_rc = f" {med['gcrt'] / med['Rc']:.2f}x |" if "Rc" in med and "gcrt" in med else " - |"
        py = fmt(med["cpython"]) if script else "-"
        print(f"| {w}: {title} | {cells} | {py} | {ratio_py} | {ratio_peer} |{ratio_rc}")
        sys.stdout.flush()
        spreads.append((w, samples))
    print_spreads(spreads, columns)


def print_spreads(spreads, columns):
    """The fastest and slowest sample of each system, per workload: medians alone hide how
    far apart one machine's runs are (a busy second core, a slow first fault)."""
    print("\n### Range of the samples (fastest - slowest, ms)\n")
    print("| workload | " + " | ".join(columns) + " | CPython |")
    print("|---|" + "---|" * (len(columns) + 1))
    for w, samples in spreads:
        def rng(s):
            v = samples.get(s)
            return f"{fmt(min(v))} - {fmt(max(v))}" if v else "-"
        print(f"| {w} | " + " | ".join(rng(s) for s in columns) + f" | {rng('cpython')} |")


if __name__ == "__main__":
    main()
