//! `rawalloc` is the raw allocator of a gcrt private heap: it hands out and
//! takes back blocks of memory, fast, and knows nothing of the objects
//! stored in them.
//!
//! It follows CPython's `obmalloc`:
//!
//! * requests of at most [`SMALL_REQUEST_THRESHOLD`] bytes (alignment at
//!   most [`ALIGNMENT`]) are rounded up to one of [`NUM_SIZE_CLASSES`] size
//!   classes ([`size_class()`]);
//! * each class is served from [`POOL_SIZE`] pools, each pool cut into
//!   blocks of one class, with an intrusive LIFO free list;
//! * pools are carved from [`ARENA_SIZE`] arenas taken from
//!   [`std::alloc::System`]; an emptied pool goes back to its arena for any
//!   class to reuse (the most recent one lazily, so alloc/free loops stay on
//!   the fast path), and empty arenas go back to the system, one spare
//!   excepted, or are set aside to be given back later, maybe on another
//!   thread ([`RetiredArenas`]);
//! * bigger or more aligned requests go to the system allocator directly;
//! * [`Allocator::alloc_immortal`] serves memory that is never freed while
//!   the heap lives, from a bump region;
//! * large side tables (a collector's) can ask for huge pages
//!   ([`reserve_in_huge_pages`]), so that writing them the first time does
//!   not take a page fault per 4 KiB.
//!
//! One [`Allocator`] serves one heap on one thread.
//!
//! ```
//! use std::alloc::Layout;
//! use rawalloc::Allocator;
//!
//! let mut heap = Allocator::new();
//! let layout = Layout::from_size_align(24, 8).unwrap();
//! let p = heap.alloc(layout);
//! assert_eq!(heap.stats().blocks_in_use[rawalloc::size_class(24).unwrap()], 1);
//! // SAFETY: `p` came from `heap` with `layout` and is freed once.
//! unsafe { heap.dealloc(p, layout) };
//! assert_eq!(heap.bytes_in_use(), 0);
//! ```

mod allocator;
mod arena;
mod error;
mod huge_pages;
mod immortal;
mod large;
mod pool;
mod retired;
mod size_class;
mod stats;

pub use allocator::Allocator;
pub use arena::ARENA_SIZE;
pub use error::{AllocError, AllocErrorKind};
pub use huge_pages::{
    HUGE_PAGE, HUGE_TABLE_MIN, advise_huge_pages, huge_slack, reserve_in_huge_pages,
};
pub use pool::{POOL_SIZE, blocks_per_pool};
pub use retired::RetiredArenas;
pub use size_class::{
    ALIGNMENT, NUM_SIZE_CLASSES, SMALL_REQUEST_THRESHOLD, class_size, size_class,
};
pub use stats::Stats;
