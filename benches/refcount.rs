//! Refcounting costs of gcrt's `Gc` against `std::rc::Rc` and `Box`, side by side.
//!
//! Every group holds the same object shape for each system:
//! `struct Node { val: i64, next: RefCell<Option<P<Node>>> }` (a *tracked* object for gcrt,
//! since it can hold a `Gc`).
//!
//! * `new_drop`: allocate one node and drop it at once, in a loop (one object per
//!   iteration). gcrt's automatic collection stays at its defaults: a new+drop loop keeps
//!   generation 0's count near 0, so no collection runs. The bench checks this with
//!   `gc::get_stats` and prints the number of collections it saw (expected: 0).
//! * `clone_drop`: clone a handle and drop the clone (one clone per iteration).
//! * `chain_1m`: build a 1,000,000-node singly linked chain by prepending, then drop it
//!   (time of build + drop, per chain). `Rc` and `Box` would overflow the stack with their
//!   natural recursive drop, so they unlink iteratively; gcrt is measured both with its
//!   natural drop (its deferred-free queue bounds the recursion) and with the same
//!   iterative unlink, each with automatic collection at its defaults and disabled.
//! * `unsized_access`: through handles to unsized values, as users of `Rc<dyn Trait>` and
//!   `Rc<[T]>` meet them: `dyn_call` calls a trait method through each of 1,000
//!   `Gc<dyn Shape>` (two concrete types, alternating) and sums the results; `slice_loop`
//!   sums a 1,000-item `Gc<[u64]>` by index in a plain loop (the compiler may check the
//!   handle once), and `slice_index` does the same with each index opaque to the compiler,
//!   so that every item is read through the handle anew. Per element.
//!
//! Run: `CARGO_TARGET_DIR=… cargo bench --bench refcount` (see `benches/README.md`).

use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use gcrt::{Gc, Trace, gc};

/// The tracked small node, on gcrt's heap.
#[derive(Trace)]
struct GcNode {
    val: i64,
    next: RefCell<Option<Gc<GcNode>>>,
}

/// The same shape on `std::rc::Rc`.
struct RcNode {
    val: i64,
    next: RefCell<Option<Rc<RcNode>>>,
}

/// The same shape on `Box`.
struct BoxNode {
    val: i64,
    next: RefCell<Option<Box<BoxNode>>>,
}

const CHAIN: usize = 1_000_000;

fn new_drop(c: &mut Criterion) {
    let mut group = c.benchmark_group("new_drop");
    group.throughput(Throughput::Elements(1));

    gc::enable();
    let before = gc::get_stats();
    group.bench_function(BenchmarkId::from_parameter("gcrt"), |b| {
        let mut i = 0i64;
        b.iter(|| {
            i += 1;
            let p = Gc::new(GcNode {
                val: i,
                next: RefCell::new(None),
            });
            black_box(&p);
            drop(p);
        });
    });
    let after = gc::get_stats();
    let runs: usize = (0..3)
        .map(|g| after[g].collections - before[g].collections)
        .sum();
    eprintln!(
        "new_drop/gcrt: automatic collections during the bench: {runs} (count0 now {})",
        gc::get_count().0
    );

    group.bench_function(BenchmarkId::from_parameter("rc"), |b| {
        let mut i = 0i64;
        b.iter(|| {
            i += 1;
            let p = Rc::new(RcNode {
                val: i,
                next: RefCell::new(None),
            });
            black_box(&p);
            drop(p);
        });
    });

    group.bench_function(BenchmarkId::from_parameter("box"), |b| {
        let mut i = 0i64;
        b.iter(|| {
            i += 1;
            let p = Box::new(BoxNode {
                val: i,
                next: RefCell::new(None),
            });
            black_box(&p);
            drop(p);
        });
    });
    group.finish();
}

fn clone_drop(c: &mut Criterion) {
    let mut group = c.benchmark_group("clone_drop");
    group.throughput(Throughput::Elements(1));

    let g = Gc::new(GcNode {
        val: 1,
        next: RefCell::new(None),
    });
    group.bench_function(BenchmarkId::from_parameter("gcrt"), |b| {
        b.iter(|| {
            let c = black_box(&g).clone();
            black_box(&c);
            drop(c);
        });
    });
    assert_eq!(Gc::ref_count(&g), 1);

    let r = Rc::new(RcNode {
        val: 1,
        next: RefCell::new(None),
    });
    group.bench_function(BenchmarkId::from_parameter("rc"), |b| {
        b.iter(|| {
            let c = black_box(&r).clone();
            black_box(&c);
            drop(c);
        });
    });
    assert_eq!(Rc::strong_count(&r), 1);
    black_box((g.val, r.val));
    group.finish();
}

fn gc_chain(n: usize) -> Gc<GcNode> {
    let mut head = Gc::new(GcNode {
        val: 0,
        next: RefCell::new(None),
    });
    for i in 1..n {
        head = Gc::new(GcNode {
            val: i as i64,
            next: RefCell::new(Some(head)),
        });
    }
    head
}

fn gc_unlink(head: Gc<GcNode>) {
    let mut cur = Some(head);
    while let Some(n) = cur {
        cur = n.next.borrow_mut().take();
    }
}

