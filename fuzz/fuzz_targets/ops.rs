//! Fuzz target: the fuzzer's bytes are a sequence of operations on gcrt's heap and collector,
//! checked against a simple model after every operation.
//!
//! One file over 800 lines on purpose: cargo-fuzz builds each target from one file, and the
//! interpreter, the model and the node types are read together when a crash is minimised.
//!
//! Two node types share one body: `DNode` (`#[derive(Trace)]`, pure) and `HNode`, whose
//! hand-written `unsafe impl Trace` is impure (`pure_trace` false, touches thread-locals) and,
//! per object, allocates inside `trace`, clones and drops handles inside `trace`, starts a
//! collection inside `trace`, panics inside `trace` (armed by a countdown), or under-reports
//! its edges (allowed: a leak only).
//!
//! Operations: allocate (with a finalizer that records, resurrects a neighbour, resurrects
//! itself through its own `Weak`, breaks its links or panics), link, unlink, drop / clone /
//! move roots, `Gc::try_unwrap`, `Weak` create / upgrade / drop, `WeakRef` with callbacks
//! (held by the fuzzer or by a node; callbacks that allocate or panic), `Gc::get_mut` with a
//! push (an allocation, so a collection, while the value is lent) and a truncation, collect
//! generation 0 / 1 / 2, freeze / unfreeze, thresholds, full scans, young hold, split count
//! passes, `SAVEALL` and `clear_garbage`, enable / disable, collection callbacks that
//! allocate or panic, panics armed in `Drop`, inspection (`get_objects`, `get_referents`,
//! `get_referrers`). Every operation runs inside `catch_unwind`; only injected panics may
//! come out of it (any other panic aborts through the panic hook: a failure).
//!
//! Checked after every operation: each node dropped at most once and never while the model
//! reaches it (from the roots and the handles finalizers stored), each finalizer at most once
//! and before the drop, each `WeakRef` callback at most once and after its referent is gone,
//! the real graph reached from the roots (walked by borrows, no clones) has exactly the
//! model's edges, and every value read is intact. At the end everything is dropped and
//! collected: without an under-reporting node every node must be dropped; with one, the
//! under-reporters are made to report everything (`REPAIR`) and a full-scan collection must
//! then free everything.

#![no_main]

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread::LocalKey;

use gencollect::{AnyGc, CollectionInfo, DebugFlags, Phase};
use libfuzzer_sys::fuzz_target;
use refcount::{Finalize, Gc, Trace, Tracer, Weak, WeakRef};

/// The most nodes one input allocates (allocation operations do nothing past it).
const MAX_NODES: usize = 400;
/// The most operations one input runs.
const MAX_OPS: usize = 2000;

// ----- The node types ------------------------------------------------------------------------

/// What a node's finalizer does besides recording its run.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fin {
    None,
    Record,
    /// Stores a handle to `edges[k % len]` in `STORE` (resurrects a neighbour, or itself
    /// through a self-loop).
    StoreEdge(u8),
    /// Stores a handle to itself from its own `Weak`.
    SelfWeak,
    /// Drops its edges.
    BreakLinks,
    Panic,
}

/// A strong handle to either node type.
#[derive(gcrt_derive::Trace, Clone)]
#[trace(crate = "refcount")]
enum Edge {
    D(Gc<DNode>),
    H(Gc<HNode>),
}

/// A weak reference with a callback, to either node type.
#[derive(gcrt_derive::Trace)]
#[trace(crate = "refcount")]
enum Wr {
    D(Gc<WeakRef<DNode>>),
    H(Gc<WeakRef<HNode>>),
}

enum WeakE {
    D(Weak<DNode>),
    H(Weak<HNode>),
}

#[derive(gcrt_derive::Trace)]
#[trace(crate = "refcount")]
struct Body {
    #[trace(skip)]
    id: u32,
    #[trace(skip)]
    payload: Cell<u64>,
    #[trace(skip)]
    check: Cell<u64>,
    #[trace(skip)]
    fin: Fin,
    edges: RefCell<Vec<Edge>>,
    wrs: RefCell<Vec<Wr>>,
    #[trace(skip)]
    this: RefCell<Option<WeakE>>,
}

/// The well-behaved node: derived, pure.
#[derive(gcrt_derive::Trace)]
#[trace(crate = "refcount")]
struct DNode {
    body: Body,
}

/// The hand-written node; `beh` is a set of the flags below.
struct HNode {
    body: Body,
    beh: u8,
}

/// `trace` allocates tracked objects (and drops them again).
const ALLOC: u8 = 1;
/// `trace` panics when the `TRACE_PANIC` countdown reaches 0.
const PANIC: u8 = 2;
/// `trace` reports only the first half of the edges (unless `REPAIR`).
const UNDER: u8 = 4;
/// `trace` clones each edge and drops the clone.
const CLONE: u8 = 8;
/// `trace` calls `collect_generation(0)` (0 inside a collection).
const COLLECT: u8 = 16;
/// With `UNDER`: the edges left out vary from call to call (still a leak only).
const VARY: u8 = 32;

