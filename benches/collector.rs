//! The cycle collector against the Rust peers (gcmodule 0.3.3, rust-cc 0.6.2, dumpster 2.1.0
//! `unsync`, bacon_rajan_cc 0.4.0) and `std::rc::Rc`, on the workloads of
//! `shared/reference/peer-baselines.md`.
//!
//! The workload bodies are written once (the `workloads!` and `binary_trees!` macros) and
//! expanded in one module per system, so every system runs the same code on the same
//! object shapes; only the handle type `P`, the `Trace` impls, `collect_now`, `auto_off`
//! and `auto_default` differ. Every object with a `Drop` bumps a thread-local counter, and
//! each run checks how many objects the timed collection freed.
//!
//! Only the collection is timed (`iter_custom`): building the heap and dropping the
//! handles happen outside the timed region, with automatic collection off.
//!
//! * `w3_cycles_1m`: 500,000 two-node garbage cycles (1,000,000 objects); one collection.
//! * `w4_ring_1m`: one garbage ring of 1,000,000 nodes; one collection. dumpster and
//!   bacon_rajan_cc overflow the stack on it (recursive marking) and are skipped.
//! * `w5_live_1m`: 500,000 live two-node cycles held by a root; one full collection that
//!   frees nothing. The candidate-buffer peers (rust-cc, dumpster, bacon_rajan_cc) run twice:
//!   "no candidates" (no count was ever decremented, so they trace nothing) and "all
//!   candidates" (every object was put in their buffer before each timed collection).
//!   gcrt runs three times: at its defaults (a full collection analyses what objects
//!   decremented since the last one reach: here nothing), "every object dirty" (each
//!   object's count was decremented before each collection, like "all candidates"), and
//!   "full scan" (`gc::set_full_scan(true)`: every object analysed, as CPython does); and
//!   "0.1 % dirty" (one object in 1,000 decremented before each collection: the analysis
//!   covers those and what they reach).
//! * `w7_pyperf_gc_collect`: pyperformance's `gc_collect` shape, 100 rings of a head plus
//!   20 nodes, doubly linked (2,100 dead objects); an untimed full collection, the build,
//!   then one timed collection.
//! * `w8_pyperf_gc_traversal`: pyperformance's `gc_traversal` shape, 1,000 list objects, list
//!   n holding n handles to list n-1 (499,500 edges, all live); an untimed collection, then
//!   one timed collection that finds nothing. Same two variants as `w5` for the peers, and
//!   gcrt at its defaults and with the full scan.
//! * `w6_binary_trees_16`: the Benchmarks Game binary-trees program at depth 16
//!   (14,985,902 nodes allocated), every system at its *default* collection policy; the
//!   whole program is timed. `Rc` and `Box` run the same program.
//!
//! Run: `CARGO_TARGET_DIR=… cargo bench --bench collector` (see `benches/README.md`);
//! `benches/compare.py` adds CPython 3.11 and prints the ratio tables.

use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{Bencher, BenchmarkGroup, Criterion, SamplingMode, Throughput};

thread_local! {
    static DROPS: Cell<u64> = const { Cell::new(0) };
}

/// Counts one dropped benchmark object.
#[inline]
fn note_drop() {
    DROPS.with(|d| d.set(d.get() + 1));
}

/// Benchmark objects dropped so far on this thread.
fn drops() -> u64 {
    DROPS.with(|d| d.get())
}

/// Objects in `w3` (as two-node cycles).
const CYCLE_OBJECTS: usize = 1_000_000;
/// Nodes in the `w4` ring.
const RING: usize = 1_000_000;
/// Live objects in `w5` (as two-node cycles).
const LIVE_OBJECTS: usize = 1_000_000;
/// pyperformance `create_gc_cycles(100, 20)`.
const PY_CYCLES: usize = 100;
const PY_LINKS: usize = 20;
/// pyperformance `create_recursive_containers(1000)`.
const TRAVERSAL_LEVELS: usize = 1000;
/// Binary trees: maximum and minimum depth.
const BT_MAX: u32 = 16;
const BT_MIN: u32 = 4;
/// Nodes the binary-trees program allocates at depth 16 (also its checksum).
const BT_NODES: u64 = 14_985_902;

