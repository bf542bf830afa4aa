//! Unit tests of the derive's expansion: the tokens it generates and its errors.

use super::expand;

fn expand_str(input: &str) -> Result<String, String> {
    let input = syn::parse_str(input).expect("valid derive input");
    expand(input)
        .map(|t| t.to_string())
        .map_err(|e| e.to_string())
}

fn error(input: &str) -> String {
    expand_str(input).expect_err("expected a derive error")
}

#[test]
fn struct_expansion() {
    let out = expand_str("struct Foo<T, U: Copy> where T: Clone { a: Box<T>, b: U }").unwrap();
    assert!(out.contains("unsafe impl < T , U : Copy > :: gcrt :: Trace for Foo < T , U >"));
    assert!(out.contains("where T : :: gcrt :: Trace , U : :: gcrt :: Trace , T : Clone"));
    assert!(out.contains(":: gcrt :: Trace :: trace (& self . a , tracer) ;"));
    assert!(out.contains(":: gcrt :: Trace :: trace (& self . b , tracer) ;"));
    assert!(out.contains(
        "< Box < T > as :: gcrt :: Trace > :: needs_trace () || < U as :: gcrt :: Trace > :: needs_trace ()"
    ));
    let e = error("struct Foo<'a, T> { a: &'a T }");
    assert!(e.contains("borrows with lifetime `'a`"), "{e}");
    assert!(expand_str("struct Foo<'a> { #[trace(skip)] a: &'a str, b: &'static str }").is_ok());
}

#[test]
fn free_list_sets_the_capacity_and_rejects_anything_but_a_number() {
    let out = expand_str("#[trace(free_list = 100)] struct P { x: f64 }").unwrap();
    assert!(
        out.contains("fn free_list () -> usize where Self : :: core :: marker :: Sized , { 100 }")
    );
    assert!(
        !expand_str("struct P { x: f64 }")
            .unwrap()
            .contains("free_list")
    );
    for bad in [
        "free_list",
        "free_list = \"8\"",
        "free_list = -1",
        "free_list = 1.5",
    ] {
        let e = error(&format!("#[trace({bad})] struct P {{ x: f64 }}"));
        assert!(e.contains("expected `free_list = N`"), "{bad}: {e}");
    }
    let e = error("#[trace(free_list = 1, free_list = 2)] struct P { x: f64 }");
    assert!(e.contains("duplicate `free_list"), "{e}");
}

#[test]
fn labels_wrap_each_field_in_its_name() {
    let out =
        expand_str("#[trace(labels)] struct P { a: Gc<u8>, #[trace(skip)] b: u8, c: Gc<u8> }")
            .unwrap();
    assert!(out.contains("tracer . labeled (\"a\" , | tracer | :: gcrt :: Trace :: trace (& self . a , tracer)) ;"), "{out}");
    assert!(out.contains("labeled (\"c\""));
    assert!(!out.contains("labeled (\"b\""));
    let out = expand_str("#[trace(labels)] enum E { V(Gc<u8>, Gc<u8>) }").unwrap();
    assert!(out.contains("labeled (\"1\""), "{out}");
    assert!(
        !expand_str("struct P { a: Gc<u8> }")
            .unwrap()
            .contains("labeled")
    );
    assert!(error("#[trace(labels = 1)] struct P { a: u8 }").contains("labels"));
}

#[test]
fn only_the_type_itself_with_its_own_parameters_is_a_leaf() {
    let out = expand_str(
        "struct Node<T> { v: T, a: Vec<Node<T>>, b: Vec<Node<u8>>, c: Option<crate::Node<T>> }",
    )
    .unwrap();
    assert!(out.contains("< Vec < __GcrtLeaf > as :: gcrt :: Trace >"));
    assert!(out.contains("< Vec < __GcrtOpaque > as :: gcrt :: Trace >"));
    assert!(out.contains("< Option < __GcrtOpaque > as :: gcrt :: Trace >"));
    let out = expand_str("struct Plain { a: Box<Plain>, b: ::other::Plain }").unwrap();
    assert!(out.contains("< Box < __GcrtLeaf > as :: gcrt :: Trace >"));
    assert!(out.contains("< __GcrtOpaque as :: gcrt :: Trace >"));
}

#[test]
fn recursive_types_become_leaves_in_needs_trace_only() {
    let out = expand_str(
        "#[trace(crate = \"refcount\")] enum Json { Arr(Vec<Json>), Map(Vec<(String, Self)>), Other(other::Json<u8>) }",
    )
    .unwrap();
    assert!(out.contains("< Vec < __GcrtLeaf > as refcount :: Trace >"));
    assert!(out.contains("< Vec < (String , __GcrtLeaf) > as refcount :: Trace >"));
    // Another type of the same name gets the safe answers, not the leaf's.
    assert!(out.contains("< __GcrtOpaque as refcount :: Trace >"));
    assert!(!out.contains("< __GcrtLeaf as refcount :: Trace >"));
    assert!(
        out.contains("struct __GcrtLeaf"),
        "defined where it is used"
    );
    assert!(!out.contains(":: gcrt"));
    assert!(out.contains(
        "Self :: Arr (__field_0) => { refcount :: Trace :: trace (__field_0 , tracer) ; }"
    ));
}

#[test]
fn tracked_and_empty() {
    let out = expand_str("#[trace(tracked)] struct A { n: u8 }").unwrap();
    assert!(out.contains("{ true }"));
    assert!(!out.contains("needs_trace () ||"));
    let out = expand_str("struct Unit;").unwrap();
    assert!(out.contains("{ false }"));
    assert!(out.contains("_tracer"));
    let out = expand_str("enum Never {}").unwrap();
    assert!(out.contains("match * self { }"));
}

#[test]
fn errors() {
    assert!(error("union U { a: u8 }").contains("does not support unions"));
    assert!(error("#[repr(C, packed)] struct P { a: u8 }").contains("repr(packed)"));
    assert!(error("#[trace(foo)] struct S;").contains("unknown `trace` argument `foo` on a type"));
    assert!(error("#[trace(skip)] struct S;").contains("applies to fields"));
    assert!(error("#[trace(crate)] struct S;").contains("expected `crate = \"path\"`"));
    assert!(error("#[trace(crate = \"a b\")] struct S;").contains("not a valid crate path"));
    assert!(error("#[trace(crate = 5)] struct S;").contains("expected a crate path"));
    assert!(error("#[trace(crate = \"a\", crate = \"b\")] struct S;").contains("duplicate"));
    assert!(error("#[trace(tracked = true)] struct S;").contains("takes no value"));
    assert!(error("#[trace] struct S;").contains("expected `#[trace(...)]`"));
    assert!(error("#[trace = \"x\"] struct S;").contains("expected `#[trace(...)]`"));
    assert!(
        error("struct S { #[trace(skipp)] a: u8 }")
            .contains("unknown `trace` argument `skipp` on a field")
    );
    assert!(error("struct S { #[trace(tracked)] a: u8 }").contains("applies to the type"));
    assert!(error("struct S(#[trace(skip(1))] u8);").contains("takes no value"));
    assert!(error("enum E { #[trace(skip)] A(u8) }").contains("not supported on enum variants"));
    assert!(error("enum E { A(#[trace(bad)] u8) }").contains("`bad`"));
}

#[test]
fn all_errors_are_reported() {
    let input = syn::parse_str("struct S { #[trace(a)] x: u8, #[trace(b)] y: u8 }").unwrap();
    let errors = expand(input).unwrap_err();
    assert_eq!(errors.into_iter().count(), 2);
}
