"""W7: pyperformance's bm_gc_collect shape: 100 rings of a head plus 20 nodes, doubly linked
(2,100 dead objects); each run does an untimed gc.collect(), the build, `del`, and one timed
gc.collect(). Same as benches/collector.rs `w7_pyperf_gc_collect`.

Rows: pyperformance's plain Node class (the reference row) and the same class with
`__slots__`.
"""

from common import parse_args, quiet_heap, report, timed_collect

N_CYCLES = 100
N_LINKS = 20


class Node:
    def __init__(self):
        self.next = None
        self.prev = None

    def link_next(self, next):
        self.next = next
        self.next.prev = self


class SlotsNode:
    __slots__ = ("next", "prev")

    def __init__(self):
        self.next = None
        self.prev = None

    def link_next(self, next):
        self.next = next
        self.next.prev = self


def create_cycle(node, n_links, cls):
    current = node
    for _ in range(n_links):
        next_node = cls()
        current.link_next(next_node)
        current = next_node
    current.link_next(node)


def create_gc_cycles(n_cycles, n_links, cls):
    cycles = []
    for _ in range(n_cycles):
        node = cls()
        cycles.append(node)
        create_cycle(node, n_links, cls)
    return cycles


def run(cls, runs):
    times = []
    for _ in range(runs):
        timed_collect()
        all_cycles = create_gc_cycles(N_CYCLES, N_LINKS, cls)
        del all_cycles
        ms, found = timed_collect()
        assert found == N_CYCLES * (N_LINKS + 1), found
        times.append(ms)
    return times


def main():
    args = parse_args(200, __doc__)
    quiet_heap()
    objects = N_CYCLES * (N_LINKS + 1)
    report("w7_pyperf_gc_collect", "cpython", run(Node, args.runs), objects, cls="plain")
    report("w7_pyperf_gc_collect", "cpython_slots", run(SlotsNode, args.runs), objects, cls="slots")


if __name__ == "__main__":
    main()
