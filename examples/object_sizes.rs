//! Bytes per object of gcrt's built-in types, counted as CPython's `sys.getsizeof` plus its
//! GC header counts them: the object's block on gcrt's heap (header included) plus the
//! buffers it owns on the system heap (a str's text, a list's items, a dict's tables), not
//! the objects it refers to. Prints one `SIZE` line per type, which `benches/compare_objects.py`
//! sets beside CPython's.
//!
//! ```sh
//! cargo run --release --example object_sizes
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use gcrt::{gc, objects::Value};

/// The system allocator, counting the bytes in use (requested sizes).
struct Counting;

static SYSTEM_BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        SYSTEM_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: per the caller.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        SYSTEM_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: per the caller.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes in use on gcrt's heap and on the system heap.
fn in_use() -> usize {
    gc::alloc_stats().bytes_in_use + SYSTEM_BYTES.load(Ordering::Relaxed)
}

/// Average bytes of one object made by `make`, over `n` of them kept alive at once.
fn per_object(n: usize, make: impl Fn(usize) -> Value) -> f64 {
    gc::collect();
    let mut keep = Vec::with_capacity(n);
    let before = in_use();
    for i in 0..n {
        keep.push(make(i));
    }
    let after = in_use();
    drop(keep);
    // (The vector's own buffer was allocated before the first reading.)
    (after - before) as f64 / n as f64
}

fn main() {
    // Warm up what is allocated once (the small-int cache, the empty tuple, the class).
    let _warm = (Value::from(0), Value::tuple([]));
    let class = Value::class("Three");
    let n = 10_000;
    type Make = Box<dyn Fn(usize) -> Value>;
    let rows: [(&str, Make); 8] = [
        ("int", Box::new(|i| Value::from(1000 + i as i64))),
        ("float", Box::new(|i| Value::from(i as f64))),
        (
            "str10",
            Box::new(|i| Value::from(format!("{:010}", i).as_str())),
        ),
        ("list0", Box::new(|_| Value::list([]))),
        ("list8", Box::new(|_| Value::list((1..=8).map(Value::from)))),
        (
            "tuple2",
            Box::new(|_| Value::tuple([Value::from(1), Value::from(2)])),
        ),
        (
            "dict1",
            Box::new(|_| {
                let d = Value::dict();
                d.set_item(Value::from(1), Value::from(2)).unwrap();
                d
            }),
        ),
        (
            "instance3",
            Box::new(move |i| {
                let o = class.instantiate().unwrap();
                o.set_attr("a", Value::from((i & 127) as i64)).unwrap();
                o.set_attr("b", Value::none()).unwrap();
                o.set_attr("c", Value::from(true)).unwrap();
                o
            }),
        ),
    ];
    for (name, make) in &rows {
        println!(
            "SIZE type={name} system=gcrt bytes={:.1}",
            per_object(n, make)
        );
    }
}
