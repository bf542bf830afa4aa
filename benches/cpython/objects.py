"""The CPython side of benches/objects.rs (see its header for the workloads), and the bytes
per object that examples/object_sizes.rs measures for gcrt.

Rows:
  obj_gc_collect     100 rings of 21 instances (next/prev); one timed gc.collect() per run
                     (systems: cpython, a plain class; cpython_slots, with __slots__)
  obj_gc_traversal   1,000 lists, list n holding n references to list n-1; a timed
                     gc.collect() that finds nothing
  obj_btree          a 200,000-key B-tree of instances with parent links; each run rebuilds
                     every fifth node above the leaves (with new leaves), then one timed
                     gc.collect() frees the old ones
  obj_churn/<shape>  create and drop 1,000,000 objects of a shape (ms for the million)
  SIZE lines         sys.getsizeof plus the 16-byte GC header for tracked objects, and what
                     each object owns that sys.getsizeof does not count (an instance's __dict__)
"""

import gc
import sys
import time

from common import parse_args, quiet_heap, report, timed_collect

RINGS, RING_LEN = 100, 21
LEVELS = 1000
BTREE_KEYS, ORDER = 200_000, 16
CHURN = 1_000_000


class Node:
    pass


class SlotsNode:
    __slots__ = ("next", "prev")


def gc_collect(cls, runs):
    times = []
    for _ in range(runs):
        gc.collect()
        heads = []
        for _ in range(RINGS):
            head = cls()
            head.next = head.prev = None
            current = head
            for _ in range(RING_LEN - 1):
                nxt = cls()
                nxt.next = None
                current.next = nxt
                nxt.prev = current
                current = nxt
            current.next = head
            head.prev = current
            heads.append(head)
        del heads, head, current, nxt
        ms, found = timed_collect()
        assert found == RINGS * RING_LEN, found
        times.append(ms)
    return times


def recursive_lists(levels):
    current = []
    for n in range(levels):
        current = [current] * n
    return current


class BTreeNode:
    pass


def btree_node(keys, parent):
    n = BTreeNode()
    n.keys = keys
    n.children = []
    n.parent = parent
    return n


def level_over(children):
    out = []
    for i in range(0, len(children), ORDER):
        chunk = children[i:i + ORDER]
        node = btree_node([c.keys[0] for c in chunk], None)
        for c in chunk:
            c.parent = node
            node.children.append(c)
        out.append(node)
    return out


def build_btree():
    keys = list(range(BTREE_KEYS))
    leaves = [btree_node(keys[i:i + ORDER], None) for i in range(0, BTREE_KEYS, ORDER)]
    lowest = level_over(leaves)
    level = lowest
    while len(level) > 1:
        level = level_over(level)
    return level[0], lowest


def rebuild_fifth(lowest, rnd):
    for i, node in enumerate(lowest):
        if (i + rnd) % 5:
            continue
        parent = node.parent
        fresh = btree_node(list(node.keys), parent)
        for leaf in node.children:
            fresh.children.append(btree_node(list(leaf.keys), fresh))
        if parent is not None:
            for j, c in enumerate(parent.children):
                if c is node:
                    parent.children[j] = fresh
        lowest[i] = fresh


def btree(runs):
    root, lowest = build_btree()
    gc.collect()
    times = []
    for rnd in range(1, runs + 1):
        rebuild_fifth(lowest, rnd)
        ms, found = timed_collect()
        assert found > 0, found
        times.append(ms)
    return times


def churn(make, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for i in range(CHURN):
            make(i)
        times.append((time.perf_counter() - t0) * 1e3)
    return times


class Three:
    pass


def three(i):
    o = Three()
    o.a = i & 127
    o.b = None
    o.c = True
    return o


def size(obj):
    return sys.getsizeof(obj) + (16 if gc.is_tracked(obj) else 0)


def sizes():
    inst = three(1)
    rows = [
        ("int", size(1000)),
        ("float", size(1.5)),
        ("str10", size("abcdefghij")),
        ("list0", size([])),
        ("list8", size([1, 2, 3, 4, 5, 6, 7, 8])),
        ("tuple2", size((1, 2))),
        ("dict1", size({1: 2})),
        ("instance3", size(inst) + sys.getsizeof(inst.__dict__)),
    ]
    for name, b in rows:
        print(f"SIZE type={name} system=cpython bytes={b}")


def main():
    args = parse_args(20, __doc__)
    quiet_heap()
    objects = RINGS * RING_LEN
    report("obj_gc_collect", "cpython", gc_collect(Node, args.runs), objects)
    report("obj_gc_collect", "cpython_slots", gc_collect(SlotsNode, args.runs), objects)
    root = recursive_lists(LEVELS)
    times = []
    for _ in range(args.runs):
        gc.collect()
        ms, found = timed_collect()
        assert found == 0
        times.append(ms)
    report("obj_gc_traversal", "cpython", times, LEVELS * (LEVELS - 1) // 2, freed=0)
    del root
    report("obj_btree", "cpython", btree(max(3, args.runs // 2)), BTREE_KEYS)
    shapes = [
        ("int", lambda i: 1000 + i),
        ("float", lambda i: float(i)),
        ("tuple2", lambda i: (i & 127, None)),
        ("list", lambda i: []),
        ("dict1", lambda i: {i & 127: None}),
        ("instance3", three),
    ]
    for name, make in shapes:
        report(f"obj_churn/{name}", "cpython", churn(make, 3), CHURN)
    sizes()


if __name__ == "__main__":
    main()
