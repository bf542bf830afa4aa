//! Inspection beyond Python's `gc` module: referents and referrers of several objects at
//! once, why an object is alive (its references and the chain of referrers that holds it),
//! and the object graph as Graphviz DOT.

use core::fmt;
use std::collections::{HashMap, VecDeque};

use refcount::engine::{ObjectOps, any_from_obj, flags, try_with_heap};
use refcount::{AnyGc, ObjPtr, Tracer, Visitor};

/// Collects every handle a value reports.
pub(crate) struct Collect(pub(crate) Vec<ObjPtr>);

impl Visitor for Collect {
    fn visit(&mut self, obj: ObjPtr) {
        self.0.push(obj);
    }
}

/// Collects every handle a value reports with the innermost label it is reported under.
#[derive(Default)]
struct CollectLabeled {
    found: Vec<(ObjPtr, Option<&'static str>)>,
    labels: Vec<&'static str>,
}

impl Visitor for CollectLabeled {
    fn visit(&mut self, obj: ObjPtr) {
        self.found.push((obj, self.labels.last().copied()));
    }
    fn enter(&mut self, label: &'static str) {
        self.labels.push(label);
    }
    fn leave(&mut self) {
        self.labels.pop();
    }
}

/// Traces `any`'s value into `visitor`, unless its value is dead (dropped by a collection,
/// or being dropped).
fn trace_into(any: &AnyGc, visitor: &mut dyn Visitor) {
    let obj = any.as_obj();
    // SAFETY: `any` holds the memory.
    let f = unsafe { obj.flags() };
    if any.ref_count() == 0 || f & (flags::DEAD | flags::DROPPING) != 0 {
        return;
    }
    // SAFETY: `any` holds the object and its value is alive (checked above; a strong handle
    // also rules out a live `&mut` from `Gc::get_mut`, which needs the only one).
    unsafe { obj.trace(&mut Tracer::new(visitor)) };
}

/// The objects `any`'s value reports (none if its value is dead).
fn referents_raw(any: &AnyGc) -> Vec<ObjPtr> {
    let mut found = Collect(Vec::new());
    trace_into(any, &mut found);
    found.0
}

/// The objects `any`'s value reports, with their labels ([`Tracer::labeled`]).
fn referents_labeled(any: &AnyGc) -> Vec<(ObjPtr, Option<&'static str>)> {
    let mut found = CollectLabeled::default();
    trace_into(any, &mut found);
    found.found
}

/// What the values of `objects` hold handles to, all together (Python's
/// `gc.get_referents(*objs)`), in order; an object whose value is dead reports nothing.
///
/// ```
/// use std::cell::RefCell;
/// use refcount::{AnyGc, Gc};
/// let a = Gc::new(1u8);
/// let b = Gc::new(RefCell::new(vec![a.clone(), a.clone()]));
/// let c = Gc::new(Some(a.clone()));
/// let found = gencollect::get_referents_of(&[AnyGc::from(b), AnyGc::from(c)]);
/// assert_eq!(found.len(), 3);
/// ```
pub fn get_referents_of(objects: &[AnyGc]) -> Vec<AnyGc> {
    objects
        .iter()
        .flat_map(referents_raw)
        // SAFETY: the values of `objects` hold these handles, so their memory is held.
        .filter_map(|obj| unsafe { any_from_obj(obj) })
        .collect()
}

/// Every tracked object (generations 0 to 2 and the permanent one), held.
fn tracked_objects() -> Vec<AnyGc> {
    objects_of_lists(0..4)
}

/// The objects of heap lists `lists`, held.
fn objects_of_lists(lists: core::ops::Range<usize>) -> Vec<AnyGc> {
    let snapshot: Vec<ObjPtr> =
        try_with_heap(|h| lists.flat_map(|l| h.list_snapshot(l)).collect()).unwrap_or_default();
    snapshot
        .into_iter()
        // SAFETY: tracked objects are alive with memory held at snapshot time, and nothing
        // ran since.
        .filter_map(|obj| unsafe { any_from_obj(obj) })
        .collect()
}

/// The tracked objects whose values hold a handle to any of `objects` (Python's
/// `gc.get_referrers(*objs)`).
///
/// ```
/// use std::cell::RefCell;
/// use refcount::{AnyGc, Gc};
/// let a = Gc::new(1u8);
/// let b = Gc::new(RefCell::new(vec![a.clone()]));
/// let found = gencollect::get_referrers_of(&[AnyGc::from(a)]);
/// assert!(found.len() == 1 && found[0] == AnyGc::from(b));
/// ```
pub fn get_referrers_of(objects: &[AnyGc]) -> Vec<AnyGc> {
    let targets: Vec<ObjPtr> = objects.iter().map(AnyGc::as_obj).collect();
    referrers_among(0..4, &targets)
}

/// The objects of heap lists `lists` whose values hold a handle to any of `targets`.
pub(crate) fn referrers_among(lists: core::ops::Range<usize>, targets: &[ObjPtr]) -> Vec<AnyGc> {
    // Every candidate is held while tracing: a `Trace` impl may run arbitrary code. The others
    // are released once the search is over, by a plain drop of their vector: a `Drop` that
    // panics then (a trace may have run a collection that left one of them the last handle
    // to something) unwinds through a frame that still owns the referrers, which are
    // released too. (A panic inside `filter(..).collect()` would leak them.)
    let mut referrers = Vec::new();
    let mut others = Vec::new();
    for any in objects_of_lists(lists) {
        if referents_raw(&any).iter().any(|r| targets.contains(r)) {
            referrers.push(any);
        } else {
            others.push(any);
        }
    }
    drop(others);
    referrers
}

/// The tracked heap at one moment: every tracked object, held, with the handles it holds.
struct Graph {
    nodes: Vec<AnyGc>,
    index: HashMap<ObjPtr, usize>,
    edges: Vec<Vec<ObjPtr>>,
}

impl Graph {
    fn take() -> Graph {
        let nodes = tracked_objects();
        let index = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_obj(), i))
            .collect();
        let edges = nodes.iter().map(referents_raw).collect();
        Graph {
            nodes,
            index,
            edges,
        }
    }

    /// How many handles from tracked objects point to each object.
    fn internal_counts(&self) -> HashMap<ObjPtr, usize> {
        let mut counts = HashMap::new();
        for e in self.edges.iter().flatten() {
            *counts.entry(*e).or_insert(0) += 1;
        }
        counts
    }
}

