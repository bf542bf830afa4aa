//! Tests for `#[derive(Trace)]`: every reported handle is counted with a [`Visitor`].

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;

use gcrt::{Gc, ObjPtr, Trace, Tracer, Visitor};

/// Counts the handles a value reports.
struct Count(usize);

impl Visitor for Count {
    fn visit(&mut self, _obj: ObjPtr) {
        self.0 += 1;
    }
}

/// Collects the handles a value reports, in order.
struct Collect(Vec<ObjPtr>);

impl Visitor for Collect {
    fn visit(&mut self, obj: ObjPtr) {
        self.0.push(obj);
    }
}

fn count<T: Trace + ?Sized>(value: &T) -> usize {
    let mut count = Count(0);
    value.trace(&mut Tracer::new(&mut count));
    count.0
}

fn collect<T: Trace + ?Sized>(value: &T) -> Vec<ObjPtr> {
    let mut seen = Collect(Vec::new());
    value.trace(&mut Tracer::new(&mut seen));
    seen.0
}

fn needs<T: Trace>() -> bool {
    T::needs_trace()
}

// ---------------------------------------------------------------------------------------
// Structs

#[derive(Trace)]
struct Named {
    a: Gc<u32>,
    name: String,
    b: Gc<String>,
}

#[test]
fn named_struct_reports_each_gc_field() {
    let v = Named {
        a: Gc::new(1u32),
        name: "x".into(),
        b: Gc::new(String::from("b")),
    };
    assert_eq!(count(&v), 2);
    assert_eq!(collect(&v), vec![Gc::as_obj(&v.a), Gc::as_obj(&v.b)]);
    assert!(needs::<Named>());
}

#[derive(Trace)]
struct Tuple(Gc<u32>, i64, Option<Gc<u32>>, Gc<u8>);

#[test]
fn tuple_struct_reports_in_field_order() {
    let a = Gc::new(1u32);
    let b = Gc::new(2u32);
    let c = Gc::new(3u8);
    let v = Tuple(a.clone(), 7, Some(b.clone()), c.clone());
    assert_eq!(count(&v), 3);
    assert_eq!(
        collect(&v),
        vec![Gc::as_obj(&a), Gc::as_obj(&b), Gc::as_obj(&c)]
    );
    let v = Tuple(a.clone(), 7, None, c);
    assert_eq!(count(&v), 2);
}

#[derive(Trace)]
struct Unit;

#[derive(Trace)]
struct EmptyNamed {}

#[derive(Trace)]
struct EmptyTuple();

#[test]
fn empty_structs_report_nothing_and_are_atomic() {
    assert_eq!(count(&Unit), 0);
    assert_eq!(count(&EmptyNamed {}), 0);
    assert_eq!(count(&EmptyTuple()), 0);
    assert!(!needs::<Unit>());
    assert!(!needs::<EmptyNamed>());
    assert!(!needs::<EmptyTuple>());
}

// ---------------------------------------------------------------------------------------
// Enums

#[derive(Trace)]
enum Shape {
    Empty,
    Pair(Gc<u32>, i32, Gc<u32>),
    Named {
        a: Gc<u32>,
        label: String,
        b: Option<Gc<u32>>,
    },
    One(Gc<u32>),
}

#[test]
fn enum_reports_the_fields_of_the_active_variant() {
    let g = Gc::new(1u32);
    assert_eq!(count(&Shape::Empty), 0);
    assert_eq!(count(&Shape::Pair(g.clone(), 0, g.clone())), 2);
    let named = Shape::Named {
        a: g.clone(),
        label: "l".into(),
        b: Some(g.clone()),
    };
    assert_eq!(count(&named), 2);
    let named = Shape::Named {
        a: g.clone(),
        label: "l".into(),
        b: None,
    };
    assert_eq!(count(&named), 1);
    assert_eq!(count(&Shape::One(g)), 1);
    assert!(needs::<Shape>());
}

