#!/usr/bin/env python3
"""Runs the object-type benchmarks (benches/objects.rs), their CPython counterparts
(benches/cpython/objects.py) and the bytes-per-object count (examples/object_sizes.rs) in one
session, and prints the ratio tables that docs/performance.md records.

Usage (from the repository root):

    export CARGO_TARGET_DIR=...          # where criterion writes its results
    python3 benches/compare_objects.py
    python3 benches/compare_objects.py --skip-cargo   # reuse the last criterion results
"""

import argparse
import subprocess
import sys

from compare import CPYTHON_DIR, ROOT, criterion_group, fmt_ms, ratio, run

COLLECTIONS = [
    ("gc_collect: 100 rings of 21 instances", "obj_gc_collect", "cpython"),
    ("gc_traversal: 1,000 lists, 499,500 edges", "obj_gc_traversal", "cpython"),
    ("B-tree of 200,000 keys, 20 % rebuilt", "obj_btree", "cpython"),
]
SHAPES = ["int", "float", "tuple2", "list", "dict1", "instance3"]
STD = {
    "int": "int/Box",
    "float": "float/Box",
    "tuple2": "tuple2/Rc",
    "list": "list/Rc<RefCell<Vec>>",
    "dict1": "dict1/Rc<RefCell<HashMap>>",
    "instance3": "instance3/Rc<RefCell<struct>>",
}


def results_lines(cmd, cwd):
    out = run(cmd, cwd=cwd, capture_output=True, text=True).stdout.splitlines()
    rows = []
    for line in out:
        if line.startswith(("RESULT ", "SIZE ")):
            rows.append(dict(kv.split("=", 1) for kv in line.split()[1:]))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-cargo", action="store_true")
    ap.add_argument("--python", default="python3")
    args = ap.parse_args()
    if not args.skip_cargo:
        run(["cargo", "bench", "--bench", "objects"], cwd=ROOT, stdout=sys.stderr)
    py = results_lines([args.python, "objects.py"], CPYTHON_DIR)
    sizes = results_lines(["cargo", "run", "-q", "--release", "--example", "object_sizes"], ROOT)
    version = subprocess.run([args.python, "--version"], capture_output=True, text=True).stdout.strip()

    def py_ms(workload, system="cpython"):
        for r in py:
            if r.get("workload") == workload and r.get("system") == system:
                return float(r["median_ms"]) * 1e6
        return None

    print(f"\n### Full collections over the built-in types (gcrt / {version})\n")
    print("| workload | gcrt row | gcrt ms | CPython ms | gcrt / CPython |")
    print("|---|---|---|---|---|")
    for title, group, _ in COLLECTIONS:
        py_ns = py_ms(group)
        for name, ns in sorted(criterion_group(group).items()):
            print(f"| {title} | {name} | {fmt_ms(ns)} | {fmt_ms(py_ns) if py_ns else '-'} | {ratio(ns, py_ns)} |")
    slots = py_ms("obj_gc_collect", "cpython_slots")
    if slots:
        print(f"| (CPython with `__slots__`: {fmt_ms(slots)} ms) | | | | |")

    churn = criterion_group("obj_churn")
    print("\n### Churn: create and drop 1,000,000 objects (ms per million)\n")
    print("| shape | gcrt | gcrt, no free lists | free lists buy | std shape | gcrt / std | CPython | gcrt / CPython |")
    print("|---|---|---|---|---|---|---|---|")
    for shape in SHAPES:
        g = churn.get(f"{shape}/gcrt")
        off = churn.get(f"{shape}/gcrt, no free lists")
        std = churn.get(STD[shape])
        cp = py_ms(f"obj_churn/{shape}")
        print(
            f"| {shape} | {fmt_ms(g) if g else '-'} | {fmt_ms(off) if off else '-'} | {ratio(g, off)} "
            f"| {STD[shape]}: {fmt_ms(std) if std else '-'} | {ratio(g, std)} "
            f"| {fmt_ms(cp) if cp else '-'} | {ratio(g, cp)} |"
        )

    print("\n### Bytes per object (gcrt: heap block + owned buffers; CPython: getsizeof + GC header)\n")
    print("| type | gcrt | CPython | gcrt / CPython |")
    print("|---|---|---|---|")
    by = {(r["type"], r["system"]): float(r["bytes"]) for r in sizes + py if "bytes" in r}
    for t in ["int", "float", "str10", "list0", "list8", "tuple2", "dict1", "instance3"]:
        g, c = by.get((t, "gcrt")), by.get((t, "cpython"))
        print(f"| {t} | {g:.0f} | {c:.0f} | {g / c:.2f}x |" if g and c else f"| {t} | - | - | - |")


if __name__ == "__main__":
    main()