/// One object of a [`WhyAlive`] chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The object's type.
    pub type_name: &'static str,
    /// Its address (its identity).
    pub addr: usize,
    /// Strong references to it from outside the tracked heap (local variables, statics,
    /// untracked objects); `usize::MAX` for an immortal object.
    pub from_outside: usize,
}

/// Why an object is alive ([`why_alive`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhyAlive {
    /// The object's type.
    pub type_name: &'static str,
    /// Its strong references, not counting the handle passed to [`why_alive`]
    /// (`usize::MAX` for an immortal object).
    pub ref_count: usize,
    /// How many of them come from tracked objects.
    pub from_tracked: usize,
    /// How many come from elsewhere: local variables, statics, untracked objects.
    pub from_outside: usize,
    /// Referrers from the object outwards to the first one held from outside: the object
    /// itself first, held from outside last. Just the object if it is held from outside
    /// itself; empty if nothing outside the tracked heap leads to it.
    pub chain: Vec<Link>,
}

impl WhyAlive {
    /// Whether nothing outside the tracked heap leads to the object (apart from the handle
    /// passed to [`why_alive`]): only a cycle keeps it, and the next collection that analyses
    /// it frees it (or nothing keeps it, once that handle goes).
    pub fn is_garbage(&self) -> bool {
        self.chain.is_empty()
    }
}

