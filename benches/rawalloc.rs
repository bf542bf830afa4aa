//! Small-block churn: gcrt's `rawalloc::Allocator` against the system
//! allocator, side by side, for 16-, 32-, 64- and 256-byte blocks.
//!
//! * `churn_batch/N`: 1000 allocations, then 1000 frees in allocation
//!   order (throughput: allocations).
//! * `churn_pair/N`: one allocation immediately freed, in a loop.
//!
//! The project's target: rawalloc takes at most 0.6x the system
//! allocator's time on small-block churn.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::ptr::NonNull;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use rawalloc::Allocator;

const SIZES: [usize; 4] = [16, 32, 64, 256];
const BATCH: usize = 1000;

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).expect("valid layout")
}

fn churn_batch(c: &mut Criterion) {
    for size in SIZES {
        let l = layout(size);
        let mut group = c.benchmark_group(format!("churn_batch/{size}"));
        group.throughput(Throughput::Elements(BATCH as u64));
        let mut blocks: Vec<NonNull<u8>> = Vec::with_capacity(BATCH);

        let mut heap = Allocator::new();
        group.bench_function(BenchmarkId::from_parameter("gcrt"), |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    blocks.push(heap.alloc(black_box(l)));
                }
                for p in blocks.drain(..) {
                    // SAFETY: `p` came from `heap` with `l`, freed once.
                    unsafe { heap.dealloc(black_box(p), l) };
                }
            });
        });

        let mut raw: Vec<*mut u8> = Vec::with_capacity(BATCH);
        group.bench_function(BenchmarkId::from_parameter("system"), |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    // SAFETY: `l` has a nonzero size.
                    let p = unsafe { System.alloc(black_box(l)) };
                    assert!(!p.is_null());
                    raw.push(p);
                }
                for p in raw.drain(..) {
                    // SAFETY: `p` came from `System` with `l`, freed once.
                    unsafe { System.dealloc(black_box(p), l) };
                }
            });
        });
        group.finish();
    }
}

fn churn_pair(c: &mut Criterion) {
    for size in SIZES {
        let l = layout(size);
        let mut group = c.benchmark_group(format!("churn_pair/{size}"));
        group.throughput(Throughput::Elements(1));

        let mut heap = Allocator::new();
        group.bench_function(BenchmarkId::from_parameter("gcrt"), |b| {
            b.iter(|| {
                let p = heap.alloc(black_box(l));
                // SAFETY: `p` came from `heap` with `l`, freed once.
                unsafe { heap.dealloc(black_box(p), l) };
            });
        });

        group.bench_function(BenchmarkId::from_parameter("system"), |b| {
            b.iter(|| {
                // SAFETY: `l` has a nonzero size.
                let p = unsafe { System.alloc(black_box(l)) };
                assert!(!p.is_null());
                // SAFETY: `p` came from `System` with `l`, freed once.
                unsafe { System.dealloc(black_box(p), l) };
            });
        });
        group.finish();
    }
}

/// The generated `benches` function has no doc comment of its own.
mod group {
    #![allow(missing_docs)]
    use super::{churn_batch, churn_pair};
    criterion::criterion_group!(benches, churn_batch, churn_pair);
}
use group::benches;

criterion_main!(benches);
