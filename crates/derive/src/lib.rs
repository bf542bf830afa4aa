//! `#[derive(Trace)]` for gcrt.
//!
//! This crate provides the derive macro behind `gcrt::Trace`. Use it through `gcrt`, which
//! re-exports it next to the trait of the same name, so one import brings in both:
//!
//! ```ignore
//! use gcrt::{Gc, Trace};
//!
//! #[derive(Trace)]
//! struct Node {
//!     name: String,                   // cannot hold a `Gc`: contributes nothing
//!     children: Vec<Gc<Node>>,        // every element is reported
//!     parent: Option<Gc<Node>>,       // reported when present
//! }
//! ```
//!
//! # What is generated
//!
//! For a struct or enum the derive writes an `unsafe impl Trace` whose
//!
//! * `trace` calls `Trace::trace` on every field in declaration order (for an enum: on every
//!   field of the variant the value holds), so each strong `Gc` the value owns is reported
//!   exactly once;
//! * `needs_trace` is the `||` of the fields' `needs_trace`, which the compiler folds to a
//!   constant. A type whose fields cannot hold a `Gc` (numbers, strings, ...) is *atomic*:
//!   its objects are never tracked by the cycle collector. Types with no fields (unit
//!   structs, fieldless enums) are atomic too;
//! * `frozen` is the `&&` of the fields' `frozen`: `true` when no field has interior
//!   mutability (`Cell`, `RefCell`) on the way to a handle. An object of a frozen type whose
//!   referents are all untracked is not tracked at creation, like CPython's tuples;
//! * `pure_trace` is the `&&` of the fields' `pure_trace`: `true` when tracing runs only
//!   gcrt's own code, so that a `RefCell` holding the type can be read without a borrow
//!   while the collector counts references.
//!
//! Every generic type parameter gets a `T: Trace` bound; existing bounds, `where` clauses,
//! lifetimes and const generics are kept as they are:
//!
//! ```ignore
//! #[derive(Trace)]
//! struct Pair<T> {
//!     left: T,
//!     right: T,
//! }
//! // unsafe impl<T> Trace for Pair<T> where T: Trace { .. }
//! ```
//!
//! Unions are rejected (the derive cannot know which field is active), and so are
//! `#[repr(packed)]` types (tracing takes references to fields, which may be unaligned):
//! implement `Trace` by hand for those.
//!
//! # Attributes
//!
//! ## `#[trace(skip)]` on a field
//!
//! The field is neither traced nor counted in `needs_trace`. Use it for fields whose type
//! does not implement `Trace`, or that hold nothing the collector needs to see.
//!
//! ```ignore
//! #[derive(Trace)]
//! struct Cached {
//!     value: Gc<Data>,
//!     #[trace(skip)]
//!     file: std::fs::File, // does not implement `Trace`
//! }
//! ```
//!
//! Skipping a field that holds a `Gc` is memory-safe: the collector sees the handle as a
//! reference from outside and keeps its target alive. But a reference cycle running through
//! a skipped field is never collected: it leaks.
//!
//! ## `#[trace(tracked)]` on the type
//!
//! `needs_trace` returns `true` without looking at the fields: the type's objects are always
//! tracked by the cycle collector. This is always safe (it costs a larger header and a place
//! in the collector's lists), and it is the fix for mutually recursive types (see below).
//!
//! ```ignore
//! #[derive(Trace)]
//! #[trace(tracked)]
//! struct Handle {
//!     id: u64,
//! }
//! ```
//!
//! ## `#[trace(crate = "path")]` on the type
//!
//! The generated code names the trait as `::gcrt::Trace` (and also `::gcrt::Tracer` and the
//! hidden `::gcrt::__Leaf`). Code that reaches gcrt under another name, such as the
//! workspace's own crates, which do not depend on `gcrt`, sets the path of the crate that
//! exports those items:
//!
//! ```ignore
//! // Inside the `refcount` crate itself:
//! #[derive(Trace)]
//! #[trace(crate = "crate")]
//! struct Cell2 {
//!     a: Gc<u32>,
//! }
//!
//! // In a crate that depends on `refcount` but not on `gcrt`:
//! #[derive(Trace)]
//! #[trace(crate = "refcount")]
//! struct Thing {
//!     a: refcount::Gc<u32>,
//! }
//! ```
//!
//! The path may also be written without quotes: `#[trace(crate = refcount)]`. Several
//! arguments can share one attribute: `#[trace(tracked, crate = "refcount")]`.
//!
//! # Recursive types
//!
//! A type that contains itself, directly or behind `Box`, `Vec`, `Option` and the like,
//! would make `needs_trace` ask itself the same question forever:
//!
//! ```ignore
//! #[derive(Trace)]
//! enum Json {
//!     Num(f64),
//!     Arr(Vec<Json>), // Vec<Json>::needs_trace() asks Json::needs_trace()
//! }
//! ```
//!
//! So inside the `needs_trace` of the derived type (not inside `trace`), every mention of the
//! type in a field type, as `Self` or as a path whose last segment is the type's name (with
//! any generic arguments), is replaced by a leaf type that answers `false`. A copy of the
//! type cannot add a `Gc` that its other fields do not already have, so the answer is still
//! exact (the same holds for `frozen` and `pure_trace`, where the leaf answers `true`: a copy
//! of the type is as frozen and as pure as the type itself): `Json` above is atomic, while
//!
//! ```ignore
//! #[derive(Trace)]
//! struct List {
//!     value: i32,
//!     next: Option<Gc<List>>, // a `Gc` is always traced
//! }
//! ```
//!
//! is tracked. (`Box<T>` answers `true` conservatively, so a type such as
//! `enum Expr { Lit(i64), Add(Box<Expr>, Box<Expr>) }` is tracked as well.)
//!
//! The replacement is by name, so an unrelated type with the same name in another module is
//! also treated as a leaf; that can only make the collector miss cycles through it (leak),
//! never free a live value. Mark such a type `#[trace(tracked)]` if it matters.
//!
//! ## Mutually recursive types
//!
//! The replacement only sees the type being derived. Two types that contain each other
//!
//! ```ignore
//! #[derive(Trace)]
//! struct A {
//!     bs: Vec<B>,
//! }
//!
//! #[derive(Trace)]
//! struct B {
//!     as_: Vec<A>,
//! }
//! ```
//!
//! compile, but `A::needs_trace()` calls `B::needs_trace()` which calls `A::needs_trace()`
//! again, until the stack overflows at run time. Put `#[trace(tracked)]` on one of them (at
//! least one type in every such cycle): its `needs_trace` then answers `true` without
//! looking at its fields, which breaks the recursion.
//!
//! # Errors
//!
//! Unknown or malformed `#[trace(..)]` arguments, `skip` on a type, `crate`/`tracked` on a
//! field, and `#[trace(..)]` on an enum variant are compile errors pointing at the offending
//! argument.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{
    Attribute, Data, DeriveInput, Field, Fields, GenericParam, Generics, Ident, Index, LitStr,
    Path, Token, Type, TypeParamBound, WherePredicate, parse_macro_input, parse_quote,
};

