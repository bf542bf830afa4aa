//! Benchmarks of the built-in object types (`gcrt::objects`), side by side with the CPython
//! scripts in `benches/cpython/objects_*.py` (run by `benches/compare.py --objects`):
//!
//! * `obj_gc_collect`: pyperformance's `gc_collect` built from instances: 100 rings of 21
//!   instances of a class with `next` and `prev` attributes; timed: the full collection
//!   that frees them (2,100 objects).
//! * `obj_gc_traversal`: pyperformance's `gc_traversal` built from lists: 1,000 lists, list
//!   n holding n references to list n-1 (499,500 edges, all live); timed: a full
//!   collection over every object (`set_full_scan(true)`, CPython's whole-heap pass) and,
//!   as gcrt runs by default, one that analyses what objects whose count went down reach.
//! * `obj_btree`: a B-tree of 200,000 keys whose nodes are instances (`keys` and
//!   `children` lists, a `parent` attribute: every node is in a cycle with its parent);
//!   each round rebuilds 20 % of the leaves (the old ones become garbage); timed: the full
//!   collection after the rebuild.
//! * `obj_churn`: create and drop 1,000,000 objects of each type (ints past the small-int
//!   cache, floats, 2-tuples, empty lists, 1-entry dicts, instances with 3 attributes),
//!   with free lists and with free lists turned off, and the same shapes built from `Rc`,
//!   `RefCell` and `Box`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{Bencher, BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_main};
use gcrt::gc;
use gcrt::objects::Value;

// The B-tree of the `gcrt` program's `btree` workload.
#[path = "../crates/gcrt-cli/src/workloads/btree.rs"]
mod btree;

const RINGS: usize = 100;
const RING_LEN: usize = 21;
const LEVELS: usize = 1000;
const BTREE_KEYS: i64 = 200_000;
const CHURN: usize = 1_000_000;

fn timed(b: &mut Bencher<'_>, mut f: impl FnMut() -> Duration) {
    b.iter_custom(|iters| (0..iters).map(|_| f()).sum());
}

/// One timed full collection; returns its duration and what it found.
fn timed_collect() -> (Duration, usize) {
    let t = Instant::now();
    let found = gc::collect();
    (t.elapsed(), found)
}

fn gc_collect_once() -> Duration {
    gc::collect();
    let class = Value::class("Node");
    {
        let mut heads = Vec::with_capacity(RINGS);
        for _ in 0..RINGS {
            let head = class.instantiate().unwrap();
            head.set_attr("next", Value::none()).unwrap();
            head.set_attr("prev", Value::none()).unwrap();
            let mut current = head.clone();
            for _ in 0..RING_LEN - 1 {
                let next = class.instantiate().unwrap();
                next.set_attr("next", Value::none()).unwrap();
                current.set_attr("next", next.clone()).unwrap();
                next.set_attr("prev", current).unwrap();
                current = next;
            }
            current.set_attr("next", head.clone()).unwrap();
            head.set_attr("prev", current).unwrap();
            heads.push(head);
        }
    }
    let (t, found) = timed_collect();
    assert_eq!(found, RINGS * RING_LEN);
    t
}

fn recursive_lists(levels: usize) -> Value {
    let mut current = Value::list([]);
    for n in 0..levels {
        current = Value::list((0..n).map(|_| current.clone()));
    }
    current
}

fn bench_collections(c: &mut Criterion) {
    let mut g = c.benchmark_group("obj_gc_collect");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(30)
        .throughput(Throughput::Elements((RINGS * RING_LEN) as u64));
    g.bench_function("gcrt", |b| timed(b, gc_collect_once));
    g.finish();

    let mut g = c.benchmark_group("obj_gc_traversal");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .throughput(Throughput::Elements((LEVELS * (LEVELS - 1) / 2) as u64));
    let root = recursive_lists(LEVELS);
    g.bench_function("gcrt, full scan", |b| {
        gc::set_full_scan(true);
        timed(b, || {
            gc::collect();
            timed_collect().0
        });
        gc::set_full_scan(false);
    });
    g.bench_function("gcrt", |b| {
        timed(b, || {
            gc::collect();
            timed_collect().0
        })
    });
    drop(root);
    g.finish();

    let mut g = c.benchmark_group("obj_btree");
    g.sampling_mode(SamplingMode::Flat).sample_size(10);
    let class = Value::class("BTreeNode");
    let (root, mut lowest) = btree::build(&class, BTREE_KEYS).unwrap();
    gc::collect();
    let mut round = 0;
    g.bench_function("gcrt", |b| {
        timed(b, || {
            round += 1;
            let garbage = btree::rebuild_fifth(&class, &mut lowest, round).unwrap();
            let (t, found) = timed_collect();
            assert_eq!(found, garbage);
            t
        })
    });
    drop((root, lowest));
    g.finish();
}

