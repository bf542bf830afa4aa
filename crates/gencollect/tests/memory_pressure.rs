//! Memory held outside the heap, declared with `add_memory_pressure`: counted in
//! `total_memory`, taken back without going below zero, and, past the optional threshold,
//! a trigger for a full collection that frees garbage holding large buffers.

use std::cell::RefCell;

use gcrt_derive::Trace;
use refcount::Gc;

/// An object that owns a large buffer outside the heap and declares it.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Image {
    #[trace(skip)]
    pixels: Vec<u8>,
    peer: RefCell<Option<Gc<Image>>>,
}

impl Image {
    fn new(bytes: usize) -> Gc<Image> {
        gencollect::add_memory_pressure(bytes);
        Gc::new(Image {
            pixels: vec![0; bytes],
            peer: RefCell::new(None),
        })
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        gencollect::remove_memory_pressure(self.pixels.len());
    }
}

#[test]
fn pressure_counts_in_total_memory_and_never_goes_below_zero() {
    gencollect::collect();
    let heap = gencollect::total_memory() - gencollect::memory_pressure();
    assert_eq!(gencollect::memory_pressure(), 0);
    gencollect::add_memory_pressure(1000);
    gencollect::add_memory_pressure(24);
    assert_eq!(gencollect::memory_pressure(), 1024);
    assert_eq!(gencollect::total_memory(), heap + 1024);
    gencollect::remove_memory_pressure(5000);
    assert_eq!(gencollect::memory_pressure(), 0);
}

#[test]
fn past_the_threshold_a_full_collection_frees_cycles_holding_buffers() {
    gencollect::collect();
    gencollect::set_memory_pressure_threshold(Some(3 << 20));
    let full = || gencollect::get_stats()[2].collections;
    let before = full();
    // Two 1 MiB images in a cycle, dropped: only a collection frees their buffers.
    let (a, b) = (Image::new(1 << 20), Image::new(1 << 20));
    *a.peer.borrow_mut() = Some(b.clone());
    *b.peer.borrow_mut() = Some(a.clone());
    drop((a, b));
    assert_eq!(gencollect::memory_pressure(), 2 << 20);
    assert_eq!(full(), before, "2 MiB is below the threshold");
    let c = Image::new(1 << 20); // 3 MiB added since the last full collection
    assert_eq!(full(), before + 1, "a full collection ran");
    assert_eq!(
        gencollect::memory_pressure(),
        1 << 20,
        "the cycle's buffers were freed"
    );
    drop(c);
    assert_eq!(gencollect::memory_pressure(), 0);
    gencollect::set_memory_pressure_threshold(None);
}