/// Derives `gcrt::Trace` for a struct or enum; see the [crate docs](crate) for the
/// generated code and the `#[trace(..)]` attributes.
#[proc_macro_derive(Trace, attributes(trace))]
pub fn derive_trace(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Folds `next` into `acc`, so that all errors are reported at once.
fn push_error(acc: &mut Option<syn::Error>, next: syn::Error) {
    match acc {
        Some(e) => e.combine(next),
        None => *acc = Some(next),
    }
}

fn finish<T>(value: T, errors: Option<syn::Error>) -> syn::Result<T> {
    match errors {
        Some(e) => Err(e),
        None => Ok(value),
    }
}

/// Checks that `attr` has the form `#[trace(...)]` and runs `f` on each argument.
fn parse_trace_attr(
    attr: &Attribute,
    f: impl FnMut(ParseNestedMeta<'_>) -> syn::Result<()>,
) -> syn::Result<()> {
    if let syn::Meta::List(_) = attr.meta {
        attr.parse_nested_meta(f)
    } else {
        Err(syn::Error::new_spanned(
            attr,
            "expected `#[trace(...)]`, e.g. `#[trace(skip)]` on a field or \
             `#[trace(tracked)]` / `#[trace(crate = \"path\")]` on the type",
        ))
    }
}

/// Fails if a bare flag such as `skip` is followed by a value.
fn expect_flag(meta: &ParseNestedMeta<'_>, name: &str) -> syn::Result<()> {
    if meta.input.is_empty() || meta.input.peek(Token![,]) {
        Ok(())
    } else {
        Err(meta.error(format_args!(
            "`{name}` takes no value: write `#[trace({name})]`"
        )))
    }
}

/// Options given by `#[trace(..)]` on the type.
struct TypeOptions {
    /// Path of the crate exporting `Trace`, `Tracer` and `__Leaf`.
    krate: Path,
    /// `#[trace(tracked)]`: `needs_trace` is always `true`.
    tracked: bool,
}

fn type_options(attrs: &[Attribute]) -> syn::Result<TypeOptions> {
    let mut krate: Option<Path> = None;
    let mut tracked: Option<Span> = None;
    let mut errors = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("trace")) {
        let res = parse_trace_attr(attr, |meta| {
            if meta.path.is_ident("crate") {
                if !meta.input.peek(Token![=]) {
                    return Err(meta.error(
                        "expected `crate = \"path\"`, e.g. `#[trace(crate = \"refcount\")]`",
                    ));
                }
                let value = meta.value()?;
                let path = if value.peek(LitStr) {
                    let lit: LitStr = value.parse()?;
                    lit.parse_with(Path::parse_mod_style).map_err(|_| {
                        syn::Error::new(
                            lit.span(),
                            format_args!(
                                "`{}` is not a valid crate path; expected e.g. \
                                 \"gcrt\", \"::gcrt\", \"crate\" or \"my_crate::gc\"",
                                lit.value()
                            ),
                        )
                    })?
                } else {
                    Path::parse_mod_style(value).map_err(|e| {
                        syn::Error::new(
                            e.span(),
                            "expected a crate path, e.g. `crate = \"refcount\"`",
                        )
                    })?
                };
                if krate.is_some() {
                    return Err(meta.error("duplicate `crate = ...` argument"));
                }
                krate = Some(path);
                Ok(())
            } else if meta.path.is_ident("tracked") {
                expect_flag(&meta, "tracked")?;
                if tracked.is_some() {
                    return Err(meta.error("duplicate `tracked` argument"));
                }
                tracked = Some(meta.path.span());
                Ok(())
            } else if meta.path.is_ident("skip") {
                Err(meta.error(
                    "`skip` applies to fields, not to the type: put `#[trace(skip)]` on the \
                     field to leave out",
                ))
            } else {
                Err(meta.error(format_args!(
                    "unknown `trace` argument `{}` on a type; expected `tracked` or \
                     `crate = \"path\"`",
                    path_name(&meta.path)
                )))
            }
        });
        if let Err(e) = res {
            push_error(&mut errors, e);
        }
    }
    let options = TypeOptions {
        krate: krate.unwrap_or_else(|| parse_quote!(::gcrt)),
        tracked: tracked.is_some(),
    };
    finish(options, errors)
}

/// Whether the field carries `#[trace(skip)]`.
fn field_skipped(field: &Field) -> syn::Result<bool> {
    let mut skip = false;
    let mut errors = None;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("trace")) {
        let res = parse_trace_attr(attr, |meta| {
            if meta.path.is_ident("skip") {
                expect_flag(&meta, "skip")?;
                if skip {
                    return Err(meta.error("duplicate `skip` argument"));
                }
                skip = true;
                Ok(())
            } else if meta.path.is_ident("crate") || meta.path.is_ident("tracked") {
                Err(meta.error(format_args!(
                    "`{}` applies to the type, not to a field: put it in a `#[trace(..)]` \
                     attribute on the struct or enum",
                    path_name(&meta.path)
                )))
            } else {
                Err(meta.error(format_args!(
                    "unknown `trace` argument `{}` on a field; expected `skip`",
                    path_name(&meta.path)
                )))
            }
        });
        if let Err(e) = res {
            push_error(&mut errors, e);
        }
    }
    finish(skip, errors)
}