// SAFETY: reports only handles the value owns, each at most once (a prefix of `edges`, then
// `wrs`), the same ones on every call while no user code runs in between; `pure_trace` keeps
// the default `false`, since this code is not gcrt's own.
unsafe impl Trace for HNode {
    fn trace(&self, t: &mut Tracer<'_>) {
        TRACES.with(|c| c.set(c.get() + 1));
        note(format_args!("trace H{}", self.body.id));
        if self.beh & ALLOC != 0 {
            let tmp = Gc::new(RefCell::new(Some(Gc::new(self.body.id))));
            let keep = Gc::new(RefCell::new(None::<Gc<u8>>));
            drop((tmp, keep));
        }
        if self.beh & COLLECT != 0 && NESTED.with(|n| n.replace(false)) {
            struct Again;
            impl Drop for Again {
                fn drop(&mut self) {
                    NESTED.with(|n| n.set(true));
                }
            }
            let _again = Again;
            let _ = gencollect::collect_generation(0);
        }
        if self.beh & PANIC != 0 {
            countdown(&TRACE_PANIC, "injected: trace");
        }
        let Ok(edges) = self.body.edges.try_borrow() else {
            return t.mark_opaque();
        };
        let under = self.beh & UNDER != 0 && !REPAIR.with(Cell::get);
        let n = if under { edges.len() / 2 } else { edges.len() };
        // Varying under-reporters leave out a different subset on each call.
        let vary = under && self.beh & VARY != 0;
        let calls = TRACES.with(Cell::get);
        for (i, e) in edges.iter().enumerate() {
            let report = if vary {
                !(calls + i as u64).is_multiple_of(3)
            } else {
                i < n
            };
            if report {
                e.trace(t);
            }
            if self.beh & CLONE != 0 {
                drop(e.clone());
            }
        }
        match self.body.wrs.try_borrow() {
            Ok(w) => w.trace(t),
            Err(_) => t.mark_opaque(),
        }
    }
}

impl Finalize for DNode {
    fn finalize(&self) {
        self.body.finalize();
    }
}
impl Finalize for HNode {
    fn finalize(&self) {
        self.body.finalize();
    }
}
impl Drop for DNode {
    fn drop(&mut self) {
        self.body.dropped();
    }
}
impl Drop for HNode {
    fn drop(&mut self) {
        self.body.dropped();
    }
}

fn checksum(id: u32, payload: u64) -> u64 {
    let id = u64::from(id) ^ 0xA5A5_5A5A_C3C3_3C3C;
    id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ payload.rotate_left(17)
}

impl Body {
    fn intact(&self) -> bool {
        self.check.get() == checksum(self.id, self.payload.get())
    }

    fn finalize(&self) {
        push(&FINS, self.id);
        assert!(self.intact(), "node {} corrupt in its finalizer", self.id);
        let stored = match self.fin {
            Fin::StoreEdge(k) => {
                let edges = self.edges.borrow();
                edges.get(usize::from(k) % edges.len().max(1)).cloned()
            }
            Fin::SelfWeak => self.this.borrow().as_ref().and_then(WeakE::upgrade),
            Fin::BreakLinks => {
                let old = self.edges.take();
                with_model(|m| m.nodes[self.id as usize].edges.clear());
                drop(old); // may free nodes and run finalizers
                None
            }
            Fin::Panic if !std::thread::panicking() => {
                stat("injected: finalizer");
                std::panic::panic_any("injected: finalizer")
            }
            Fin::None | Fin::Record | Fin::Panic => None,
        };
        if let Some(s) = stored {
            assert!(s.body().intact(), "node {} stored corrupt", s.id());
            STORE.with(|st| st.borrow_mut().push(s));
        }
    }

    fn dropped(&self) {
        note(format_args!("drop {}", self.id));
        push(&DROPS, self.id);
        assert!(self.intact(), "node {} corrupt when dropped", self.id);
        countdown(&DROP_PANIC, "injected: drop");
    }
}

impl Edge {
    /// The body (panics on a dead handle: the checks only read reachable nodes).
    fn body(&self) -> &Body {
        match self {
            Edge::D(g) => &g.body,
            Edge::H(g) => &g.body,
        }
    }
    fn id(&self) -> u32 {
        self.body().id
    }
    fn is_dead(&self) -> bool {
        match self {
            Edge::D(g) => Gc::is_dead(g),
            Edge::H(g) => Gc::is_dead(g),
        }
    }
    fn get_mut(&mut self) -> Option<&mut Body> {
        match self {
            Edge::D(g) => Gc::get_mut(g).map(|n| &mut n.body),
            Edge::H(g) => Gc::get_mut(g).map(|n| &mut n.body),
        }
    }
    fn downgrade(&self) -> WeakE {
        match self {
            Edge::D(g) => WeakE::D(Gc::downgrade(g)),
            Edge::H(g) => WeakE::H(Gc::downgrade(g)),
        }
    }
    /// `Gc::try_unwrap`: the value is dropped here (its `Drop` runs, no finalizer).
    fn try_unwrap(self) -> Result<(), Edge> {
        match self {
            Edge::D(g) => Gc::try_unwrap(g).map(drop).map_err(Edge::D),
            Edge::H(g) => Gc::try_unwrap(g).map(drop).map_err(Edge::H),
        }
    }
}

