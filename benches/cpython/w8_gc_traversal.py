"""W8: pyperformance's bm_gc_traversal shape: 1,000 lists, list n holding n references to
list n-1 (499,500 edges, all live). Built once; each run does an untimed gc.collect() and
one timed gc.collect() that finds nothing. Same as benches/collector.rs
`w8_pyperf_gc_traversal`. `objects` in the RESULT line counts edges.
"""

from common import parse_args, quiet_heap, report, timed_collect

N_LEVELS = 1000


def create_recursive_containers(n_levels):
    current_list = []
    for n in range(n_levels):
        new_list = [None] * n
        for index in range(n):
            new_list[index] = current_list
        current_list = new_list
    return current_list


def main():
    args = parse_args(50, __doc__)
    quiet_heap()
    root = create_recursive_containers(N_LEVELS)
    times = []
    for _ in range(args.runs):
        timed_collect()
        ms, found = timed_collect()
        assert found == 0, found
        times.append(ms)
    edges = N_LEVELS * (N_LEVELS - 1) // 2
    report("w8_pyperf_gc_traversal", "cpython", times, edges, freed=0)
    del root


if __name__ == "__main__":
    main()