impl fmt::Display for WhyAlive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} references, {} from tracked objects, {} from outside",
            self.type_name, self.ref_count, self.from_tracked, self.from_outside
        )?;
        if self.chain.is_empty() && self.ref_count == 0 {
            return writeln!(f, "  held only by the handle passed in");
        }
        if self.chain.is_empty() {
            return writeln!(f, "  kept only by a cycle: garbage for the next collection");
        }
        for (i, link) in self.chain.iter().enumerate() {
            let held = match link.from_outside {
                0 => String::new(),
                usize::MAX => " (immortal)".to_string(),
                n => format!(" (held from outside: {n})"),
            };
            let arrow = if i == 0 { "  " } else { "  <- " };
            writeln!(f, "{arrow}{} at {:#x}{held}", link.type_name, link.addr)?;
        }
        Ok(())
    }
}

/// Why `obj` is alive: its reference count, how many of those references come from
/// tracked objects and how many from outside (locals, statics, untracked objects), and the
/// shortest chain of referrers from it to an object held from outside. Traces every tracked
/// object once.
///
/// ```
/// use std::cell::RefCell;
/// use refcount::{AnyGc, Gc};
///
/// let leaf = Gc::new(RefCell::new(Vec::<Gc<u8>>::new()));
/// let parent = Gc::new(RefCell::new(vec![leaf.clone()]));
/// let report = gencollect::why_alive(&AnyGc::from(leaf.clone()));
/// // `leaf` itself is a handle from outside; drop it and only the parent holds the leaf.
/// assert_eq!((report.from_tracked, report.from_outside), (1, 1));
/// let any = AnyGc::from(leaf);
/// let report = gencollect::why_alive(&any);
/// assert_eq!((report.ref_count, report.from_outside), (1, 0));
/// assert_eq!(report.chain.len(), 2, "the leaf, then the parent held by `parent`");
/// println!("{report}");
/// # drop(parent);
/// ```
pub fn why_alive(obj: &AnyGc) -> WhyAlive {
    let graph = Graph::take();
    let internal = graph.internal_counts();
    let target = obj.as_obj();
    // Held from outside: strong references minus those from tracked objects, minus the
    // graph's own hold on each tracked object, minus the caller's handle for the target.
    let outside = |o: ObjPtr, held: &AnyGc| -> usize {
        let strong = held.ref_count();
        if strong == usize::MAX {
            return usize::MAX;
        }
        let ours = usize::from(graph.index.contains_key(&o)) + usize::from(o == target);
        strong.saturating_sub(ours + internal.get(&o).copied().unwrap_or(0))
    };
    let ref_count = match obj.ref_count() {
        usize::MAX => usize::MAX,
        n => n - 1 - usize::from(graph.index.contains_key(&target)),
    };
    let from_tracked = internal.get(&target).copied().unwrap_or(0);
    let from_outside = outside(target, obj);
    // Breadth-first from the target backwards, over the reversed edges.
    let mut referrers: HashMap<ObjPtr, Vec<usize>> = HashMap::new();
    for (i, edges) in graph.edges.iter().enumerate() {
        for e in edges {
            referrers.entry(*e).or_default().push(i);
        }
    }
    let link = |o: ObjPtr, held: &AnyGc| Link {
        type_name: held.type_name(),
        addr: o.addr(),
        from_outside: outside(o, held),
    };
    let mut parent: HashMap<ObjPtr, Option<ObjPtr>> = HashMap::from([(target, None)]);
    let mut queue = VecDeque::from([target]);
    let mut root = None;
    while let Some(o) = queue.pop_front() {
        let held = if o == target {
            obj
        } else {
            &graph.nodes[graph.index[&o]]
        };
        if outside(o, held) > 0 {
            root = Some(o);
            break;
        }
        for &r in referrers.get(&o).map(Vec::as_slice).unwrap_or(&[]) {
            let ro = graph.nodes[r].as_obj();
            if let std::collections::hash_map::Entry::Vacant(v) = parent.entry(ro) {
                v.insert(Some(o));
                queue.push_back(ro);
            }
        }
    }
    let mut chain = Vec::new();
    let mut at = root;
    while let Some(o) = at {
        let held = if o == target {
            obj
        } else {
            &graph.nodes[graph.index[&o]]
        };
        chain.push(link(o, held));
        at = parent[&o];
    }
    chain.reverse();
    WhyAlive {
        type_name: obj.type_name(),
        ref_count,
        from_tracked,
        from_outside,
        chain,
    }
}