impl WeakE {
    fn upgrade(&self) -> Option<Edge> {
        match self {
            WeakE::D(w) => w.upgrade().map(Edge::D),
            WeakE::H(w) => w.upgrade().map(Edge::H),
        }
    }
}

// ----- Thread-local records -----------------------------------------------------------------

/// What the model knows of one node.
#[derive(Default)]
struct MNode {
    edges: Vec<u32>,
    payload: u64,
    has_fin: bool,
    dropped: bool,
    finalized: bool,
    /// Dropped through `Gc::try_unwrap` (no finalizer then).
    unwrapped: bool,
}

#[derive(Default)]
struct Model {
    nodes: Vec<MNode>,
    /// How many `WeakRef` callbacks were created; `fired[j]`: whether callback `j` ran.
    fired: Vec<bool>,
    under_reporters: usize,
    dropped: usize,
}

thread_local! {
    static MODEL: RefCell<Model> = RefCell::default();
    static DROPS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    static FINS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    static FIRED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    /// Handles stored by finalizers (resurrection): roots.
    static STORE: RefCell<Vec<Edge>> = const { RefCell::new(Vec::new()) };
    /// Nodes allocated by callbacks, adopted as roots after each operation.
    static PENDING: RefCell<Vec<Edge>> = const { RefCell::new(Vec::new()) };
    /// Countdowns: at 1 the next call panics; 0 is disarmed.
    static TRACE_PANIC: Cell<u32> = const { Cell::new(0) };
    static DROP_PANIC: Cell<u32> = const { Cell::new(0) };
    static CB_PANIC: Cell<u32> = const { Cell::new(0) };
    /// Whether the collection callback allocates at `Stop`.
    static CB_ALLOC: Cell<bool> = const { Cell::new(false) };
    /// Under-reporters report everything.
    static REPAIR: Cell<bool> = const { Cell::new(false) };
    /// Whether a trace may start a collection (not from inside one it started).
    static NESTED: Cell<bool> = const { Cell::new(true) };
    static TRACES: Cell<u64> = const { Cell::new(0) };
    /// `GCRT_FUZZ_TRACE` is set: every operation is printed.
    static VERBOSE: Cell<bool> = Cell::new(std::env::var_os("GCRT_FUZZ_TRACE").is_some());
    static NEXT_ID: Cell<u32> = const { Cell::new(0) };
    /// Operation counts, printed with `GCRT_FUZZ_STATS=1`.
    static STATS: RefCell<Vec<(&'static str, u64)>> = const { RefCell::new(Vec::new()) };
}

fn push<T>(key: &'static LocalKey<RefCell<Vec<T>>>, v: T) {
    key.with(|k| k.borrow_mut().push(v));
}

fn take<T>(key: &'static LocalKey<RefCell<Vec<T>>>) -> Vec<T> {
    key.with(|k| core::mem::take(&mut *k.borrow_mut()))
}

fn with_model<R>(f: impl FnOnce(&mut Model) -> R) -> R {
    MODEL.with(|m| f(&mut m.borrow_mut()))
}

/// Prints a detail of the running operation with `GCRT_FUZZ_TRACE`.
fn note(what: std::fmt::Arguments<'_>) {
    if VERBOSE.with(Cell::get) {
        eprintln!("    {what}");
    }
}

fn stat(what: &'static str) {
    if VERBOSE.with(Cell::get) {
        eprintln!("op: {what} (next id {})", NEXT_ID.with(Cell::get));
    }
    STATS.with(|s| {
        let mut s = s.borrow_mut();
        match s.iter_mut().find(|e| e.0 == what) {
            Some(e) => e.1 += 1,
            None => s.push((what, 1)),
        }
    });
}

/// Panics with `msg` when the countdown `c` goes from 1 to 0 (never while unwinding: a panic
/// escaping a `Drop` then aborts, which is Rust's rule, not gcrt's).
fn countdown(c: &'static LocalKey<Cell<u32>>, msg: &'static str) {
    let n = c.with(Cell::get);
    if n == 0 || std::thread::panicking() {
        return;
    }
    c.with(|c| c.set(n - 1));
    if n == 1 {
        stat(msg);
        std::panic::panic_any(msg);
    }
}

fn injected(payload: &(dyn std::any::Any + Send)) -> bool {
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
    msg.is_some_and(|m| m.starts_with("injected"))
}

/// Allocates node `NEXT_ID` (which may run an automatic collection, and panic): registers it
/// in the model first, so that a node lost to a panic is known (and unreachable).
fn new_node(beh: Option<u8>, fin: Fin, edges: Vec<Edge>, payload: u64) -> Edge {
    let id = NEXT_ID.with(|n| n.replace(n.get() + 1));
    with_model(|m| {
        assert_eq!(m.nodes.len(), id as usize);
        m.under_reporters += usize::from(beh.is_some_and(|b| b & UNDER != 0));
        m.nodes.push(MNode {
            edges: edges.iter().map(Edge::id).collect(),
            payload,
            has_fin: fin != Fin::None,
            ..MNode::default()
        });
    });
    let body = Body {
        id,
        payload: Cell::new(payload),
        check: Cell::new(checksum(id, payload)),
        fin,
        edges: RefCell::new(edges),
        wrs: RefCell::default(),
        this: RefCell::default(),
    };
    note(format_args!("new node {id} beh {beh:?} fin {fin:?}"));
    let n = match (beh, fin) {
        (None, Fin::None) => Edge::D(Gc::new(DNode { body })),
        (None, _) => Edge::D(Gc::new_with_finalizer(DNode { body })),
        (Some(beh), Fin::None) => Edge::H(Gc::new(HNode { body, beh })),
        (Some(beh), _) => Edge::H(Gc::new_with_finalizer(HNode { body, beh })),
    };
    if fin == Fin::SelfWeak {
        *n.body().this.borrow_mut() = Some(n.downgrade());
    }
    n
}

/// A node allocated by a callback: a plain node, with a self-loop when `cycle`.
fn callback_node(cycle: bool) {
    let n = new_node(None, Fin::None, Vec::new(), 7);
    if cycle {
        with_model(|m| m.nodes[n.id() as usize].edges.push(n.id()));
        n.body().edges.borrow_mut().push(n.clone());
    }
    push(&PENDING, n);
}

fn on_collection(phase: Phase, info: &CollectionInfo) {
    note(format_args!("collection {phase:?} {info:?}"));
    if phase == Phase::Stop && CB_ALLOC.with(Cell::get) {
        callback_node(NEXT_ID.with(Cell::get).is_multiple_of(2));
        drop(Gc::new(RefCell::new(None::<Gc<u8>>)));
    }
    countdown(&CB_PANIC, "injected: collection callback");
}

/// Creates a `WeakRef` to `target` whose callback is number `j`; `beh` bit 0: it allocates,
/// bit 1: it panics.
fn weakref(target: &Edge, j: usize, beh: u8) -> Wr {
    let cb = move |cleared: bool| {
        assert!(cleared, "callback {j}: the referent still upgrades");
        push(&FIRED, j);
        if beh & 1 != 0 {
            callback_node(beh & 4 != 0);
        }
        if beh & 2 != 0 && !std::thread::panicking() {
            stat("injected: weakref callback");
            std::panic::panic_any("injected: weakref callback");
        }
    };
    match target {
        Edge::D(g) => Wr::D(WeakRef::new(g, move |w| cb(w.upgrade().is_none()))),
        Edge::H(g) => Wr::H(WeakRef::new(g, move |w| cb(w.upgrade().is_none()))),
    }
}

// ----- The input ----------------------------------------------------------------------------

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    /// An index below `n` (`n > 0`), from two bytes when `n` needs them.
    fn below(&mut self, n: usize) -> usize {
        let v = if n > 256 {
            usize::from(self.byte()) << 8 | usize::from(self.byte())
        } else {
            usize::from(self.byte())
        };
        v % n
    }
    fn chance(&mut self, of_256: u8) -> bool {
        self.byte() < of_256
    }
}

