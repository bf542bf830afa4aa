//! The inspection tools on graphs of known shapes: referents and referrers of several
//! objects, why an object is alive (counts and the chain to what holds it), and the DOT
//! dump; and a hostile `Drop` that inspects a member of the garbage being freed.

use std::cell::{Cell, RefCell};

use gcrt_derive::Trace;
use gencollect::{dump_dot, get_referents_of, get_referrers_of, why_alive};
use refcount::{AnyGc, Gc};

#[derive(Trace)]
#[trace(crate = "refcount")]
struct N {
    next: RefCell<Vec<Gc<N>>>,
}

fn n(_id: u32) -> Gc<N> {
    Gc::new(N {
        next: RefCell::new(Vec::new()),
    })
}

fn link(a: &Gc<N>, b: &Gc<N>) {
    a.next.borrow_mut().push(b.clone());
}

#[test]
fn referents_and_referrers_of_several_objects() {
    gencollect::collect();
    let (a, b, c) = (n(1), n(2), n(3));
    link(&a, &c);
    link(&b, &c);
    link(&b, &a);
    let referents = get_referents_of(&[AnyGc::from(a.clone()), AnyGc::from(b.clone())]);
    assert_eq!(referents.len(), 3, "c from a; c and a from b");
    let referrers = get_referrers_of(&[AnyGc::from(c.clone()), AnyGc::from(a.clone())]);
    assert_eq!(referrers.len(), 2);
    assert!(
        referrers.contains(&AnyGc::from(a.clone())) && referrers.contains(&AnyGc::from(b.clone()))
    );
    assert!(get_referrers_of(&[AnyGc::from(b.clone())]).is_empty());
}

#[test]
fn why_alive_follows_the_chain_to_what_holds_it() {
    gencollect::collect();
    let root = n(0);
    let (x, y, target) = (n(1), n(2), n(3));
    link(&root, &x);
    link(&x, &y);
    link(&y, &target);
    link(&y, &target); // two references from y
    let any = AnyGc::from(target);
    drop((x, y));
    let report = why_alive(&any);
    assert_eq!(report.ref_count, 2);
    assert_eq!((report.from_tracked, report.from_outside), (2, 0));
    let chain: Vec<(&str, usize)> = report
        .chain
        .iter()
        .map(|l| (l.type_name.rsplit("::").next().unwrap(), l.from_outside))
        .collect();
    assert_eq!(chain, [("N", 0), ("N", 0), ("N", 0), ("N", 1)]);
    assert_eq!(
        report.chain[3].addr,
        AnyGc::from(root.clone()).as_obj().addr()
    );
    assert!(!report.is_garbage());
    let text = report.to_string();
    assert!(
        text.contains("2 references, 2 from tracked objects, 0 from outside"),
        "{text}"
    );
    assert!(text.contains("(held from outside: 1)"), "{text}");
    drop(root); // frees root, x and y by refcounting
    let report = why_alive(&any);
    assert_eq!((report.ref_count, report.from_tracked), (0, 0));
    assert!(report.is_garbage());
    assert!(
        report
            .to_string()
            .contains("held only by the handle passed in")
    );
}

#[test]
fn why_alive_of_an_object_held_directly_and_of_a_cycle() {
    gencollect::collect();
    let held = n(1);
    let report = why_alive(&AnyGc::from(held.clone()));
    assert_eq!((report.ref_count, report.from_outside), (1, 1));
    assert_eq!(report.chain.len(), 1);

    let (a, b) = (n(2), n(3));
    link(&a, &b);
    link(&b, &a);
    let any = AnyGc::from(a.clone());
    drop((a, b));
    let report = why_alive(&any);
    assert!(report.is_garbage(), "{report}");
    assert!(report.to_string().contains("kept only by a cycle"));
    drop(any);
    assert_eq!(gencollect::collect(), 2);
    drop(held);
}

#[test]
#[cfg_attr(miri, ignore = "an immortal object is a deliberate leak")]
fn why_alive_of_an_immortal_object() {
    let forever = Gc::new_immortal(5u64);
    let report = why_alive(&AnyGc::from(forever));
    assert_eq!(report.ref_count, usize::MAX);
    assert_eq!(report.chain[0].from_outside, usize::MAX);
    assert!(report.to_string().contains("(immortal)"));
}