fn path_name(path: &Path) -> String {
    quote!(#path).to_string().replace(' ', "")
}

/// Rejects `#[repr(packed)]`, whose fields cannot be borrowed.
fn check_not_packed(attrs: &[Attribute]) -> syn::Result<()> {
    for attr in attrs.iter().filter(|a| a.path().is_ident("repr")) {
        let mut packed = false;
        // Malformed `repr`s are left for the compiler to report.
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("packed") {
                packed = true;
            }
            if meta.input.peek(syn::token::Paren) {
                let _args;
                syn::parenthesized!(_args in meta.input);
            }
            Ok(())
        });
        if packed {
            return Err(syn::Error::new_spanned(
                attr,
                "#[derive(Trace)] does not support #[repr(packed)] types: tracing borrows \
                 every field, and fields of a packed type may be unaligned; implement \
                 `Trace` by hand",
            ));
        }
    }
    Ok(())
}

/// Type parameters declared `?Sized`: a field of such a type cannot answer `needs_trace`.
fn maybe_unsized_params(generics: &Generics) -> Vec<Ident> {
    fn has_maybe_sized<'a>(mut bounds: impl Iterator<Item = &'a TypeParamBound>) -> bool {
        bounds.any(|b| {
            matches!(b, TypeParamBound::Trait(t)
                if matches!(t.modifier, syn::TraitBoundModifier::Maybe(_)))
        })
    }
    let mut out: Vec<Ident> = generics
        .type_params()
        .filter(|p| has_maybe_sized(p.bounds.iter()))
        .map(|p| p.ident.clone())
        .collect();
    if let Some(wc) = &generics.where_clause {
        for pred in &wc.predicates {
            if let WherePredicate::Type(pt) = pred
                && let Type::Path(tp) = &pt.bounded_ty
                && tp.qself.is_none()
                && let Some(ident) = tp.path.get_ident()
                && has_maybe_sized(pt.bounds.iter())
            {
                out.push(ident.clone());
            }
        }
    }
    out
}