// ----- The world ----------------------------------------------------------------------------

/// The handles the fuzzer holds: roots (with their ids), `Weak`s, `WeakRef`s.
#[derive(Default)]
struct World {
    roots: Vec<Edge>,
    ids: Vec<u32>,
    weaks: Vec<WeakE>,
    wrs: Vec<Wr>,
}

impl World {
    fn add_root(&mut self, n: Edge) {
        self.ids.push(n.id());
        self.roots.push(n);
    }

    fn take_root(&mut self, b: &mut Bytes) -> Option<Edge> {
        if self.roots.is_empty() {
            return None;
        }
        let i = b.below(self.roots.len());
        self.ids.swap_remove(i);
        Some(self.roots.swap_remove(i))
    }

    /// A handle to a reachable node: a root or a stored handle, then up to 3 edges.
    fn pick(&self, b: &mut Bytes) -> Option<Edge> {
        let stored = STORE.with(|s| s.borrow().len());
        let total = self.roots.len() + stored;
        if total == 0 {
            return None;
        }
        let i = b.below(total);
        let mut cur = match i.checked_sub(self.roots.len()) {
            None => self.roots[i].clone(),
            Some(k) => STORE.with(|s| s.borrow()[k].clone()),
        };
        for _ in 0..b.below(4) {
            let next = {
                let edges = cur.body().edges.borrow();
                if edges.is_empty() {
                    break;
                }
                edges[b.below(edges.len())].clone()
            };
            cur = next;
        }
        Some(cur)
    }