#[derive(Trace)]
enum Fieldless {
    A,
    B,
    C = 10,
}

#[derive(Trace)]
enum Never {}

#[test]
fn fieldless_and_empty_enums_are_atomic() {
    assert_eq!(count(&Fieldless::A), 0);
    assert_eq!(count(&Fieldless::C), 0);
    assert!(!needs::<Fieldless>());
    assert!(!needs::<Never>());
}

#[derive(Trace)]
enum Leafy {
    Int(i64),
    Text { s: String, n: u8 },
    Nothing,
}

#[test]
fn enum_of_leaves_is_atomic() {
    assert!(!needs::<Leafy>());
    assert_eq!(
        count(&Leafy::Text {
            s: "a".into(),
            n: 1
        }),
        0
    );
}

// ---------------------------------------------------------------------------------------
// Generics

#[derive(Trace)]
struct Pair<T> {
    left: T,
    right: T,
}

#[test]
fn generic_struct_gets_trace_bounds() {
    let a = Gc::new(1u32);
    let p = Pair {
        left: a.clone(),
        right: a.clone(),
    };
    assert_eq!(count(&p), 2);
    assert_eq!(count(&Pair { left: 1, right: 2 }), 0);
    assert!(needs::<Pair<Gc<u32>>>());
    assert!(!needs::<Pair<i32>>());
    assert!(needs::<Pair<Option<Gc<u32>>>>());
}

#[derive(Trace)]
struct Bounded<T: Clone, U, const N: usize = 2>
where
    U: Trace + Default + 'static,
{
    items: [T; N],
    extra: Option<Gc<U>>,
}

#[test]
fn generics_with_where_clause_and_const_params() {
    let b: Bounded<i32, u8> = Bounded {
        items: [1, 2],
        extra: Some(Gc::new(0u8)),
    };
    assert_eq!(count(&b), 1);
    let b: Bounded<Gc<u8>, u8, 3> = Bounded {
        items: [Gc::new(1u8), Gc::new(2u8), Gc::new(3u8)],
        extra: None,
    };
    assert_eq!(count(&b), 3);
    assert!(needs::<Bounded<i32, u8>>());
}

#[derive(Trace)]
struct Borrowing<'a, T>
where
    T: Copy,
{
    #[trace(skip)]
    name: &'a str,
    value: T,
}

