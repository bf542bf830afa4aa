//! What happens to the arenas a collection empties: they are set aside during the pause,
//! reused first by whatever allocates meanwhile (destructors, callbacks), and handed back to
//! the system once the collection ends, even when user code panics in it. Each test runs on
//! its own thread, so its heap holds only what the test built.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};

use gcrt_derive::Trace;
use refcount::{Gc, alloc_stats};

/// A 64-byte-class object in two-node cycles; what its destructor does is set per thread.
#[derive(Trace)]
#[trace(crate = "refcount")]
struct Node {
    next: RefCell<Option<Gc<Node>>>,
    #[trace(skip)]
    _pad: [u64; 4],
    #[trace(skip)]
    last: bool,
}

thread_local! {
    /// What the last node's destructor does.
    static ON_LAST_DROP: Cell<Option<fn()>> = const { Cell::new(None) };
    /// Objects that destructor made, kept alive.
    static MADE: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
}

impl Drop for Node {
    fn drop(&mut self) {
        if self.last
            && let Some(f) = ON_LAST_DROP.with(|c| c.get())
        {
            f();
        }
    }
}

fn node(last: bool) -> Gc<Node> {
    Gc::new(Node {
        next: RefCell::new(None),
        _pad: [0; 4],
        last,
    })
}

/// Builds `pairs` unreachable two-node cycles; the first node made is `last` (a collection
/// drops the newest garbage first).
fn garbage(pairs: usize) {
    for i in 0..pairs {
        let a = node(i == 0);
        let b = node(false);
        *a.next.borrow_mut() = Some(b.clone());
        *b.next.borrow_mut() = Some(a);
    }
}

/// Enough pairs to fill about 20 arenas (1 MiB each; 4 pools under Miri).
fn twenty_arenas() -> usize {
    let per_arena = rawalloc::ARENA_SIZE / 64;
    10 * per_arena
}

fn on_thread(f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(f).join().unwrap();
}

#[test]
fn a_collection_gives_back_the_arenas_its_garbage_emptied_but_the_spare() {
    on_thread(|| {
        gencollect::disable();
        garbage(twenty_arenas());
        let held = alloc_stats().arenas_held;
        assert!(held >= 20, "{held} arenas");
        let freed = alloc_stats().arenas_freed;
        assert_eq!(gencollect::collect(), 2 * twenty_arenas());
        let s = alloc_stats();
        assert_eq!(
            (s.arenas_held, s.arenas_freed - freed, s.arenas_retired),
            (1, held - 1, 0)
        );
    });
}

#[test]
fn a_destructor_that_allocates_in_the_pause_reuses_the_emptied_arenas() {
    on_thread(|| {
        gencollect::disable();
        // The last destructor, which runs once every other node is freed, makes as many
        // nodes as the garbage had, minus one pair: they fit in the arenas just emptied.
        ON_LAST_DROP.with(|c| {
            c.set(Some(|| {
                MADE.with(|m| {
                    let mut m = m.borrow_mut();
                    for _ in 0..2 * (twenty_arenas() - 1) {
                        m.push(node(false));
                    }
                })
            }))
        });
        garbage(twenty_arenas());
        let allocated = alloc_stats().arenas_allocated;
        assert_eq!(gencollect::collect(), 2 * twenty_arenas());
        assert_eq!(MADE.with(|m| m.borrow().len()), 2 * (twenty_arenas() - 1));
        let s = alloc_stats();
        assert_eq!(
            s.arenas_allocated, allocated,
            "no arena taken from the system"
        );
        assert_eq!(s.arenas_retired, 0);
        MADE.with(|m| m.borrow_mut().clear());
        ON_LAST_DROP.with(|c| c.set(None));
    });
}

#[test]
fn a_panicking_destructor_leaves_no_arena_set_aside_and_releases_resume() {
    on_thread(|| {
        gencollect::disable();
        ON_LAST_DROP.with(|c| c.set(Some(|| panic!("boom"))));
        garbage(twenty_arenas());
        let r = catch_unwind(AssertUnwindSafe(gencollect::collect));
        assert!(r.is_err(), "the destructor's panic reaches the caller");
        ON_LAST_DROP.with(|c| c.set(None));
        let s = alloc_stats();
        assert_eq!((s.arenas_held, s.arenas_retired), (1, 0));
        // Outside a collection, frees give arenas back at once again.
        let kept: Vec<Gc<Node>> = (0..2 * twenty_arenas()).map(|_| node(false)).collect();
        let freed = alloc_stats().arenas_freed;
        drop(kept);
        let s = alloc_stats();
        assert_eq!(s.arenas_retired, 0);
        assert!(
            s.arenas_freed - freed >= 19,
            "{} given back",
            s.arenas_freed - freed
        );
    });
}