    fn alloc(&mut self, b: &mut Bytes) {
        if NEXT_ID.with(Cell::get) as usize >= MAX_NODES {
            return;
        }
        let kind = b.byte();
        // Hand-written on odd bytes; under-reporting only from 0xE0 up (it turns the leak
        // check at the end off).
        let under = match kind {
            0xF0.. => UNDER | VARY,
            0xE0.. => UNDER,
            _ => 0,
        };
        let beh = (kind & 1 != 0).then_some((kind >> 1) & !(UNDER | VARY) | under);
        let fin = match b.below(12) {
            0..=4 => Fin::None,
            5 => Fin::Record,
            6 | 7 => Fin::StoreEdge(b.byte()),
            8 => Fin::SelfWeak,
            9 | 10 => Fin::BreakLinks,
            _ => Fin::Panic,
        };
        let targets: Vec<Edge> = (0..b.below(3)).filter_map(|_| self.pick(b)).collect();
        let payload = u64::from(b.byte()) * 0x0101_0101;
        stat(if beh.is_some() {
            "alloc hand-written"
        } else {
            "alloc derived"
        });
        let n = new_node(beh, fin, targets, payload);
        if b.chance(80) {
            with_model(|m| m.nodes[n.id() as usize].edges.push(n.id()));
            n.body().edges.borrow_mut().push(n.clone());
        }
        self.add_root(n);
    }

    /// Adds an edge between two reachable nodes (sometimes a self-loop).
    fn link(&mut self, b: &mut Bytes) {
        let (Some(from), Some(to)) = (self.pick(b), self.pick(b)) else {
            return;
        };
        let to = if b.chance(40) { from.clone() } else { to };
        stat("link");
        with_model(|m| m.nodes[from.id() as usize].edges.push(to.id()));
        from.body().edges.borrow_mut().push(to);
    }

    /// Removes an edge (which may free by refcount, and panic in a `Drop`).
    fn unlink(&mut self, b: &mut Bytes) {
        let Some(from) = self.pick(b) else { return };
        let len = from.body().edges.borrow().len();
        if len == 0 {
            return;
        }
        let i = b.below(len);
        stat("unlink");
        with_model(|m| m.nodes[from.id() as usize].edges.remove(i));
        let removed = from.body().edges.borrow_mut().remove(i);
        drop(from);
        drop(removed);
    }

    /// Drops a root (mostly), clones one, moves one into another root's node, or unwraps one.
    fn root(&mut self, b: &mut Bytes) {
        match b.below(8) {
            0 => {
                if let Some(n) = self.pick(b) {
                    stat("root clone");
                    self.add_root(n);
                }
            }
            1 | 2 if self.roots.len() > 1 => {
                stat("root move");
                let moved = self.take_root(b).unwrap();
                let host = &self.roots[b.below(self.roots.len())];
                with_model(|m| m.nodes[host.id() as usize].edges.push(moved.id()));
                host.body().edges.borrow_mut().push(moved);
            }
            3 => {
                let Some(r) = self.take_root(b) else { return };
                let id = r.id();
                with_model(|m| m.nodes[id as usize].unwrapped = true);
                match r.try_unwrap() {
                    Ok(()) => stat("try_unwrap ok"),
                    Err(r) => {
                        stat("try_unwrap refused");
                        with_model(|m| m.nodes[id as usize].unwrapped = false);
                        self.add_root(r);
                    }
                }
            }
            _ => {
                stat("root drop");
                let r = self.take_root(b);
                note(format_args!("root {:?}", r.as_ref().map(Edge::id)));
                drop(r);
            }
        }
    }

    /// Creates, upgrades or drops a `Weak`.
    fn weak(&mut self, b: &mut Bytes) {
        let op = b.below(3);
        if op == 0 || self.weaks.is_empty() {
            if let Some(n) = self.pick(b) {
                stat("weak new");
                self.weaks.push(n.downgrade());
            }
        } else if op == 1 {
            let up = self.weaks[b.below(self.weaks.len())].upgrade();
            stat(if up.is_some() {
                "weak upgrade ok"
            } else {
                "weak upgrade none"
            });
            if let Some(n) = up {
                let id = n.id() as usize;
                assert!(n.body().intact(), "upgraded node {id} corrupt");
                let dropped = with_model(|m| m.nodes[id].dropped);
                let dropped = dropped || DROPS.with(|d| d.borrow().contains(&n.id()));
                assert!(!dropped, "a Weak upgraded to dropped node {id}");
                if b.chance(128) {
                    self.add_root(n);
                }
            }
        } else {
            stat("weak drop");
            let i = b.below(self.weaks.len());
            self.weaks.swap_remove(i);
        }
    }

    /// Creates a `WeakRef` (held by the fuzzer or a node), or drops one the fuzzer holds.
    fn weakref(&mut self, b: &mut Bytes) {
        if b.chance(50) && !self.wrs.is_empty() {
            stat("weakref drop");
            let i = b.below(self.wrs.len());
            drop(self.wrs.swap_remove(i));
            return;
        }
        let Some(target) = self.pick(b) else { return };
        let holder = self.pick(b).filter(|_| b.chance(128));
        let j = with_model(|m| {
            m.fired.push(false);
            m.fired.len() - 1
        });
        stat("weakref new");
        let wr = weakref(&target, j, b.byte()); // may collect
        match holder {
            None => self.wrs.push(wr),
            Some(h) => h.body().wrs.borrow_mut().push(wr),
        }
    }