fn churn_values(b: &mut Bencher<'_>, make: &impl Fn(usize) -> Value) {
    b.iter(|| {
        for i in 0..CHURN {
            black_box(make(i));
        }
    });
}

/// Benches one shape with and without free lists. Generic over `make`, so that each
/// shape's code is compiled (and inlined) for it, as the std shapes' closures are.
fn churn_shape(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, make: impl Fn(usize) -> Value) {
    g.bench_function(format!("{name}/gcrt"), |b| churn_values(b, &make));
    g.bench_function(format!("{name}/gcrt, no free lists"), |b| {
        gc::set_free_lists(false);
        churn_values(b, &make);
        gc::set_free_lists(true);
    });
}

fn bench_churn(c: &mut Criterion) {
    let mut g = c.benchmark_group("obj_churn");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .throughput(Throughput::Elements(CHURN as u64));
    let class = Value::class("Three");
    churn_shape(&mut g, "int", |i| Value::from(1000 + i as i64));
    churn_shape(&mut g, "float", |i| Value::from(i as f64));
    churn_shape(&mut g, "tuple2", |i| {
        Value::tuple([Value::from(i as i64 & 127), Value::none()])
    });
    churn_shape(&mut g, "list", |_| Value::list([]));
    churn_shape(&mut g, "dict1", |i| {
        let d = Value::dict();
        d.set_item(Value::from(i as i64 & 127), Value::none())
            .unwrap();
        d
    });
    churn_shape(&mut g, "instance3", |i| {
        let o = class.instantiate().unwrap();
        o.set_attr("a", Value::from(i as i64 & 127)).unwrap();
        o.set_attr("b", Value::none()).unwrap();
        o.set_attr("c", Value::from(true)).unwrap();
        o
    });
    // The same shapes from the standard library.
    g.bench_function("int/Box", |b| {
        b.iter(|| (0..CHURN).for_each(|i| drop(black_box(Box::new(1000 + i as i64)))))
    });
    g.bench_function("float/Box", |b| {
        b.iter(|| (0..CHURN).for_each(|i| drop(black_box(Box::new(i as f64)))))
    });
    g.bench_function("tuple2/Rc", |b| {
        b.iter(|| (0..CHURN).for_each(|i| drop(black_box(Rc::new((Rc::new(i as i64 & 127), ()))))))
    });
    g.bench_function("list/Rc<RefCell<Vec>>", |b| {
        b.iter(|| {
            (0..CHURN).for_each(|_| drop(black_box(Rc::new(RefCell::new(Vec::<Rc<i64>>::new())))))
        })
    });
    g.bench_function("dict1/Rc<RefCell<HashMap>>", |b| {
        b.iter(|| {
            (0..CHURN).for_each(|i| {
                let mut m = HashMap::new();
                m.insert(i as i64 & 127, ());
                drop(black_box(Rc::new(RefCell::new(m))))
            })
        })
    });
    g.bench_function("instance3/Rc<RefCell<struct>>", |b| {
        struct Three {
            _a: Rc<i64>,
            _b: Option<Rc<i64>>,
            _c: bool,
        }
        b.iter(|| {
            (0..CHURN).for_each(|i| {
                drop(black_box(Rc::new(RefCell::new(Three {
                    _a: Rc::new(i as i64 & 127),
                    _b: None,
                    _c: true,
                }))))
            })
        })
    });
    g.finish();
}

mod harness {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::bench_collections, super::bench_churn);
}

criterion_main!(harness::benches);
