"""W6: the Benchmarks Game binary-trees program at depth 16 (14,985,902 nodes allocated),
tuple version, gc at its defaults (enabled, thresholds untouched). The whole program is
timed per run. Same program as benches/collector.rs `w6_binary_trees_16`.
"""

import gc
import time

from common import parse_args, report

MAX_DEPTH = 16
MIN_DEPTH = 4
NODES = 14_985_902


def make_tree(depth):
    return (make_tree(depth - 1), make_tree(depth - 1)) if depth else (None, None)


def check_tree(node):
    left, right = node
    if left is None:
        return 1
    return 1 + check_tree(left) + check_tree(right)


def program():
    stretch = make_tree(MAX_DEPTH + 1)
    total = check_tree(stretch)
    del stretch
    long_lived = make_tree(MAX_DEPTH)
    for depth in range(MIN_DEPTH, MAX_DEPTH + 1, 2):
        for _ in range(1 << (MAX_DEPTH - depth + MIN_DEPTH)):
            total += check_tree(make_tree(depth))
    total += check_tree(long_lived)
    return total


def main():
    args = parse_args(5, __doc__)
    assert gc.isenabled()
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        total = program()
        times.append((time.perf_counter() - t0) * 1e3)
        assert total == NODES, total
    report("w6_binary_trees_16", "cpython", times, NODES, style="tuples", thresholds=",".join(map(str, gc.get_threshold())))


if __name__ == "__main__":
    main()
