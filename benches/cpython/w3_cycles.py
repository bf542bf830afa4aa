"""W3: one gc.collect() of 1,000,000 objects in 500,000 two-node garbage cycles.

Same shape as benches/collector.rs `w3_cycles_1m`: a `__slots__` Node (val, next), pairs
a.next = b, b.next = a, the handles in a flat list that is deleted before the timed
collection. Rebuilt for every run.
"""

from common import parse_args, quiet_heap, report, timed_collect

OBJECTS = 1_000_000


class Node:
    __slots__ = ("val", "next")

    def __init__(self, val, next):
        self.val = val
        self.next = next


def build(objects):
    handles = []
    for i in range(objects // 2):
        a = Node(2 * i, None)
        b = Node(2 * i + 1, a)
        a.next = b
        handles.append(a)
        handles.append(b)
    return handles


def main():
    args = parse_args(11, __doc__)
    quiet_heap()
    times = []
    for _ in range(args.runs):
        handles = build(OBJECTS)
        del handles
        ms, found = timed_collect()
        assert found == OBJECTS, found
        times.append(ms)
    report("w3_cycles_1m", "cpython", times, OBJECTS, freed=OBJECTS)


if __name__ == "__main__":
    main()
