"""W5: a full gc.collect() over 1,000,000 live objects that frees nothing.

Same shape as benches/collector.rs `w5_live_1m`: 500,000 two-node cycles of `__slots__`
Nodes, every handle held by one root list. Built once; each run times one collection.
"""

from common import parse_args, quiet_heap, report, timed_collect

OBJECTS = 1_000_000


class Node:
    __slots__ = ("val", "next")

    def __init__(self, val, next):
        self.val = val
        self.next = next


def main():
    args = parse_args(11, __doc__)
    quiet_heap()
    root = []
    for i in range(OBJECTS // 2):
        a = Node(2 * i, None)
        b = Node(2 * i + 1, a)
        a.next = b
        root.append(a)
        root.append(b)
    del a, b
    times = []
    for _ in range(args.runs):
        ms, found = timed_collect()
        assert found == 0, found
        times.append(ms)
    report("w5_live_1m", "cpython", times, OBJECTS, freed=0)
    del root


if __name__ == "__main__":
    main()