/// The object shapes, identical for every system; `$attr` adds a derive where the system
/// has one that fits.
macro_rules! shapes {
    ($(#[$attr:meta])*) => {
        $(#[$attr])*
        pub(crate) struct Node {
            #[allow(dead_code)]
            pub(crate) val: i64,
            pub(crate) next: RefCell<Option<P<Node>>>,
        }
        impl Drop for Node {
            fn drop(&mut self) {
                crate::note_drop();
            }
        }

        $(#[$attr])*
        pub(crate) struct RingNode {
            pub(crate) next: RefCell<Option<P<RingNode>>>,
            pub(crate) prev: RefCell<Option<P<RingNode>>>,
        }
        impl Drop for RingNode {
            fn drop(&mut self) {
                crate::note_drop();
            }
        }

        $(#[$attr])*
        pub(crate) struct ListObj {
            pub(crate) items: RefCell<Vec<P<ListObj>>>,
        }
        impl Drop for ListObj {
            fn drop(&mut self) {
                crate::note_drop();
            }
        }

        $(#[$attr])*
        pub(crate) struct Root {
            pub(crate) items: RefCell<Vec<P<Node>>>,
        }

        $(#[$attr])*
        pub(crate) struct Tree {
            pub(crate) l: Option<P<Tree>>,
            pub(crate) r: Option<P<Tree>>,
        }

        pub(crate) fn node(val: i64, next: Option<P<Node>>) -> P<Node> {
            P::new(Node {
                val,
                next: RefCell::new(next),
            })
        }
    };
}

/// The binary-trees program (the Benchmarks Game algorithm), for any handle type.
macro_rules! binary_trees {
    () => {
        fn bottom_up(depth: u32) -> P<Tree> {
            if depth == 0 {
                P::new(Tree { l: None, r: None })
            } else {
                P::new(Tree {
                    l: Some(bottom_up(depth - 1)),
                    r: Some(bottom_up(depth - 1)),
                })
            }
        }

        fn check(t: &Tree) -> u64 {
            1 + t.l.as_deref().map_or(0, check) + t.r.as_deref().map_or(0, check)
        }

        /// Runs the whole program at the system's default collection policy; returns
        /// its time and checks the node count.
        pub(crate) fn binary_trees() -> Duration {
            auto_default();
            let start = Instant::now();
            let stretch = bottom_up(BT_MAX + 1);
            let mut sum = check(&stretch);
            drop(stretch);
            let long_lived = bottom_up(BT_MAX);
            let mut depth = BT_MIN;
            while depth <= BT_MAX {
                let iterations = 1u64 << (BT_MAX - depth + BT_MIN);
                for _ in 0..iterations {
                    let t = bottom_up(depth);
                    sum += check(&t);
                }
                depth += 2;
            }
            sum += check(&long_lived);
            drop(long_lived);
            let elapsed = start.elapsed();
            assert_eq!(black_box(sum), BT_NODES);
            elapsed
        }
    };
}

/// The collector workloads, for a system with a cycle collector.
macro_rules! workloads {
    () => {
        /// Checks that the timed collection freed exactly `expected` objects.
        fn check_freed(what: &str, before: u64, expected: usize) {
            let freed = crate::drops() - before;
            assert_eq!(
                freed,
                expected as u64,
                "{}: {what}: the collection freed {freed} objects, expected {expected}",
                module_path!()
            );
        }

        /// Builds `objects / 2` two-node cycles, holding every handle in a flat Vec.
        fn build_pairs(objects: usize, candidates: bool) -> Vec<P<Node>> {
            let mut v = Vec::with_capacity(objects);
            for i in 0..objects / 2 {
                let a = node(2 * i as i64, None);
                let b = node(2 * i as i64 + 1, Some(a.clone()));
                *a.next.borrow_mut() = Some(b.clone());
                if candidates {
                    v.push(a.clone());
                    v.push(b.clone());
                } else {
                    v.push(a);
                    v.push(b);
                }
            }
            v
        }

        /// w3: one collection of `objects` garbage objects in two-node cycles.
        pub(crate) fn cycles(objects: usize) -> Duration {
            auto_off();
            let handles = build_pairs(objects, false);
            let before = crate::drops();
            drop(handles);
            check_freed("dropping the handles", before, 0);
            let t = Instant::now();
            collect_now();
            let elapsed = t.elapsed();
            check_freed("w3 cycles", before, objects);
            elapsed
        }

        /// w4: one collection of one garbage ring of `n` nodes, built by prepending.
        #[allow(dead_code)] // dumpster and bacon_rajan_cc overflow the stack on it
        pub(crate) fn ring(n: usize) -> Duration {
            auto_off();
            let tail = node(0, None);
            let mut head = tail.clone();
            for i in 1..n {
                head = node(i as i64, Some(head));
            }
            *tail.next.borrow_mut() = Some(head);
            let before = crate::drops();
            drop(tail);
            check_freed("dropping the handles", before, 0);
            let t = Instant::now();
            collect_now();
            let elapsed = t.elapsed();
            check_freed("w4 ring", before, n);
            elapsed
        }

        /// w5: builds `objects` live objects (two-node cycles) held by one root.
        /// `candidates`: every object's count was decremented to non-zero once.
        pub(crate) fn live_build(objects: usize, candidates: bool) -> P<Root> {
            auto_off();
            collect_now();
            P::new(Root {
                items: RefCell::new(build_pairs(objects, candidates)),
            })
        }

        /// w5: one full collection over the live heap (untimed first: re-buffer every
        /// object as a candidate when `candidates`).
        pub(crate) fn live_collect(root: &P<Root>, candidates: bool) -> Duration {
            if candidates {
                for item in root.items.borrow().iter() {
                    drop(black_box(item.clone()));
                }
            }
            let before = crate::drops();
            let t = Instant::now();
            collect_now();
            let elapsed = t.elapsed();
            check_freed("w5 live heap", before, 0);
            elapsed
        }

        /// w5: frees the live heap (untimed).
        pub(crate) fn live_teardown(root: P<Root>) {
            let n = root.items.borrow().len();
            let before = crate::drops();
            drop(root);
            collect_now();
            check_freed("w5 teardown", before, n);
        }

        fn link_next(a: &P<RingNode>, b: &P<RingNode>) {
            *a.next.borrow_mut() = Some(b.clone());
            *b.prev.borrow_mut() = Some(a.clone());
        }

        fn ring_node() -> P<RingNode> {
            P::new(RingNode {
                next: RefCell::new(None),
                prev: RefCell::new(None),
            })
        }

        /// w7: pyperformance's gc_collect loop body: an untimed full collection, the
        /// build (`create_gc_cycles(100, 20)`), dropping the list, one timed collection.
        pub(crate) fn pyperf_gc_collect() -> Duration {
            auto_off();
            collect_now();
            let mut cycles = Vec::new();
            for _ in 0..PY_CYCLES {
                let node = ring_node();
                cycles.push(node.clone());
                let mut current = node.clone();
                for _ in 0..PY_LINKS {
                    let next = ring_node();
                    link_next(&current, &next);
                    current = next;
                }
                link_next(&current, &node);
            }
            let before = crate::drops();
            drop(cycles);
            let t = Instant::now();
            collect_now();
            let elapsed = t.elapsed();
            check_freed("w7 gc_collect", before, PY_CYCLES * (PY_LINKS + 1));
            elapsed
        }

        /// w8: pyperformance's `create_recursive_containers(levels)`.
        pub(crate) fn traversal_build(levels: usize) -> P<ListObj> {
            auto_off();
            collect_now();
            let mut current = P::new(ListObj {
                items: RefCell::new(Vec::new()),
            });
            for n in 1..levels {
                let mut items = Vec::with_capacity(n);
                for _ in 1..n {
                    items.push(current.clone());
                }
                items.push(current);
                current = P::new(ListObj {
                    items: RefCell::new(items),
                });
            }
            current
        }

        /// w8: an untimed collection, then (when `candidates`) a walk that puts every
        /// list in the candidate buffer, then one timed collection that finds nothing.
        pub(crate) fn traversal_collect(root: &P<ListObj>, candidates: bool) -> Duration {
            collect_now();
            if candidates {
                let mut cur = root.clone();
                loop {
                    let next = cur.items.borrow().first().cloned();
                    drop(cur);
                    match next {
                        Some(n) => cur = n,
                        None => break,
                    }
                }
            }
            let before = crate::drops();
            let t = Instant::now();
            collect_now();
            let elapsed = t.elapsed();
            check_freed("w8 gc_traversal", before, 0);
            elapsed
        }

        /// w8: frees the lists (untimed).
        pub(crate) fn traversal_teardown(root: P<ListObj>, levels: usize) {
            let before = crate::drops();
            drop(root);
            collect_now();
            check_freed("w8 teardown", before, levels);
        }
    };
}

/// gcrt: `Gc`, `#[derive(gcrt::Trace)]`, `gc::collect()`, `gc::disable()`/`gc::enable()`.
mod sys_gcrt {
    use super::*;
    use gcrt::gc;

    pub(crate) type P<T> = gcrt::Gc<T>;

    shapes!(#[derive(gcrt::Trace)]);

    fn collect_now() {
        gc::collect();
    }
    fn auto_off() {
        gc::disable();
    }
    pub(crate) fn auto_default() {
        gc::enable();
        assert_eq!(gc::get_threshold(), (2000, 10, 10));
    }

    workloads!();
    binary_trees!();
}

/// gcmodule: `Cc`, hand-written `Trace` (its derive recurses forever on recursive types),
/// `collect_thread_cycles()`; it never collects on its own.
mod sys_gcmodule {
    use super::*;

    pub(crate) type P<T> = gcmodule::Cc<T>;

    shapes!();

    macro_rules! trace {
        ($($ty:ident { $($field:ident),* })*) => {$(
            impl gcmodule::Trace for $ty {
                fn trace(&self, t: &mut gcmodule::Tracer) {
                    $(gcmodule::Trace::trace(&self.$field, t);)*
                }
                fn is_type_tracked() -> bool {
                    true
                }
            }
        )*};
    }
    trace!(Node { next } RingNode { next, prev } ListObj { items } Root { items } Tree { l, r });

    fn collect_now() {
        gcmodule::collect_thread_cycles();
    }
    fn auto_off() {}
    pub(crate) fn auto_default() {}

    workloads!();
    binary_trees!();
}

/// rust-cc: `Cc`, hand-written `Trace` + `Finalize` (its derive forbids a user `Drop`),
/// `collect_cycles()`, `set_auto_collect`.
mod sys_rust_cc {
    use super::*;

    pub(crate) type P<T> = rust_cc::Cc<T>;

    shapes!();

    macro_rules! trace {
        ($($ty:ident { $($field:ident),* })*) => {$(
            // SAFETY: reports exactly the handles the fields own, the same on every call.
            unsafe impl rust_cc::Trace for $ty {
                fn trace(&self, ctx: &mut rust_cc::Context<'_>) {
                    $(rust_cc::Trace::trace(&self.$field, ctx);)*
                }
            }
            impl rust_cc::Finalize for $ty {}
        )*};
    }
    trace!(Node { next } RingNode { next, prev } ListObj { items } Root { items } Tree { l, r });

    fn collect_now() {
        rust_cc::collect_cycles();
    }
    fn auto_off() {
        rust_cc::config::config(|c| c.set_auto_collect(false)).expect("rust-cc config");
    }
    pub(crate) fn auto_default() {
        rust_cc::config::config(|c| c.set_auto_collect(true)).expect("rust-cc config");
    }

    workloads!();
    binary_trees!();
}

/// dumpster (`unsync`): `Gc`, hand-written `TraceWith` (what its derive writes; the derive
/// itself does not work on items made by `macro_rules!`), `collect()`,
/// `set_collect_condition`.
mod sys_dumpster {
    use super::*;
    use dumpster::unsync::{CollectInfo, default_collect_condition, set_collect_condition};

    pub(crate) type P<T> = dumpster::unsync::Gc<T>;

    shapes!();

    macro_rules! trace {
        ($($ty:ident { $($field:ident),* })*) => {$(
            // SAFETY: visits exactly the handles the fields own.
            unsafe impl<V: dumpster::Visitor> dumpster::TraceWith<V> for $ty {
                fn accept(&self, visitor: &mut V) -> Result<(), ()> {
                    $(dumpster::TraceWith::<V>::accept(&self.$field, visitor)?;)*
                    Ok(())
                }
            }
        )*};
    }
    trace!(Node { next } RingNode { next, prev } ListObj { items } Root { items } Tree { l, r });

    fn never(_: &CollectInfo) -> bool {
        false
    }
    fn collect_now() {
        dumpster::unsync::collect();
    }
    fn auto_off() {
        set_collect_condition(never);
    }
    pub(crate) fn auto_default() {
        set_collect_condition(default_collect_condition);
    }

    workloads!();
    binary_trees!();
}

/// bacon_rajan_cc: `Cc`, hand-written `Trace` (no published derive), `collect_cycles()`;
/// it never collects on its own.
mod sys_bacon {
    use super::*;

    pub(crate) type P<T> = bacon_rajan_cc::Cc<T>;

    shapes!();

    macro_rules! trace {
        ($($ty:ident { $($field:ident),* })*) => {$(
            impl bacon_rajan_cc::Trace for $ty {
                fn trace(&self, t: &mut bacon_rajan_cc::Tracer) {
                    $(bacon_rajan_cc::Trace::trace(&self.$field, t);)*
                }
            }
        )*};
    }
    trace!(Node { next } RingNode { next, prev } ListObj { items } Root { items } Tree { l, r });

    fn collect_now() {
        bacon_rajan_cc::collect_cycles();
    }
    fn auto_off() {}
    pub(crate) fn auto_default() {}

    workloads!();
    binary_trees!();
}

/// `std::rc::Rc`: no collector. The reference rows break the cycles by hand.
#[allow(dead_code)] // the shapes only the collector workloads use
mod sys_rc {
    use super::*;

    pub(crate) type P<T> = std::rc::Rc<T>;

    shapes!();

    pub(crate) fn auto_default() {}

    binary_trees!();

    /// w3 floor: break every two-node cycle by hand, then drop the handles (timed).
    pub(crate) fn cycles_manual_break(objects: usize) -> Duration {
        let mut v = Vec::with_capacity(objects);
        for i in 0..objects / 2 {
            let a = node(2 * i as i64, None);
            let b = node(2 * i as i64 + 1, Some(a.clone()));
            *a.next.borrow_mut() = Some(b.clone());
            v.push(a);
            v.push(b);
        }
        let before = crate::drops();
        let t = Instant::now();
        for a in v.iter().step_by(2) {
            a.next.borrow_mut().take();
        }
        drop(v);
        let elapsed = t.elapsed();
        assert_eq!(crate::drops() - before, objects as u64);
        elapsed
    }

    /// w4 floor: break the ring and free it iteratively (timed).
    pub(crate) fn ring_manual_break(n: usize) -> Duration {
        let tail = node(0, None);
        let mut head = tail.clone();
        for i in 1..n {
            head = node(i as i64, Some(head));
        }
        *tail.next.borrow_mut() = Some(head);
        let before = crate::drops();
        let t = Instant::now();
        let mut cur = tail.next.borrow_mut().take();
        drop(tail);
        while let Some(n) = cur {
            cur = n.next.borrow_mut().take();
        }
        let elapsed = t.elapsed();
        assert_eq!(crate::drops() - before, n as u64);
        elapsed
    }
}

/// `Box`: the binary-trees floor (no refcount at all).
#[allow(dead_code)] // the shapes only the collector workloads use
mod sys_box {
    use super::*;

    pub(crate) type P<T> = Box<T>;

    shapes!();

    pub(crate) fn auto_default() {}

    binary_trees!();
}

/// Runs `f` with gcrt's count pass kept on this thread (`gc::set_parallel(false)`): the
/// rows named "one thread" measure what a collection costs on one core.
fn one_thread<R>(f: impl FnOnce() -> R) -> R {
    gcrt::gc::set_parallel(false);
    let r = f();
    gcrt::gc::set_parallel(true);
    r
}

/// Times only what `f` returns, once per iteration.
fn timed(b: &mut Bencher<'_>, mut f: impl FnMut() -> Duration) {
    b.iter_custom(|iters| (0..iters).map(|_| f()).sum());
}

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
    objects: u64,
    samples: usize,
    measure_ms: u64,
) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(samples)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(measure_ms))
        .throughput(Throughput::Elements(objects));
    g
}

fn w3_cycles(c: &mut Criterion) {
    let n = CYCLE_OBJECTS;
    let mut g = group(c, "w3_cycles_1m", n as u64, 10, 1000);
    g.bench_function("gcrt", |b| timed(b, || sys_gcrt::cycles(n)));
    g.bench_function("gcrt, one thread", |b| {
        one_thread(|| timed(b, || sys_gcrt::cycles(n)))
    });
    g.bench_function("gcmodule", |b| timed(b, || sys_gcmodule::cycles(n)));
    g.bench_function("rust-cc", |b| timed(b, || sys_rust_cc::cycles(n)));
    g.bench_function("dumpster", |b| timed(b, || sys_dumpster::cycles(n)));
    g.bench_function("bacon_rajan_cc", |b| timed(b, || sys_bacon::cycles(n)));
    g.bench_function("Rc manual break (floor)", |b| {
        timed(b, || sys_rc::cycles_manual_break(n))
    });
    g.finish();
}

fn w4_ring(c: &mut Criterion) {
    let n = RING;
    let mut g = group(c, "w4_ring_1m", n as u64, 10, 1000);
    g.bench_function("gcrt", |b| timed(b, || sys_gcrt::ring(n)));
    g.bench_function("gcrt, one thread", |b| {
        one_thread(|| timed(b, || sys_gcrt::ring(n)))
    });
    g.bench_function("gcmodule", |b| timed(b, || sys_gcmodule::ring(n)));
    g.bench_function("rust-cc", |b| timed(b, || sys_rust_cc::ring(n)));
    // dumpster and bacon_rajan_cc: stack overflow (recursive marking), skipped.
    g.bench_function("Rc manual break (floor)", |b| {
        timed(b, || sys_rc::ring_manual_break(n))
    });
    g.finish();
}

/// Benchmarks one system's w5 (build once, time repeated full collections).
macro_rules! live {
    ($g:ident, $name:expr, $sys:ident, $candidates:expr) => {{
        let root = $sys::live_build(LIVE_OBJECTS, $candidates);
        $g.bench_function($name, |b| {
            timed(b, || $sys::live_collect(&root, $candidates))
        });
        $sys::live_teardown(root);
    }};
}

fn w5_live(c: &mut Criterion) {
    let mut g = group(c, "w5_live_1m", LIVE_OBJECTS as u64, 10, 1000);
    live!(g, "gcrt", sys_gcrt, false);
    // Every object decremented before each collection: the whole heap is analysed.
    live!(g, "gcrt, every object dirty", sys_gcrt, true);
    // CPython's way: every full collection analyses every object.
    gcrt::gc::set_full_scan(true);
    live!(g, "gcrt, full scan", sys_gcrt, false);
    one_thread(|| live!(g, "gcrt, full scan, one thread", sys_gcrt, false));
    gcrt::gc::set_full_scan(false);
    // Between the two: one object in 1,000 (and its partner) changed since the last one.
    let root = sys_gcrt::live_build(LIVE_OBJECTS, false);
    g.bench_function("gcrt, 0.1 % dirty", |b| {
        timed(b, || {
            for item in root.items.borrow().iter().step_by(1000) {
                drop(black_box(item.clone()));
            }
            let t = Instant::now();
            assert_eq!(gcrt::gc::collect(), 0);
            t.elapsed()
        })
    });
    sys_gcrt::live_teardown(root);
    live!(g, "gcmodule", sys_gcmodule, false);
    live!(g, "rust-cc, all candidates", sys_rust_cc, true);
    live!(g, "rust-cc, no candidates", sys_rust_cc, false);
    live!(g, "dumpster, all candidates", sys_dumpster, true);
    live!(g, "dumpster, no candidates", sys_dumpster, false);
    live!(g, "bacon_rajan_cc, all candidates", sys_bacon, true);
    live!(g, "bacon_rajan_cc, no candidates", sys_bacon, false);
    g.finish();
}

fn w7_gc_collect(c: &mut Criterion) {
    let objects = (PY_CYCLES * (PY_LINKS + 1)) as u64;
    let mut g = group(c, "w7_pyperf_gc_collect", objects, 30, 1500);
    g.bench_function("gcrt", |b| timed(b, sys_gcrt::pyperf_gc_collect));
    g.bench_function("gcmodule", |b| timed(b, sys_gcmodule::pyperf_gc_collect));
    g.bench_function("rust-cc", |b| timed(b, sys_rust_cc::pyperf_gc_collect));
    g.bench_function("dumpster", |b| timed(b, sys_dumpster::pyperf_gc_collect));
    g.bench_function("bacon_rajan_cc", |b| timed(b, sys_bacon::pyperf_gc_collect));
    g.finish();
}

/// Benchmarks one system's w8 (build once, time repeated full collections).
macro_rules! traversal {
    ($g:ident, $name:expr, $sys:ident, $candidates:expr) => {{
        let root = $sys::traversal_build(TRAVERSAL_LEVELS);
        $g.bench_function($name, |b| {
            timed(b, || $sys::traversal_collect(&root, $candidates))
        });
        $sys::traversal_teardown(root, TRAVERSAL_LEVELS);
    }};
}

fn w8_gc_traversal(c: &mut Criterion) {
    let edges = (TRAVERSAL_LEVELS * (TRAVERSAL_LEVELS - 1) / 2) as u64;
    let mut g = group(c, "w8_pyperf_gc_traversal", edges, 20, 1500);
    traversal!(g, "gcrt", sys_gcrt, false);
    gcrt::gc::set_full_scan(true);
    traversal!(g, "gcrt, full scan", sys_gcrt, false);
    gcrt::gc::set_full_scan(false);
    traversal!(g, "gcmodule", sys_gcmodule, false);
    traversal!(g, "rust-cc, all candidates", sys_rust_cc, true);
    traversal!(g, "rust-cc, no candidates", sys_rust_cc, false);
    traversal!(g, "dumpster, all candidates", sys_dumpster, true);
    traversal!(g, "dumpster, no candidates", sys_dumpster, false);
    traversal!(g, "bacon_rajan_cc, all candidates", sys_bacon, true);
    traversal!(g, "bacon_rajan_cc, no candidates", sys_bacon, false);
    g.finish();
}

fn w6_binary_trees(c: &mut Criterion) {
    let mut g = group(c, "w6_binary_trees_16", BT_NODES, 10, 2000);
    let before = gcrt::gc::get_stats();
    g.bench_function("gcrt", |b| timed(b, sys_gcrt::binary_trees));
    let after = gcrt::gc::get_stats();
    eprintln!(
        "w6_binary_trees_16/gcrt: automatic collections per generation during the bench: {:?}",
        [0, 1, 2].map(|i| after[i].collections - before[i].collections)
    );
    g.bench_function("Rc", |b| timed(b, sys_rc::binary_trees));
    g.bench_function("Box", |b| timed(b, sys_box::binary_trees));
    g.bench_function("gcmodule", |b| timed(b, sys_gcmodule::binary_trees));
    g.bench_function("rust-cc", |b| timed(b, sys_rust_cc::binary_trees));
    g.bench_function("dumpster", |b| timed(b, sys_dumpster::binary_trees));
    g.bench_function("bacon_rajan_cc", |b| timed(b, sys_bacon::binary_trees));
    g.finish();
}

/// The generated `benches` function has no doc comment of its own.
mod group {
    #![allow(missing_docs)]
    use super::{w3_cycles, w4_ring, w5_live, w6_binary_trees, w7_gc_collect, w8_gc_traversal};
    criterion::criterion_group!(
        benches,
        w3_cycles,
        w4_ring,
        w5_live,
        w7_gc_collect,
        w8_gc_traversal,
        w6_binary_trees
    );
}
use group::benches;

// The fresh-process mode (`GCRT_COLD`, run by `benches/cold.py`).
#[path = "collector/cold.rs"]
mod cold;

fn main() {
    if cold::child() {
        return;
    }
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