/// Replaces the type being derived (`Self`, or any path ending in its name) by the leaf type.
struct ReplaceSelf<'a> {
    name: &'a Ident,
    leaf: Type,
}

impl VisitMut for ReplaceSelf<'_> {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::Path(tp) = ty
            && tp.qself.is_none()
            && let Some(last) = tp.path.segments.last()
            && (last.ident == *self.name || (tp.path.segments.len() == 1 && last.ident == "Self"))
        {
            *ty = self.leaf.clone();
            return;
        }
        visit_mut::visit_type_mut(self, ty);
    }

    fn visit_qself_mut(&mut self, _: &mut syn::QSelf) {
        // `<Foo as Trait>::Assoc` names another type; rewriting `Foo` would break it.
    }
}

/// Builds the term of a type-level question (`needs_trace`, `frozen` or `pure_trace`) for one
/// field type.
struct NeedsTrace<'a> {
    krate: &'a Path,
    unsized_params: Vec<Ident>,
    replace: ReplaceSelf<'a>,
    /// The `Trace` method asked.
    method: Ident,
    /// The safe answer for a field whose type cannot be asked (unsized): `true` for
    /// `needs_trace`, `false` for `frozen` and `pure_trace`.
    unknown: bool,
}

impl NeedsTrace<'_> {
    fn term(&mut self, ty: &Type) -> TokenStream2 {
        let krate = self.krate;
        let method = &self.method;
        let unknown = self.unknown;
        match ty {
            Type::Paren(p) => self.term(&p.elem),
            Type::Group(g) => self.term(&g.elem),
            // Unsized field types cannot call the methods (they require `Self: Sized`).
            Type::Slice(s) => self.term(&s.elem),
            Type::TraitObject(_) => quote!(#unknown),
            Type::Path(tp)
                if tp.qself.is_none() && tp.path.get_ident().is_some_and(|id| id == "str") =>
            {
                // Holds no handle: nothing to trace, nothing that can change.
                let answer = !unknown;
                quote!(#answer)
            }
            Type::Path(tp)
                if tp.qself.is_none()
                    && tp
                        .path
                        .get_ident()
                        .is_some_and(|id| self.unsized_params.contains(id)) =>
            {
                quote!(#unknown)
            }
            _ => {
                let mut ty = ty.clone();
                self.replace.visit_type_mut(&mut ty);
                quote!(<#ty as #krate::Trace>::#method())
            }
        }
    }
}

fn expand(input: DeriveInput) -> syn::Result<TokenStream2> {
    let options = type_options(&input.attrs)?;
    check_not_packed(&input.attrs)?;
    let krate = &options.krate;
    let name = &input.ident;

    // Fields to trace: how to reach each (`self.a` or a match binding) and its type.
    let tracer = Ident::new("tracer", Span::mixed_site());
    let mut field_types: Vec<&Type> = Vec::new();
    let mut errors = None;
    let mut any_traced = false;

    let body = match &input.data {
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                "#[derive(Trace)] does not support unions: the derive cannot know which \
                 field is active; write `unsafe impl Trace` by hand",
            ));
        }
        Data::Struct(s) => {
            let mut calls = Vec::new();
            for (i, field) in s.fields.iter().enumerate() {
                match field_skipped(field) {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(e) => {
                        push_error(&mut errors, e);
                        continue;
                    }
                }
                let member = match &field.ident {
                    Some(ident) => quote!(#ident),
                    None => {
                        let index = Index {
                            index: i as u32,
                            span: field.ty.span(),
                        };
                        quote!(#index)
                    }
                };
                calls.push(quote!(#krate::Trace::trace(&self.#member, #tracer);));
                field_types.push(&field.ty);
            }
            any_traced = !calls.is_empty();
            quote!(#(#calls)*)
        }
        Data::Enum(e) => {
            let mut arms = Vec::new();
            for variant in &e.variants {
                if let Some(attr) = variant.attrs.iter().find(|a| a.path().is_ident("trace")) {
                    push_error(
                        &mut errors,
                        syn::Error::new_spanned(
                            attr,
                            "`#[trace(..)]` is not supported on enum variants; put \
                             `#[trace(skip)]` on the variant's fields instead",
                        ),
                    );
                }
                let vname = &variant.ident;
                let mut calls = Vec::new();
                let mut patterns = Vec::new();
                for (i, field) in variant.fields.iter().enumerate() {
                    let skip = field_skipped(field).unwrap_or_else(|e| {
                        push_error(&mut errors, e);
                        true
                    });
                    let binding = format_ident!("__field_{}", i, span = Span::mixed_site());
                    match (&field.ident, skip) {
                        (Some(ident), false) => patterns.push(quote!(#ident: #binding)),
                        (Some(_), true) => {}
                        (None, false) => patterns.push(quote!(#binding)),
                        (None, true) => patterns.push(quote!(_)),
                    }
                    if !skip {
                        calls.push(quote!(#krate::Trace::trace(#binding, #tracer);));
                        field_types.push(&field.ty);
                    }
                }
                any_traced |= !calls.is_empty();
                let pattern = match &variant.fields {
                    Fields::Named(_) => quote!(Self::#vname { #(#patterns,)* .. }),
                    Fields::Unnamed(_) => quote!(Self::#vname ( #(#patterns),* )),
                    Fields::Unit => quote!(Self::#vname),
                };
                arms.push(quote!(#pattern => { #(#calls)* }));
            }
            if arms.is_empty() {
                quote!(match *self {})
            } else {
                quote!(match self { #(#arms)* })
            }
        }
    };
    let body = finish(body, errors)?;

    // The type-level questions. `needs_trace` is the `||` of the fields' answers, `frozen` and
    // `pure_trace` the `&&`: `any` picks the operator, and is also the safe answer for a field that cannot
    // be asked and for `#[trace(tracked)]`, which answers without asking the fields (the way
    // out of mutual recursion); a type with no traced field gives the other answer.
    let question = |method: &str, any: bool| {
        if options.tracked {
            return quote!(#any);
        }
        let mut builder = NeedsTrace {
            krate,
            unsized_params: maybe_unsized_params(&input.generics),
            replace: ReplaceSelf {
                name,
                leaf: parse_quote!(#krate::__Leaf),
            },
            method: Ident::new(method, Span::call_site()),
            unknown: any,
        };
        let none = !any;
        let mut terms = field_types.iter().map(|ty| builder.term(ty));
        let first = terms.next().unwrap_or_else(|| quote!(#none));
        terms.fold(first, |acc, term| {
            if any {
                quote!(#acc || #term)
            } else {
                quote!(#acc && #term)
            }
        })
    };
    let needs_trace = question("needs_trace", true);
    let frozen = question("frozen", false);
    let pure_trace = question("pure_trace", false);

    // `T: Trace` for every type parameter, then the original `where` predicates.
    let mut generics = input.generics.clone();
    let mut predicates: Vec<WherePredicate> = input
        .generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Type(t) => {
                let ident = &t.ident;
                Some(parse_quote!(#ident: #krate::Trace))
            }
            _ => None,
        })
        .collect();
    if let Some(wc) = generics.where_clause.take() {
        predicates.extend(wc.predicates);
    }
    if !predicates.is_empty() {
        generics.where_clause = Some(parse_quote!(where #(#predicates),*));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    let tracer_param = if any_traced {
        tracer
    } else {
        Ident::new("_tracer", Span::mixed_site())
    };

    // SAFETY (of the generated impl): `trace` calls `Trace::trace` once on every field the
    // value owns (minus `#[trace(skip)]` fields, and under-reporting is safe), never reports
    // anything else, and neither drops nor replaces any handle.
    Ok(quote! {
        #[automatically_derived]
        unsafe impl #impl_generics #krate::Trace for #name #ty_generics #where_clause {
            #[inline]
            fn trace(&self, #tracer_param: &mut #krate::Tracer<'_>) {
                #body
            }

            #[inline(always)]
            fn needs_trace() -> bool
            where
                Self: ::core::marker::Sized,
            {
                #needs_trace
            }

            #[inline(always)]
            fn frozen() -> bool
            where
                Self: ::core::marker::Sized,
            {
                #frozen
            }

            #[inline(always)]
            fn pure_trace() -> bool
            where
                Self: ::core::marker::Sized,
            {
                #pure_trace
            }
        }
    })
}

#[cfg(test)]
mod tests {
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
        let out =
            expand_str("struct Foo<'a, T, U: Copy> where T: Clone { a: &'a T, b: U }").unwrap();
        assert!(
            out.contains(
                "unsafe impl < 'a , T , U : Copy > :: gcrt :: Trace for Foo < 'a , T , U >"
            )
        );
        assert!(out.contains("where T : :: gcrt :: Trace , U : :: gcrt :: Trace , T : Clone"));
        assert!(out.contains(":: gcrt :: Trace :: trace (& self . a , tracer) ;"));
        assert!(out.contains(":: gcrt :: Trace :: trace (& self . b , tracer) ;"));
        assert!(out.contains(
            "< & 'a T as :: gcrt :: Trace > :: needs_trace () || < U as :: gcrt :: Trace > :: needs_trace ()"
        ));
    }

    #[test]
    fn recursive_types_become_leaves_in_needs_trace_only() {
        let out = expand_str(
            "#[trace(crate = \"refcount\")] enum Json { Arr(Vec<Json>), Map(Vec<(String, Self)>), Other(other::Json<u8>) }",
        )
        .unwrap();
        assert!(out.contains("< Vec < refcount :: __Leaf > as refcount :: Trace >"));
        assert!(out.contains("< Vec < (String , refcount :: __Leaf) > as refcount :: Trace >"));
        assert!(out.contains("< refcount :: __Leaf as refcount :: Trace >"));
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
        assert!(
            error("#[trace(foo)] struct S;").contains("unknown `trace` argument `foo` on a type")
        );
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
        assert!(
            error("enum E { #[trace(skip)] A(u8) }").contains("not supported on enum variants")
        );
        assert!(error("enum E { A(#[trace(bad)] u8) }").contains("`bad`"));
    }

    #[test]
    fn all_errors_are_reported() {
        let input = syn::parse_str("struct S { #[trace(a)] x: u8, #[trace(b)] y: u8 }").unwrap();
        let errors = expand(input).unwrap_err();
        assert_eq!(errors.into_iter().count(), 2);
    }
}