#[test]
fn the_dot_dump_draws_what_the_roots_reach_up_to_the_limit() {
    gencollect::collect();
    let (a, b, c) = (n(1), n(2), n(3));
    link(&a, &b);
    link(&a, &c);
    link(&b, &c);
    link(&c, &a);
    let dot = dump_dot(Some(&[AnyGc::from(a.clone())]), 100);
    assert_eq!(dot.matches("[label=").count(), 3, "{dot}");
    assert_eq!(dot.matches(" -> ").count(), 4, "{dot}");
    assert_eq!(
        dot.matches("style=bold").count(),
        3,
        "a, b and c are all held here"
    );
    let small = dump_dot(Some(&[AnyGc::from(a.clone())]), 2);
    assert_eq!(
        small.matches("[label=").count(),
        3,
        "two nodes and the note: {small}"
    );
    assert!(small.contains("1 more objects not drawn"), "{small}");
    let all = dump_dot(None, 1000);
    assert!(all.matches("[label=").count() >= 3);
    // b and c are held only through a; a by the local `a` (the root's handle is not
    // counted): one bold node.
    drop((b, c));
    let dot = dump_dot(Some(&[AnyGc::from(a.clone())]), 100);
    assert_eq!(dot.matches("style=bold").count(), 1, "{dot}");
    a.next.borrow_mut().clear();
}

/// A `Drop` of garbage inspects another member (dead: its value may already be dropped).
/// The tools must not trace a dead value (Miri checks this file in CI).
#[test]
fn inspecting_a_dead_member_of_garbage_from_a_drop_reads_nothing_of_its_value() {
    thread_local! {
        static SEEN: Cell<(usize, bool)> = const { Cell::new((usize::MAX, false)) };
    }
    #[derive(Trace)]
    #[trace(crate = "refcount")]
    struct D {
        other: RefCell<Option<Gc<D>>>,
    }
    impl Drop for D {
        fn drop(&mut self) {
            if let Some(o) = self.other.borrow().as_ref() {
                let any = AnyGc::from(o.clone());
                let referents = get_referents_of(std::slice::from_ref(&any)).len();
                let dot = dump_dot(Some(std::slice::from_ref(&any)), 10);
                let report = why_alive(&any);
                SEEN.with(|s| s.set((referents, dot.contains("digraph") && report.ref_count > 0)));
            }
        }
    }
    gencollect::collect();
    let a = Gc::new(D {
        other: RefCell::new(None),
    });
    let b = Gc::new(D {
        other: RefCell::new(Some(a.clone())),
    });
    *a.other.borrow_mut() = Some(b.clone());
    drop((a, b));
    assert_eq!(gencollect::collect(), 2);
    assert_eq!(
        SEEN.with(Cell::get),
        (0, true),
        "a dead member reports no referents"
    );
}

#[test]
fn dot_edges_are_labelled_with_the_fields_of_types_that_say_so() {
    #[derive(Trace)]
    #[trace(crate = "refcount", labels)]
    struct Doc {
        pages: RefCell<Vec<Gc<Doc>>>,
        parent: RefCell<Option<Gc<Doc>>>,
    }
    #[derive(Trace)]
    #[trace(crate = "refcount", labels)]
    enum E {
        Pair(Gc<Doc>, #[trace(skip)] u8),
    }
    let doc = || {
        Gc::new(Doc {
            pages: RefCell::new(Vec::new()),
            parent: RefCell::new(None),
        })
    };
    let (root, page) = (doc(), doc());
    root.pages.borrow_mut().push(page.clone());
    *page.parent.borrow_mut() = Some(root.clone());
    let dot = dump_dot(Some(&[AnyGc::from(root.clone())]), 10);
    assert_eq!(dot.matches("[label=\"pages\"]").count(), 1, "{dot}");
    assert_eq!(dot.matches("[label=\"parent\"]").count(), 1, "{dot}");
    let e = Gc::new(E::Pair(root.clone(), 7));
    let E::Pair(_, seven) = &*e;
    assert_eq!(*seven, 7);
    let dot = dump_dot(Some(&[AnyGc::from(e)]), 10);
    assert_eq!(dot.matches("[label=\"0\"]").count(), 1, "{dot}");
    page.parent.borrow_mut().take();
}
