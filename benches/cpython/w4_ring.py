"""W4: one gc.collect() of a single garbage ring of 1,000,000 nodes.

Same shape as benches/collector.rs `w4_ring_1m`: built by prepending, closed by
tail.next = head, both names deleted before the timed collection. Rebuilt for every run.
"""

from common import parse_args, quiet_heap, report, timed_collect

NODES = 1_000_000


class Node:
    __slots__ = ("val", "next")

    def __init__(self, val, next):
        self.val = val
        self.next = next


def build(n):
    tail = Node(0, None)
    head = tail
    for i in range(1, n):
        head = Node(i, head)
    tail.next = head


def main():
    args = parse_args(11, __doc__)
    quiet_heap()
    times = []
    for _ in range(args.runs):
        build(NODES)
        ms, found = timed_collect()
        assert found == NODES, found
        times.append(ms)
    report("w4_ring_1m", "cpython", times, NODES, freed=NODES)


if __name__ == "__main__":
    main()