fn rc_chain(n: usize) -> Rc<RcNode> {
    let mut head = Rc::new(RcNode {
        val: 0,
        next: RefCell::new(None),
    });
    for i in 1..n {
        head = Rc::new(RcNode {
            val: i as i64,
            next: RefCell::new(Some(head)),
        });
    }
    head
}

fn box_chain(n: usize) -> Box<BoxNode> {
    let mut head = Box::new(BoxNode {
        val: 0,
        next: RefCell::new(None),
    });
    for i in 1..n {
        head = Box::new(BoxNode {
            val: i as i64,
            next: RefCell::new(Some(head)),
        });
    }
    head
}

fn chain(c: &mut Criterion) {
    let mut group = c.benchmark_group("chain_1m");
    group.throughput(Throughput::Elements(CHAIN as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));

    gc::enable();
    group.bench_function(BenchmarkId::from_parameter("gcrt natural drop"), |b| {
        b.iter(|| drop(black_box(gc_chain(CHAIN))));
    });
    group.bench_function(BenchmarkId::from_parameter("gcrt iterative unlink"), |b| {
        b.iter(|| gc_unlink(black_box(gc_chain(CHAIN))));
    });
    {
        let _off = gc::DisabledGuard::new();
        group.bench_function(
            BenchmarkId::from_parameter("gcrt natural drop, gc disabled"),
            |b| {
                b.iter(|| drop(black_box(gc_chain(CHAIN))));
            },
        );
    }
    group.bench_function(BenchmarkId::from_parameter("rc iterative unlink"), |b| {
        b.iter(|| {
            let mut cur = Some(black_box(rc_chain(CHAIN)));
            while let Some(n) = cur {
                cur = n.next.borrow_mut().take();
            }
        });
    });
    group.bench_function(BenchmarkId::from_parameter("box iterative unlink"), |b| {
        b.iter(|| {
            let mut cur = Some(black_box(box_chain(CHAIN)));
            while let Some(n) = cur {
                black_box(n.val);
                cur = n.next.borrow_mut().take();
            }
        });
    });
    group.finish();
}

/// The trait the `dyn_call` bench calls through.
trait Shape: Trace {
    fn area(&self) -> f64;
}

#[derive(Trace)]
struct Square(f64);

#[derive(Trace)]
struct Circle(f64);

impl Shape for Square {
    fn area(&self) -> f64 {
        self.0 * self.0
    }
}

impl Shape for Circle {
    fn area(&self) -> f64 {
        3.0 * self.0 * self.0
    }
}

const UNSIZED_ITEMS: usize = 1_000;

fn unsized_access(c: &mut Criterion) {
    let mut group = c.benchmark_group("unsized_access");
    group.throughput(Throughput::Elements(UNSIZED_ITEMS as u64));
    let gc_shapes: Vec<Gc<dyn Shape>> = (0..UNSIZED_ITEMS)
        .map(|i| match i % 2 {
            0 => gcrt::coerce_gc!(Gc::new(Square(i as f64)) => dyn Shape),
            _ => gcrt::coerce_gc!(Gc::new(Circle(i as f64)) => dyn Shape),
        })
        .collect();
    let rc_shapes: Vec<Rc<dyn Shape>> = (0..UNSIZED_ITEMS)
        .map(|i| -> Rc<dyn Shape> {
            match i % 2 {
                0 => Rc::new(Square(i as f64)),
                _ => Rc::new(Circle(i as f64)),
            }
        })
        .collect();
    group.bench_function("dyn_call/gcrt", |b| {
        b.iter(|| black_box(&gc_shapes).iter().map(|s| s.area()).sum::<f64>())
    });
    group.bench_function("dyn_call/rc", |b| {
        b.iter(|| black_box(&rc_shapes).iter().map(|s| s.area()).sum::<f64>())
    });
    let gc_slice: Gc<[u64]> = (0..UNSIZED_ITEMS as u64).collect();
    let rc_slice: Rc<[u64]> = (0..UNSIZED_ITEMS as u64).collect();
    group.bench_function("slice_loop/gcrt", |b| {
        b.iter(|| {
            let s = black_box(&gc_slice);
            (0..s.len()).map(|i| s[i]).sum::<u64>()
        })
    });
    group.bench_function("slice_loop/rc", |b| {
        b.iter(|| {
            let s = black_box(&rc_slice);
            (0..s.len()).map(|i| s[i]).sum::<u64>()
        })
    });
    group.bench_function("slice_index/gcrt", |b| {
        b.iter(|| {
            let s = black_box(&gc_slice);
            (0..UNSIZED_ITEMS).map(|i| s[black_box(i)]).sum::<u64>()
        })
    });
    group.bench_function("slice_index/rc", |b| {
        b.iter(|| {
            let s = black_box(&rc_slice);
            (0..UNSIZED_ITEMS).map(|i| s[black_box(i)]).sum::<u64>()
        })
    });
    group.finish();
}

/// The generated `benches` function has no doc comment of its own.
mod group {
    #![allow(missing_docs)]
    use super::{chain, clone_drop, new_drop, unsized_access};
    criterion::criterion_group!(benches, new_drop, clone_drop, chain, unsized_access);
}
use group::benches;

criterion_main!(benches);
