//! A leak hunt with gcrt's inspection tools: memory that does not come back, found with
//! `gc::why_alive` and drawn with `gc::dump_dot`. docs/debugging.md walks through its output.
//!
//! ```sh
//! cargo run --example leak_hunt
//! ```

use std::cell::RefCell;

use gcrt::{AnyGc, Gc, Trace, gc};

/// A document: pages, and a cache of rendered pages shared by all documents.
#[derive(Trace)]
#[trace(labels)]
struct Document {
    title: String,
    pages: RefCell<Vec<Gc<Page>>>,
}

#[derive(Trace)]
#[trace(labels)]
struct Page {
    _number: u32,
    /// The bug: a page keeps its document alive through the cache's entries.
    rendered: RefCell<Option<Gc<CacheEntry>>>,
}

#[derive(Trace)]
#[trace(labels)]
struct CacheEntry {
    owner: Gc<Document>,
}

thread_local! {
    /// A cache held in a thread-local: outside the tracked heap.
    static CACHE: RefCell<Vec<Gc<CacheEntry>>> = const { RefCell::new(Vec::new()) };
}

fn open(title: &str) -> Gc<Document> {
    let doc = Gc::new(Document {
        title: title.into(),
        pages: RefCell::new(Vec::new()),
    });
    for number in 1..=2 {
        let page = Gc::new(Page {
            _number: number,
            rendered: RefCell::new(None),
        });
        let entry = Gc::new(CacheEntry { owner: doc.clone() });
        *page.rendered.borrow_mut() = Some(entry.clone());
        CACHE.with(|c| c.borrow_mut().push(entry));
        doc.pages.borrow_mut().push(page);
    }
    doc
}

fn main() {
    let doc = open("report.txt");
    // A handle to inspect the second page with (the tools do not count it).
    let page = AnyGc::from(doc.pages.borrow()[1].clone());
    println!(
        "opened {:?} with {} pages",
        doc.title,
        doc.pages.borrow().len()
    );
    drop(doc);
    // The document was closed, yet a full collection frees nothing: something holds it.
    println!("collected after closing: {}", gc::collect());

    // Why is the page still alive?
    println!("\nwhy_alive(page):\n{}", gc::why_alive(&page));
    // The chain ends at a CacheEntry held from outside the heap: the thread-local cache.

    println!("what the page reaches, as Graphviz DOT:\n");
    println!("{}", gc::dump_dot(Some(std::slice::from_ref(&page)), 20));

    // The fix: drop the cache's entries; the document, its pages and entries form cycles
    // that the collector then frees.
    CACHE.with(|c| c.borrow_mut().clear());
    drop(page);
    println!("collected after clearing the cache: {}", gc::collect());
}