    /// `Gc::get_mut` on a root, in place: mutates through the `&mut`, may push a new node
    /// while it lives (a collection may run meanwhile, and panic) and truncate the edges.
    fn get_mut(&mut self, b: &mut Bytes) {
        if self.roots.is_empty() {
            return;
        }
        let i = b.below(self.roots.len());
        let (grow, truncate, payload) = (b.chance(160), b.chance(80), u64::from(b.byte()));
        let id = self.ids[i];
        let Some(body) = self.roots[i].get_mut() else {
            return stat("get_mut refused");
        };
        stat("get_mut");
        *body.payload.get_mut() = payload;
        *body.check.get_mut() = checksum(id, payload);
        with_model(|m| m.nodes[id as usize].payload = payload);
        if grow && (NEXT_ID.with(Cell::get) as usize) < MAX_NODES {
            let new = new_node(None, Fin::None, Vec::new(), 1); // the value is lent meanwhile
            with_model(|m| m.nodes[id as usize].edges.push(new.id()));
            body.edges.get_mut().push(new);
        }
        if truncate {
            let keep = body.edges.get_mut().len() / 2;
            with_model(|m| m.nodes[id as usize].edges.truncate(keep));
            let removed: Vec<Edge> = body.edges.get_mut().drain(keep..).collect();
            drop(removed); // may free by refcount while the `&mut` lives
        }
    }

    fn collect(&mut self, b: &mut Bytes) {
        match b.below(4) {
            3 => {
                stat("collect()");
                gencollect::collect();
            }
            g => {
                stat(["collect 0", "collect 1", "collect 2"][g]);
                gencollect::collect_generation(g).unwrap();
            }
        }
    }

    /// Freezing, thresholds and the collector's settings.
    fn settings(&mut self, b: &mut Bytes) {
        const T0: [usize; 8] = [0, 1, 2, 3, 5, 8, 20, 700];
        match b.below(10) {
            0 => {
                stat("freeze");
                gencollect::freeze();
            }
            1 => {
                stat("unfreeze");
                gencollect::unfreeze();
            }
            2 | 3 => {
                stat("set_threshold");
                let t0 = T0[b.below(8)];
                gencollect::set_threshold(t0, 1 + b.below(4), 1 + b.below(4));
            }
            4 => {
                stat("full scan");
                gencollect::set_full_scan(b.chance(128));
            }
            5 => {
                stat("young hold");
                let t = [0, usize::MAX, 1 << 16][b.below(3)];
                gencollect::set_young_hold_threshold(t);
            }
            6 => {
                stat("split count passes");
                let t = if b.chance(64) { 0 } else { 1 << 17 };
                gencollect::set_parallel_threshold(t);
            }
            7 => {
                stat("saveall");
                let on = b.chance(128);
                gencollect::set_debug(if on {
                    DebugFlags::SAVEALL
                } else {
                    DebugFlags::NONE
                });
            }
            8 => {
                stat("clear_garbage");
                gencollect::clear_garbage();
            }
            _ if b.chance(80) => {
                stat("disable");
                gencollect::disable();
            }
            _ => {
                stat("enable");
                gencollect::enable();
            }
        }
    }

    /// Arms a panic countdown, or switches allocation by collection callbacks.
    fn arm(&mut self, b: &mut Bytes) {
        let (what, n) = (b.below(4), u32::from(b.byte() % 16));
        let countdown = match what {
            0 => &TRACE_PANIC,
            1 => &DROP_PANIC,
            2 => &CB_PANIC,
            _ => {
                stat("callback alloc");
                return CB_ALLOC.with(|c| c.set(!c.get()));
            }
        };
        stat(["arm trace panic", "arm drop panic", "arm callback panic"][what]);
        countdown.with(|c| c.set(n));
    }

    /// Drops one handle a finalizer stored, or all of them.
    fn drop_stored(&mut self, b: &mut Bytes) {
        let (all, k) = (b.chance(80), b.byte());
        let taken: Vec<Edge> = STORE.with(|s| {
            let mut s = s.borrow_mut();
            match s.len() {
                0 => Vec::new(),
                _ if all => core::mem::take(&mut *s),
                len => vec![s.swap_remove(usize::from(k) % len)],
            }
        });
        stat("drop stored");
        drop(taken);
    }

