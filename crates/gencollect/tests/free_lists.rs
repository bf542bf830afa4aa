//! Per-type free lists (`Trace::free_list`, `#[trace(free_list = N)]`): blocks of dead
//! objects wait in their type's list up to its capacity, new objects take them back, the
//! statistics count both, and full collections empty the lists (as CPython's do).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gcrt_derive::Trace;
use refcount::{Finalize, Gc, Weak, free_list_stats};

mod common {
    pub(crate) mod free_lists;
}
use common::free_lists::stats;

#[derive(Trace)]
#[trace(crate = "refcount", free_list = 3)]
struct Atom {
    v: u64,
}

#[derive(Trace)]
#[trace(crate = "refcount", free_list = 10)]
struct Node {
    id: u32,
    next: RefCell<Option<Gc<Node>>>,
    #[trace(skip)]
    drops: Rc<Cell<u32>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

impl Finalize for Atom {
    fn finalize(&self) {}
}

fn node(id: u32, drops: &Rc<Cell<u32>>) -> Gc<Node> {
    Gc::new(Node {
        id,
        next: RefCell::new(None),
        drops: drops.clone(),
    })
}

#[test]
fn dead_blocks_wait_in_the_list_up_to_its_capacity_and_are_reused_last_in_first_out() {
    gencollect::collect();
    let atoms: Vec<_> = (0..5).map(|v| Gc::new(Atom { v })).collect();
    let s = stats("Atom", 0);
    assert_eq!(
        (s.capacity, s.block_size),
        (3, 24),
        "16-byte header + the u64"
    );
    assert_eq!(
        (s.from_allocator, s.from_free_list, s.live, s.cached),
        (5, 0, 5, 0)
    );
    let last = Gc::as_ptr(&atoms[2]) as usize; // dropped last of the three kept
    drop(atoms);
    let s = stats("Atom", 0);
    assert_eq!(
        (s.live, s.cached),
        (0, 3),
        "two blocks went back to the allocator"
    );
    assert_eq!(s.cached_bytes(), 72);

    let again: Vec<_> = (10..14).map(|v| Gc::new(Atom { v })).collect();
    assert_eq!(
        Gc::as_ptr(&again[0]) as usize,
        last,
        "the block freed last is taken first"
    );
    assert_eq!(again.iter().map(|a| a.v).sum::<u64>(), 46);
    let s = stats("Atom", 0);
    assert_eq!(
        (s.from_allocator, s.from_free_list, s.live, s.cached),
        (6, 3, 4, 0)
    );
    assert_eq!(s.live_bytes(), 96);
    drop(again);
    assert_eq!(stats("Atom", 0).cached, 3);

    // A young collection keeps the lists; a full one empties them.
    gencollect::collect_generation(0).unwrap();
    assert_eq!(stats("Atom", 0).cached, 3);
    gencollect::collect();
    let s = stats("Atom", 0);
    assert_eq!((s.live, s.cached), (0, 0));
    assert!(
        gencollect::alloc_report().contains("Atom"),
        "the report lists the free lists"
    );
}

#[test]
fn blocks_of_collected_cycles_and_of_objects_freed_after_their_weak_references() {
    gencollect::collect();
    let drops = Rc::new(Cell::new(0));
    let (a, b) = (node(1, &drops), node(2, &drops));
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    let weak: Weak<Node> = Gc::downgrade(&a);
    drop((a, b));
    assert_eq!(gencollect::collect_generation(0).unwrap(), 2);
    assert_eq!(drops.get(), 2);
    let s = stats("Node", 0);
    assert_eq!(
        (s.live, s.cached),
        (1, 1),
        "a's block waits for its weak reference"
    );
    drop(weak);
    let s = stats("Node", 0);
    assert_eq!((s.live, s.cached), (0, 2));
    let c = node(3, &drops);
    assert_eq!(c.id, 3);
    assert_eq!(stats("Node", 0).from_free_list, 1);
    drop(c);
    gencollect::collect();
    assert_eq!(stats("Node", 0).cached, 0);
    assert_eq!(drops.get(), 3);
}

#[test]
fn an_atomic_type_with_a_finalizer_has_a_list_for_its_larger_block() {
    gencollect::collect();
    let plain = Gc::new(Atom { v: 1 });
    let fin = Gc::new_with_finalizer(Atom { v: 2 });
    assert_eq!(fin.v + plain.v, 3);
    drop((plain, fin));
    let lists: Vec<_> = free_list_stats()
        .into_iter()
        .filter(|s| s.type_name.ends_with("Atom"))
        .map(|s| (s.block_size, s.cached))
        .collect();
    assert_eq!(
        lists,
        [(24, 1), (32, 1)],
        "the extension (for the FINALIZED flag) makes it 8 bytes longer"
    );
}
