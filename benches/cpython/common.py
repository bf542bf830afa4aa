"""Shared helpers of the CPython counterparts of benches/collector.rs.

Every script prints one parsable line per measured row:

    RESULT workload=<name> system=<name> median_ms=<float> min_ms=<float> max_ms=<float> runs=<int> objects=<int> [key=value ...]

`median_ms` is the median over the runs of one timed phase (one `gc.collect()`, or one
whole program for binary trees). Values never contain spaces.
"""

import argparse
import gc
import statistics
import sys
import time


def parse_args(default_runs, description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=default_runs, help="timed runs (median reported)")
    return parser.parse_args()


def quiet_heap():
    """As the peer baseline did: move start-up objects to the permanent generation, so the
    timed full collections only see the benchmark's objects, then stop automatic collection."""
    gc.collect()
    gc.freeze()
    gc.disable()


def timed_collect():
    """One full collection; returns (milliseconds, objects found unreachable)."""
    t0 = time.perf_counter()
    found = gc.collect()
    return (time.perf_counter() - t0) * 1e3, found


def report(workload, system, values_ms, objects, **extra):
    med = statistics.median(values_ms)
    fields = [
        "RESULT",
        f"workload={workload}",
        f"system={system}",
        f"median_ms={med:.4f}",
        f"min_ms={min(values_ms):.4f}",
        f"max_ms={max(values_ms):.4f}",
        f"runs={len(values_ms)}",
        f"objects={objects}",
        f"ns_per_object={med * 1e6 / objects:.2f}",
    ]
    fields += [f"{k}={v}" for k, v in extra.items()]
    print(" ".join(fields))
    sys.stdout.flush()