#[test]
fn lifetimes_are_kept() {
    let s = String::from("name");
    let b = Borrowing {
        name: &s,
        value: 3u64,
    };
    assert_eq!(count(&b), 0);
    assert!(!needs::<Borrowing<'_, u64>>());
}

#[derive(Trace)]
enum Either<L, R> {
    Left(L),
    Right { r: R },
}

#[test]
fn generic_enum() {
    let g = Gc::new(5u32);
    assert_eq!(count(&Either::<Gc<u32>, i32>::Left(g.clone())), 1);
    assert_eq!(count(&Either::<i32, Gc<u32>>::Right { r: g }), 1);
    assert!(!needs::<Either<i32, String>>());
    assert!(needs::<Either<i32, Gc<u32>>>());
}

#[derive(Trace)]
struct Unsized<T: ?Sized> {
    n: u32,
    tail: T,
}

#[test]
fn maybe_unsized_param() {
    let v: Box<Unsized<[Gc<u8>]>> = Box::new(Unsized {
        n: 0,
        tail: [Gc::new(1u8), Gc::new(2u8)],
    });
    assert_eq!(count(&*v), 2);
    assert!(needs::<Unsized<Gc<u8>>>());
}

// ---------------------------------------------------------------------------------------
// #[trace(skip)] and #[trace(tracked)]

struct NotTrace;

#[derive(Trace)]
struct Skipping {
    kept: Gc<u32>,
    #[trace(skip)]
    skipped: Gc<u32>,
    #[trace(skip)]
    opaque: NotTrace,
}

#[derive(Trace)]
enum SkippingEnum {
    Tuple(#[trace(skip)] Gc<u32>, Gc<u32>),
    Named {
        #[trace(skip)]
        a: Gc<u32>,
        b: Gc<u32>,
        #[trace(skip)]
        c: NotTrace,
    },
}

#[derive(Trace)]
struct OnlySkipped {
    #[trace(skip)]
    g: Gc<u32>,
}

#[test]
fn skipped_fields_are_not_visited() {
    let a = Gc::new(1u32);
    let b = Gc::new(2u32);
    let v = Skipping {
        kept: a.clone(),
        skipped: b.clone(),
        opaque: NotTrace,
    };
    assert_eq!(collect(&v), vec![Gc::as_obj(&a)]);

    let t = SkippingEnum::Tuple(a.clone(), b.clone());
    assert_eq!(collect(&t), vec![Gc::as_obj(&b)]);
    let n = SkippingEnum::Named {
        a: a.clone(),
        b: b.clone(),
        c: NotTrace,
    };
    assert_eq!(collect(&n), vec![Gc::as_obj(&b)]);

    // A skipped field does not count towards `needs_trace` either.
    let o = OnlySkipped { g: a };
    assert_eq!(count(&o), 0);
    assert!(!needs::<OnlySkipped>());
}

#[derive(Trace)]
#[trace(tracked)]
struct AlwaysTracked {
    id: u64,
    name: String,
}

#[test]
fn tracked_forces_needs_trace() {
    assert!(needs::<AlwaysTracked>());
    let v = AlwaysTracked {
        id: 1,
        name: "n".into(),
    };
    assert_eq!(count(&v), 0);
}

// ---------------------------------------------------------------------------------------
// needs_trace

#[derive(Trace)]
struct Atomic {
    s: String,
    n: i32,
}

#[derive(Trace)]
struct MaybeGc {
    n: i32,
    g: Option<Gc<u32>>,
}

#[test]
fn needs_trace_follows_the_fields() {
    assert!(!needs::<Atomic>());
    assert!(needs::<MaybeGc>());
}

#[derive(Trace)]
struct Nested {
    v: Vec<Option<Gc<u32>>>,
    m: HashMap<u32, RefCell<Vec<Gc<u32>>>>,
}

#[test]
fn nested_containers() {
    let g = Gc::new(9u32);
    let n = Nested {
        v: vec![Some(g.clone()), Some(g.clone()), Some(g.clone())],
        m: HashMap::new(),
    };
    assert_eq!(count(&n), 3);

    let mut m = HashMap::new();
    m.insert(1, RefCell::new(vec![g.clone(), g.clone()]));
    let n = Nested {
        v: vec![None, Some(g.clone()), None],
        m,
    };
    assert_eq!(count(&n), 3);
    assert!(needs::<Nested>());
}

// ---------------------------------------------------------------------------------------
// Recursive types

#[derive(Trace)]
enum Expr {
    Lit(i64),
    Add(Box<Expr>, Box<Expr>),
}

#[test]
fn recursive_expr_does_not_recurse_forever() {
    // `Box<T>` answers `true` conservatively, so `Expr` is tracked; the point is that the
    // call returns at all.
    assert!(needs::<Expr>());
    let e = Expr::Add(Box::new(Expr::Lit(1)), Box::new(Expr::Lit(2)));
    assert_eq!(count(&e), 0);
}

#[derive(Trace)]
enum Json {
    Null,
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

#[test]
fn recursive_json_is_atomic() {
    assert!(!needs::<Json>());
    let j = Json::Arr(vec![
        Json::Num(1.0),
        Json::Obj(vec![("k".into(), Json::Null)]),
    ]);
    assert_eq!(count(&j), 0);
}

#[derive(Trace)]
struct List {
    v: i32,
    next: Option<Gc<List>>,
}

#[test]
fn recursive_list_is_tracked() {
    assert!(needs::<List>());
    let tail = Gc::new(List { v: 2, next: None });
    let head = List {
        v: 1,
        next: Some(tail.clone()),
    };
    assert_eq!(collect(&head), vec![Gc::as_obj(&tail)]);
}

#[derive(Trace)]
struct GenericTree<T> {
    value: T,
    kids: Vec<GenericTree<T>>,
    also: Option<Box<Self>>,
}

#[derive(Trace)]
struct SelfVec {
    kids: Vec<Self>,
    n: u8,
}

#[test]
fn recursive_generic_and_self() {
    assert!(!needs::<SelfVec>());
    // `Box<Self>` answers `true` conservatively.
    assert!(needs::<GenericTree<i32>>());
    let g = Gc::new(1u32);
    let leaf = || GenericTree {
        value: g.clone(),
        kids: Vec::new(),
        also: None,
    };
    let t = GenericTree {
        value: g.clone(),
        kids: vec![leaf(), leaf()],
        also: Some(Box::new(leaf())),
    };
    assert_eq!(count(&t), 4);
}

#[derive(Trace)]
enum GcTree {
    Leaf(Gc<u32>),
    Node(Box<GcTree>, Box<GcTree>),
}

#[test]
fn recursive_trace_visits_every_leaf() {
    let g = Gc::new(0u32);
    let leaf = || Box::new(GcTree::Leaf(g.clone()));
    let t = GcTree::Node(leaf(), Box::new(GcTree::Node(leaf(), leaf())));
    assert_eq!(count(&t), 3);
}

// Mutually recursive: `#[trace(tracked)]` on one of them breaks the `needs_trace` cycle.
#[derive(Trace)]
#[trace(tracked)]
struct MutA {
    bs: Vec<MutB>,
    g: Option<Gc<u32>>,
}

#[derive(Trace)]
struct MutB {
    as_: Vec<MutA>,
}

#[test]
fn mutually_recursive_with_tracked() {
    assert!(needs::<MutA>());
    assert!(needs::<MutB>());
    let g = Gc::new(1u32);
    let b = MutB {
        as_: vec![
            MutA {
                bs: vec![],
                g: Some(g.clone()),
            },
            MutA {
                bs: vec![MutB {
                    as_: vec![MutA {
                        bs: vec![],
                        g: Some(g.clone()),
                    }],
                }],
                g: None,
            },
        ],
    };
    assert_eq!(count(&b), 2);
}

// ---------------------------------------------------------------------------------------
// Hygiene and crate paths

#[derive(Trace)]
struct Hygiene {
    tracer: Gc<u32>,
    __field_0: Gc<u32>,
}

#[derive(Trace)]
enum HygieneEnum {
    V { tracer: Gc<u32>, __field_0: Gc<u32> },
    W(Gc<u32>, Gc<u32>),
}

#[test]
fn field_names_do_not_clash_with_generated_names() {
    let g = Gc::new(1u32);
    let h = Hygiene {
        tracer: g.clone(),
        __field_0: g.clone(),
    };
    assert_eq!(count(&h), 2);
    let e = HygieneEnum::V {
        tracer: g.clone(),
        __field_0: g.clone(),
    };
    assert_eq!(count(&e), 2);
    assert_eq!(count(&HygieneEnum::W(g.clone(), g)), 2);
}

mod reexport {
    pub(crate) use gcrt::{Trace, Tracer};
}

#[derive(Trace)]
#[trace(crate = "gcrt")]
struct ExplicitCrate {
    g: Gc<u32>,
}

#[derive(Trace)]
#[trace(crate = crate::reexport, tracked)]
struct UnquotedPath {
    n: u8,
}

#[derive(Trace)]
#[trace(crate = "reexport")]
enum ViaModule {
    A(Vec<ViaModule>),
    B(Gc<u32>),
}

#[test]
fn crate_path_override() {
    let g = Gc::new(1u32);
    assert_eq!(count(&ExplicitCrate { g: g.clone() }), 1);
    assert!(needs::<ExplicitCrate>());
    assert!(needs::<UnquotedPath>());
    let v = ViaModule::A(vec![ViaModule::B(g.clone()), ViaModule::B(g)]);
    assert_eq!(count(&v), 2);
    assert!(needs::<ViaModule>());
}

// The derived types compose with each other and with Gc.
#[derive(Trace)]
struct Outer {
    inner: Named,
    shapes: Vec<Shape>,
    json: Gc<Json>,
}

#[test]
fn derived_types_compose() {
    let g = Gc::new(1u32);
    let o = Outer {
        inner: Named {
            a: g.clone(),
            name: String::new(),
            b: Gc::new(String::new()),
        },
        shapes: vec![Shape::Empty, Shape::One(g.clone())],
        json: Gc::new(Json::Null),
    };
    assert_eq!(count(&o), 4);
    assert!(needs::<Outer>());
}

/// `frozen`: no interior mutability on the way to a handle.
#[test]
fn frozen_is_the_and_of_the_fields() {
    #[derive(Trace)]
    struct Tree {
        l: Option<Gc<Tree>>,
        r: Option<Gc<Tree>>,
    }
    #[derive(Trace)]
    struct Cell2 {
        next: core::cell::RefCell<Option<Gc<Cell2>>>,
    }
    #[derive(Trace)]
    #[trace(tracked)]
    struct Forced {
        x: u8,
    }
    #[derive(Trace)]
    struct Empty;
    assert!(<Tree as Trace>::frozen());
    assert!(!<Cell2 as Trace>::frozen());
    assert!(!<Forced as Trace>::frozen());
    assert!(<Empty as Trace>::frozen());
    // A tree of frozen nodes with untracked children is never tracked.
    let leaf = Gc::new(Tree { l: None, r: None });
    let root = Gc::new(Tree {
        l: Some(leaf.clone()),
        r: Some(leaf),
    });
    assert!(!gcrt::gc::is_tracked(&root));
    assert_eq!(Forced { x: 1 }.x, 1);
}

/// `pure_trace`: tracing runs only gcrt's own code, so a `RefCell` of the type is read
/// without a borrow during the count pass.
#[test]
fn pure_trace_is_the_and_of_the_fields() {
    #[derive(Trace)]
    struct Node {
        next: RefCell<Option<Gc<Node>>>,
        kids: Vec<Gc<Node>>,
        names: HashMap<String, (u32, Option<Gc<Node>>)>,
    }
    #[derive(Trace)]
    enum Json {
        Num(f64),
        Arr(Vec<Json>),
        Obj(Vec<(String, Json)>),
    }
    /// A hand-written impl keeps the default: `false`.
    struct Custom;
    // SAFETY: reports nothing and holds no handle.
    unsafe impl Trace for Custom {
        fn trace(&self, _: &mut Tracer<'_>) {}
    }
    #[derive(Trace)]
    struct WithCustom {
        a: Option<Gc<Node>>,
        c: Custom,
    }
    #[derive(Trace)]
    struct Boxed {
        b: Box<Node>,
    }
    #[derive(Trace)]
    #[trace(tracked)]
    struct Forced {
        x: u8,
    }
    #[derive(Trace)]
    struct Empty;
    assert!(<Node as Trace>::pure_trace());
    assert!(<RefCell<Node> as Trace>::pure_trace());
    // Recursive through `Vec`, answered without asking itself forever.
    assert!(<Json as Trace>::pure_trace());
    assert!(!<WithCustom as Trace>::pure_trace());
    assert!(!<RefCell<WithCustom> as Trace>::pure_trace());
    assert!(!<Boxed as Trace>::pure_trace());
    assert!(!<Forced as Trace>::pure_trace());
    assert!(<Empty as Trace>::pure_trace());
}
