#!/usr/bin/env python3
"""Runs the Rust collector bench and the CPython counterparts in one session and prints
the ratio tables: gcrt / CPython 3.11 and gcrt / fastest peer.

Usage (from the repository root; see benches/README.md):

    export CARGO_TARGET_DIR=...          # where criterion writes its results
    python3 benches/compare.py           # cargo bench --bench collector, then CPython
    python3 benches/compare.py --skip-cargo    # reuse the last criterion results
    python3 benches/compare.py --micro   # also summarise the refcount and rawalloc benches
                                         # (from their last criterion results)
    python3 benches/compare.py --rounds 3    # then 3 alternating rounds of gcrt's W3-W5
                                             # rows and the CPython scripts

Rust figures are criterion's median estimate per iteration (one collection, or one whole
binary-trees program). CPython figures are the median over runs of `time.perf_counter()`
around the same phase. Each criterion group runs right before its CPython script, so both
sides of a ratio are measured within minutes; only ratios taken in the same session mean
anything on a shared machine.
"""

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPYTHON_DIR = Path(__file__).resolve().parent / "cpython"

# workload -> (criterion group, objects per iteration, unit label, CPython script, CPython row)
WORKLOADS = [
    ("w3 1M objects in 2-cycles", "w3_cycles_1m", 1_000_000, "object", "w3_cycles.py", "cpython"),
    ("w4 one 1M ring", "w4_ring_1m", 1_000_000, "object", "w4_ring.py", "cpython"),
    ("w5 full collection, 1M live", "w5_live_1m", 1_000_000, "object", "w5_live.py", "cpython"),
    ("w7 pyperf gc_collect", "w7_pyperf_gc_collect", 2_100, "object", "w7_gc_collect.py", "cpython"),
    ("w8 pyperf gc_traversal", "w8_pyperf_gc_traversal", 499_500, "edge", "w8_gc_traversal.py", "cpython"),
    ("w6 binary trees 16", "w6_binary_trees_16", 14_985_902, "node", "w6_binary_trees.py", "cpython"),
]
PEERS = ("gcmodule", "rust-cc", "dumpster", "bacon_rajan_cc")


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def run(cmd, **kw):
    print("+ " + " ".join(str(c) for c in cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, **kw)


def bench_group(regex):
    """Runs the criterion benchmarks of `benches/collector.rs` whose ids match `regex`."""
    run(["cargo", "bench", "--bench", "collector", "--", regex], cwd=ROOT, stdout=sys.stderr)


def criterion_group(group):
    """{function id: median ns per iteration} from criterion's last results of a group."""
    out = {}
    base = target_dir() / "criterion" / group
    if not base.is_dir():
        return out
    for bench in base.iterdir():
        meta, est = bench / "new" / "benchmark.json", bench / "new" / "estimates.json"
        if meta.is_file() and est.is_file():
            info = json.loads(meta.read_text())
            # `BenchmarkId::from_parameter` ids have no function id, only a value.
            fid = info.get("function_id") or info.get("value_str")
            out[fid] = json.loads(est.read_text())["median"]["point_estimate"]
    return out


def cpython(script, python):
    """{system: {key: value}} from the RESULT lines of one CPython script."""
    proc = run([python, str(CPYTHON_DIR / script)], cwd=CPYTHON_DIR, capture_output=True, text=True)
    rows = {}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            fields = dict(kv.split("=", 1) for kv in line.split()[1:])
            rows[fields["system"]] = fields
    return rows


def fmt_ms(ns):
    ms = ns / 1e6
    return f"{ms:.3f}" if ms < 1 else f"{ms:.1f}"


def fmt_time(ns):
    if ns < 1e4:
        return f"{ns:.2f} ns"
    if ns < 1e7:
        return f"{ns / 1e3:.1f} us"
    return f"{ns / 1e6:.1f} ms"


def ratio(a, b):
    if not (a and b):
        return "-"
    return f"{a / b:.2f}x" if a / b < 1000 else ">1000x"


def peer_rows(results, candidates):
    """Peer rows of a group: plain names, or the 'all candidates'/'no candidates' variant."""
    rows = {}
    for name, ns in results.items():
        base = name.split(",")[0]
        if base not in PEERS:
            continue
        if "," in name and not name.endswith(candidates):
            continue
        rows[name] = ns
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-cargo", action="store_true", help="reuse the last criterion results")
    ap.add_argument("--python", default="python3", help="the CPython to compare with")
    ap.add_argument("--micro", action="store_true", help="also summarise the refcount/rawalloc benches")
    ap.add_argument("--rounds", type=int, default=0,
                    help="then alternate gcrt's W3-W5 rows and the CPython scripts this many times")
    args = ap.parse_args()

    version = subprocess.run([args.python, "--version"], capture_output=True, text=True).stdout.strip()

    summary = []
    for title, group, objects, unit, script, py_row in WORKLOADS:
        if not args.skip_cargo:
            # One group at a time, each followed by its CPython script, so that the two sides
            # of a ratio are measured minutes apart at most (this machine's speed drifts).
            # criterion's report goes to stderr, so stdout holds only the tables.
            bench_group(f"^{group}/")
        results = criterion_group(group)
        py = cpython(script, args.python)
        print(f"\n### {title} ({group}; ns per {unit} = median / {objects:,})\n")
        print(f"| system | median ms | ns/{unit} | vs gcrt | vs CPython |")
        print("|---|---|---|---|---|")
        py_ns = float(py[py_row]["median_ms"]) * 1e6 if py_row in py else None
        gcrt = results.get("gcrt")
        for name, ns in sorted(results.items(), key=lambda kv: kv[1]):
            print(f"| {name} | {fmt_ms(ns)} | {ns / objects:.2f} | {ratio(ns, gcrt)} | {ratio(ns, py_ns)} |")
        for sysname, row in py.items():
            ns = float(row["median_ms"]) * 1e6
            print(f"| {version} ({sysname}) | {fmt_ms(ns)} | {ns / objects:.2f} | {ratio(ns, gcrt)} | {ratio(ns, py_ns)} |")
        variants = ["all candidates", "no candidates"] if any("," in n for n in results) else [""]
        for v in variants:
            peers = peer_rows(results, v)
            fastest = min(peers.items(), key=lambda kv: kv[1]) if peers else (None, None)
            summary.append((title + (f" (peers: {v})" if v else ""), gcrt, py_ns, fastest, results.get("Rc")))
        if "gcrt, one thread" in results:
            peers = peer_rows(results, "")
            fastest = min(peers.items(), key=lambda kv: kv[1]) if peers else (None, None)
            summary.append((title + " (gcrt on one thread)", results["gcrt, one thread"], py_ns, fastest, results.get("Rc")))

    print(f"\n### Summary (gcrt / CPython is against {version})\n")
    print("| workload | gcrt ms | gcrt / CPython | fastest peer | gcrt / fastest peer | gcrt / Rc |")
    print("|---|---|---|---|---|---|")
    for title, gcrt, py_ns, (peer, peer_ns), rc in summary:
        peer_txt = f"{peer} {fmt_ms(peer_ns)} ms" if peer else "-"
        print(
            f"| {title} | {fmt_ms(gcrt) if gcrt else '-'} | {ratio(gcrt, py_ns)} | {peer_txt} "
            f"| {ratio(gcrt, peer_ns)} | {ratio(gcrt, rc)} |"
        )

    if args.rounds and not args.skip_cargo:
        print(f"\n### gcrt / CPython in {args.rounds} alternating rounds (gcrt's row, then CPython's)\n")
        print("| workload | " + " | ".join(f"round {r + 1}" for r in range(args.rounds)) + " | median |")
        print("|---|" + "---|" * (args.rounds + 1))
        for title, group, objects, unit, script, py_row in WORKLOADS[:3]:
            ratios, cells = [], []
            for _ in range(args.rounds):
                bench_group(f"^{group}/gcrt$")
                gcrt = criterion_group(group).get("gcrt")
                py = cpython(script, args.python)
                py_ns = float(py[py_row]["median_ms"]) * 1e6 if py_row in py else None
                ratios.append(gcrt / py_ns if gcrt and py_ns else float("nan"))
                cells.append(f"{fmt_ms(gcrt)} / {fmt_ms(py_ns)} = {ratios[-1]:.3f}x")
            med = sorted(ratios)[len(ratios) // 2]
            print(f"| {title} | " + " | ".join(cells) + f" | **{med:.3f}x** |")

    if args.micro:
        print("\n### Micro benches (last criterion results of `--bench refcount` and `--bench rawalloc`)\n")
        print("| group | gcrt | reference | gcrt / reference |")
        print("|---|---|---|---|")
        crit = target_dir() / "criterion"
        groups = sorted(p.name for p in crit.iterdir()) if crit.is_dir() else []
        for group in groups:
            if not re.match(r"^(new_drop|clone_drop|chain_1m|churn_batch_|churn_pair_)", group):
                continue
            results = criterion_group(group)
            gcrt_rows = {k: v for k, v in results.items() if k.startswith("gcrt")}
            refs = {k: v for k, v in results.items() if not k.startswith("gcrt")}
            for gname, gns in sorted(gcrt_rows.items()):
                for rname, rns in sorted(refs.items()):
                    print(f"| {group} | {gname}: {fmt_time(gns)} | {rname}: {fmt_time(rns)} | {ratio(gns, rns)} |")


if __name__ == "__main__":
    main()