    /// Inspection: `get_objects`, `get_referents`, `get_referrers` (which trace, and may
    /// panic or collect).
    fn inspect(&mut self, b: &mut Bytes) {
        match b.below(3) {
            0 => {
                stat("get_objects");
                let g = [None, Some(0), Some(1), Some(2)][b.below(4)];
                check_objects(&gencollect::get_objects(g).unwrap());
            }
            1 => {
                let Some(n) = self.pick(b) else { return };
                stat("get_referents");
                note(format_args!("of {}", n.id()));
                let refs = match &n {
                    Edge::D(g) => gencollect::get_referents(g),
                    Edge::H(g) => gencollect::get_referents(g),
                };
                check_objects(&refs);
                if let Edge::D(_) = n {
                    let nodes = refs.iter().filter(|r| r.is::<DNode>() || r.is::<HNode>());
                    assert_eq!(nodes.count(), n.body().edges.borrow().len(), "referents");
                }
            }
            _ => {
                let Some(n) = self.pick(b) else { return };
                stat("get_referrers");
                note(format_args!("of {}", n.id()));
                let refs = match &n {
                    Edge::D(g) => gencollect::get_referrers(g),
                    Edge::H(g) => gencollect::get_referrers(g),
                };
                check_objects(&refs);
            }
        }
    }

    /// Runs one operation; returns false when the input is used up.
    fn step(&mut self, b: &mut Bytes) -> bool {
        if b.0.is_empty() {
            return false;
        }
        match b.byte() % 16 {
            0..=2 => self.alloc(b),
            3 | 4 => self.link(b),
            5 => self.unlink(b),
            6 | 7 => self.root(b),
            8 => self.weak(b),
            9 => self.weakref(b),
            10 => self.get_mut(b),
            11 => self.collect(b),
            12 => self.settings(b),
            13 => self.arm(b),
            14 => self.drop_stored(b),
            _ => self.inspect(b),
        }
        true
    }
}

// ----- Checks -------------------------------------------------------------------------------

/// Objects from inspection: every node among them is alive (by the model) and intact.
fn check_objects(objs: &[AnyGc]) {
    for o in objs {
        let body = match (o.downcast_ref::<DNode>(), o.downcast_ref::<HNode>()) {
            (Some(d), _) => Edge::D(d),
            (_, Some(h)) => Edge::H(h),
            _ => continue,
        };
        assert!(!body.is_dead(), "inspection returned a dead node");
        let id = body.id() as usize;
        assert!(body.body().intact(), "inspected node {id} corrupt");
        assert!(
            !with_model(|m| m.nodes[id].dropped),
            "inspected node {id} was dropped"
        );
    }
}

/// Checks a reachable node and what it reaches, by borrows only (clones would make the
/// objects dirty, which changes what full collections analyse).
fn walk(e: &Edge, m: &Model, seen: &mut [bool]) {
    assert!(!e.is_dead(), "a reachable handle is dead");
    let body = e.body();
    let id = body.id as usize;
    if core::mem::replace(&mut seen[id], true) {
        return;
    }
    let mn = &m.nodes[id];
    assert!(!mn.dropped, "reachable node {id} was dropped");
    assert!(body.intact(), "reachable node {id} corrupt");
    assert_eq!(body.payload.get(), mn.payload, "payload of {id}");
    let edges = body.edges.borrow();
    let ids: Vec<u32> = edges.iter().map(Edge::id).collect();
    assert_eq!(ids, mn.edges, "edges of node {id}");
    for wr in body.wrs.borrow().iter() {
        let dead = match wr {
            Wr::D(w) => Gc::is_dead(w),
            Wr::H(w) => Gc::is_dead(w),
        };
        assert!(!dead, "a WeakRef held by reachable node {id} is dead");
    }
    for c in edges.iter() {
        walk(c, m, seen);
    }
}

impl World {
    /// After every operation: adopts the callbacks' nodes, then checks the records and the
    /// reachable graph against the model.
    fn finish(&mut self) {
        for n in take(&PENDING) {
            self.add_root(n);
        }
        let (fins, drops, fired) = (take(&FINS), take(&DROPS), take(&FIRED));
        let ids: Vec<u32> = self.roots.iter().map(Edge::id).collect();
        assert_eq!(ids, self.ids, "roots");
        with_model(|m| {
            for f in fins {
                let n = &mut m.nodes[f as usize];
                assert!(n.has_fin, "node {f} has no finalizer, yet it ran");
                assert!(
                    !core::mem::replace(&mut n.finalized, true),
                    "{f} finalized twice"
                );
            }
            for d in drops {
                let n = &mut m.nodes[d as usize];
                assert!(
                    !core::mem::replace(&mut n.dropped, true),
                    "{d} dropped twice"
                );
                let fin_due = n.has_fin && !n.unwrapped;
                assert!(
                    !fin_due || n.finalized,
                    "{d} dropped before its finalizer ran"
                );
                m.dropped += 1;
            }
            for j in fired {
                assert!(
                    !core::mem::replace(&mut m.fired[j], true),
                    "callback {j} twice"
                );
            }
            let mut seen = vec![false; m.nodes.len()];
            STORE.with(|s| {
                for r in self.roots.iter().chain(s.borrow().iter()) {
                    walk(r, m, &mut seen);
                }
            });
        });
    }

