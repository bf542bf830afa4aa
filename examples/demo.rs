//! The main job: builds objects and cycles with default settings and prints what the heap
//! and the collector did.
//!
//! Run with `cargo run --release --example demo`.

use std::cell::RefCell;
use std::rc::Rc;

use gcrt::{Gc, Trace, gc};

#[derive(Trace)]
struct Node {
    id: u64,
    edges: RefCell<Vec<Gc<Node>>>,
}

fn node(id: u64) -> Gc<Node> {
    Gc::new(Node {
        id,
        edges: RefCell::new(Vec::new()),
    })
}

fn main() {
    let collections = Rc::new(RefCell::new(Vec::new()));
    let log = collections.clone();
    gc::register_callback(move |phase, info| {
        if phase == gc::Phase::Stop {
            log.borrow_mut().push(*info);
        }
    });

    println!(
        "gcrt demo: thresholds {:?}, automatic collection {}",
        gc::get_threshold(),
        if gc::is_enabled() { "on" } else { "off" }
    );

    // 1. Acyclic objects die by refcount alone.
    let mut sum = 0;
    for i in 0..100_000 {
        let n = node(i);
        sum += n.id;
    }
    println!("1. 100,000 acyclic nodes allocated and freed by refcounting (sum of ids {sum})");
    println!("   counts after: {:?}", gc::get_count());

    // 2. Garbage cycles: only the collector can free them.
    for i in 0..50_000u64 {
        let a = node(2 * i);
        let b = node(2 * i + 1);
        a.edges.borrow_mut().push(b.clone());
        b.edges.borrow_mut().push(a.clone());
    }
    let automatic: usize = collections.borrow().iter().map(|c| c.collected).sum();
    println!(
        "2. 50,000 two-node cycles dropped: automatic collections so far {} (collected {automatic})",
        collections.borrow().len()
    );
    let found = gc::collect();
    println!("   explicit gc::collect() found {found} unreachable objects");

    // 3. A long-lived structure survives and is promoted.
    let root = node(0);
    for i in 1..10_000 {
        let child = node(i);
        child.edges.borrow_mut().push(root.clone()); // child -> root: cycles through root
        root.edges.borrow_mut().push(child);
    }
    gc::collect_generation(0).unwrap();
    println!(
        "3. a live 10,000-node graph: in generation {:?} after one gen-0 collection",
        gc::get_generation(&root)
    );
    drop(root);
    println!(
        "   dropped the root: full collection found {}",
        gc::collect()
    );

    // 4. A 1,000,000-node chain is freed without recursion.
    let mut head = node(0);
    for i in 1..1_000_000 {
        let n = node(i);
        n.edges.borrow_mut().push(head);
        head = n;
    }
    drop(head);
    println!("4. dropped the head of a 1,000,000-node chain: freed iteratively");

    let stats = gc::get_stats();
    for (g, s) in stats.iter().enumerate() {
        println!(
            "   generation {g}: {} collections, {} collected, {} uncollectable, {:?}",
            s.collections, s.collected, s.uncollectable, s.duration
        );
    }
    println!("heap: {} bytes in use", gc::total_memory());
    println!("{}", gc::alloc_report());
}
