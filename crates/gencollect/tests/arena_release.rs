//! What happens to the arenas a collection empties: they are set aside during the pause,
//! reused first by whatever allocates meanwhile (destructors, callbacks), and handed back to
//! the system once the collection ends, even when user code panics in it. Each test runs on
//! its own thread, so its heap holds only what the test built.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use refcount::{Gc, alloc_stats};

mod common {
    pub(crate) mod arenas;
}
use common::arenas::{Node, ON_LAST_DROP, garbage, node, on_thread, twenty_arenas};

thread_local! {
    /// Objects the last node's destructor made, kept alive.
    static MADE: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
}

#[test]
fn a_collection_gives_back_the_arenas_its_garbage_emptied_but_the_spare() {
    on_thread(|| {
        gencollect::disable();
        garbage(twenty_arenas(), true);
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
        garbage(twenty_arenas(), true);
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
        garbage(twenty_arenas(), true);
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