    /// Drops everything, collects until every node is dropped; with under-reporters, makes
    /// them report everything and collects with full scans. Leaves the heap empty.
    fn wind_down(&mut self) {
        for c in [&TRACE_PANIC, &DROP_PANIC, &CB_PANIC] {
            c.with(|c| c.set(0));
        }
        CB_ALLOC.with(|c| c.set(false));
        gencollect::unfreeze();
        gencollect::enable();
        gencollect::set_debug(DebugFlags::NONE);
        gencollect::clear_garbage();
        self.wrs.clear();
        self.weaks.clear();
        self.ids.clear();
        self.roots.clear();
        drop_outside_handles();
        self.finish();
        let under = with_model(|m| m.under_reporters);
        if !self.collect_all() {
            let (dropped, total) = with_model(|m| (m.dropped, m.nodes.len()));
            if under == 0 {
                dump_left();
            }
            assert!(under > 0, "leaked {} of {total} nodes", total - dropped);
            stat("leaked by under-reporting");
            REPAIR.with(|r| r.set(true));
            gencollect::set_full_scan(true);
            let freed = self.collect_all();
            REPAIR.with(|r| r.set(false));
            if !freed {
                dump_left();
            }
            assert!(freed, "nodes left once every trace reports everything");
        }
        let left = gencollect::get_objects(None).unwrap();
        assert!(
            left.is_empty(),
            "objects left: {:?}",
            left.iter().map(AnyGc::type_name)
        );
        assert_eq!(gencollect::get_freeze_count(), 0);
    }

    /// Full collections (and drops of the stored handles) until every node is dropped, or a
    /// few rounds free nothing more; returns whether every node was dropped.
    fn collect_all(&mut self) -> bool {
        let mut idle = 0;
        while idle < 3 {
            let before = with_model(|m| m.dropped);
            let r = catch_unwind(AssertUnwindSafe(gencollect::collect));
            assert!(r.is_ok(), "collect() panicked with injection off");
            drop_outside_handles();
            self.finish();
            let (dropped, total) = with_model(|m| (m.dropped, m.nodes.len()));
            if dropped == total {
                return true;
            }
            idle = if dropped == before { idle + 1 } else { 0 };
        }
        false
    }
}

/// Drops the handles finalizers stored and the nodes callbacks allocated, until dropping
/// them stores or allocates no more.
fn drop_outside_handles() {
    loop {
        let (stored, pending) = (take(&STORE), take(&PENDING));
        if stored.is_empty() && pending.is_empty() {
            return;
        }
        drop((stored, pending));
    }
}

/// Describes the nodes left (debugging a failure of the leak check).
fn dump_left() {
    let before = gencollect::get_stats();
    let r = gencollect::collect();
    eprintln!(
        "collect() = {r}; stats before {before:?} after {:?}",
        gencollect::get_stats()
    );
    with_model(|m| {
        for (id, n) in m.nodes.iter().enumerate().filter(|(_, n)| !n.dropped) {
            let (e, f, fin) = (&n.edges, n.finalized, n.has_fin);
            eprintln!("left: node {id} edges {e:?} finalizer {fin} finalized {f}");
        }
    });
    for o in gencollect::get_objects(None).unwrap() {
        let (name, count) = (o.type_name(), o.ref_count());
        let id = match (o.downcast_ref::<DNode>(), o.downcast_ref::<HNode>()) {
            (Some(d), _) => format!("D{} beh -", d.body.id),
            (_, Some(h)) => format!("H{} beh {:#x}", h.body.id, h.beh),
            _ => String::new(),
        };
        eprintln!("tracked: {name} {id} count {count}");
    }
}

fn reset(b: &mut Bytes) {
    NEXT_ID.with(|n| n.set(0));
    MODEL.with(|m| *m.borrow_mut() = Model::default());
    NESTED.with(|n| n.set(true));
    let t0 = 1 + b.below(16);
    gencollect::set_threshold(t0, 1 + b.below(3), 1 + b.below(3));
    gencollect::set_full_scan(false);
    gencollect::set_young_hold_threshold(1 << 16);
    gencollect::set_parallel_threshold(1 << 17);
}

fn setup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // libfuzzer-sys's hook aborts on every panic: injected ones must unwind, silently.
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !injected(info.payload()) {
                abort(info);
            }
        }));
    });
    refcount::set_unraisable_hook(Some(Box::new(|u| {
        // Anything but an injected panic already aborted in the panic hook.
        assert!(
            u.message.is_some_and(|m| m.starts_with("injected")),
            "{u:?}"
        );
    })));
    thread_local!(static CALLBACK: () = {
        gencollect::register_callback(on_collection);
    });
    CALLBACK.with(|()| ());
}

fuzz_target!(|data: &[u8]| {
    setup();
    let mut b = Bytes(data);
    reset(&mut b);
    let mut w = World::default();
    for _ in 0..MAX_OPS {
        let mut more = true;
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| more = w.step(&mut b))) {
            assert!(injected(&*p), "a panic that was not injected escaped");
            stat("operations that panicked");
        }
        w.finish();
        if !more {
            break;
        }
    }
    w.wind_down();
    if std::env::var_os("GCRT_FUZZ_STATS").is_some() {
        let traces = TRACES.with(Cell::get);
        STATS.with(|s| eprintln!("stats: traces {traces} {:?}", s.borrow()));
    }
});