/// The tracked heap as a Graphviz DOT graph: one node per object (its type and address;
/// bold when held from outside the tracked heap, not counting the handles passed as
/// `roots`), one edge per handle, labelled with the field it is in where the type says
/// (`#[trace(labels)]`, or [`Tracer::labeled`] in a hand-written `Trace`). With `roots`, only
/// what they reach; at most `max_nodes` nodes (the graph says how many were left out).
///
/// ```
/// use std::cell::RefCell;
/// use refcount::{AnyGc, Gc};
/// let a = Gc::new(RefCell::new(Vec::<Gc<u8>>::new()));
/// a.borrow_mut().push(Gc::new(7));
/// let dot = gencollect::dump_dot(Some(&[AnyGc::from(a)]), 100);
/// assert!(dot.starts_with("digraph gcrt {") && dot.contains("->"));
/// ```
pub fn dump_dot(roots: Option<&[AnyGc]>, max_nodes: usize) -> String {
    let graph = Graph::take();
    let internal = graph.internal_counts();
    // The nodes to draw: breadth-first from the roots, or every tracked object.
    let mut order: Vec<AnyGc> = Vec::new();
    let mut seen: HashMap<ObjPtr, usize> = HashMap::new();
    let mut queue: VecDeque<AnyGc> = match roots {
        Some(r) => r.iter().cloned().collect(),
        None => graph.nodes.iter().cloned().collect(),
    };
    let mut left_out = std::collections::HashSet::new();
    while let Some(any) = queue.pop_front() {
        let o = any.as_obj();
        if seen.contains_key(&o) {
            continue;
        }
        if order.len() == max_nodes {
            left_out.insert(o);
            continue;
        }
        seen.insert(o, order.len());
        if roots.is_some() {
            // SAFETY: `any`'s value holds these handles, so their memory is held.
            queue.extend(
                referents_raw(&any)
                    .into_iter()
                    .filter_map(|r| unsafe { any_from_obj(r) }),
            );
        }
        order.push(any);
    }
    let mut out = String::from("digraph gcrt {\n  node [shape=box, fontname=\"monospace\"];\n");
    for (i, any) in order.iter().enumerate() {
        let o = any.as_obj();
        // The graph's hold, `order`'s, and the caller's handles passed as roots.
        let passed = roots.map_or(0, |r| r.iter().filter(|x| x.as_obj() == o).count());
        let held = graph.index.contains_key(&o) as usize + 1 + passed;
        let outside = any
            .ref_count()
            .saturating_sub(held + internal.get(&o).copied().unwrap_or(0));
        let style = if outside > 0 { ", style=bold" } else { "" };
        out.push_str(&format!(
            "  n{i} [label=\"{}\\n{:#x}\"{style}];\n",
            any.type_name().replace('"', "'"),
            o.addr()
        ));
    }
    for (i, any) in order.iter().enumerate() {
        for (r, label) in referents_labeled(any) {
            if let Some(j) = seen.get(&r) {
                match label {
                    Some(l) => out.push_str(&format!("  n{i} -> n{j} [label=\"{l}\"];\n")),
                    None => out.push_str(&format!("  n{i} -> n{j};\n")),
                }
            }
        }
    }
    if !left_out.is_empty() {
        out.push_str(&format!(
            "  more [label=\"{} more objects not drawn\", shape=plaintext];\n",
            left_out.len()
        ));
    }
    out.push_str("}\n");
    out
}
