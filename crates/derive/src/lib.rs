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
//! The bound sits on the impl only, so a generic type that holds handles to itself needs
//! none on its declaration (`Gc` has no bound on its own, as `Rc`):
//!
//! ```ignore
//! #[derive(Trace)]
//! struct Node<T> {
//!     v: T,
//!     next: RefCell<Option<Gc<Node<T>>>>,
//! }
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
//! ## `#[trace(free_list = N)]` on the type
//!
//! The type gets a free list of `N` blocks, as CPython's floats, lists and dicts have: the
//! block of a dead object waits there for the type's next object instead of going back to
//! the allocator, and `gc::free_list_stats()` reports how many allocations it served. Full
//! collections empty it.
//!
//! ```ignore
//! #[derive(Trace)]
//! #[trace(free_list = 100)]
//! struct Vec3 {
//!     x: f64,
//!     y: f64,
//!     z: f64,
//! }
//! ```
//!
//! ## `#[trace(labels)]` on the type
//!
//! Each field's handles are reported under the field's name (`Tracer::labeled`), so that
//! inspection tools name the edges: `gc::dump_dot` labels them. The collector ignores
//! labels; they cost a visitor call per field only when an inspection tool traces.
//!
//! ```ignore
//! #[derive(Trace)]
//! #[trace(labels)]
//! struct Page {
//!     document: Gc<Document>, // edges drawn as `document`
//! }
//! ```
//!
//! ## `#[trace(crate = "path")]` on the type
//!
//! The generated code names the trait as `::gcrt::Trace` (and also `::gcrt::Tracer`). Code
//! that reaches gcrt under another name, such as the
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
//! type in a field type, as `Self` or as its name alone with its own generic parameters, is
//! replaced by a leaf type that answers `false`. A copy of the
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
//! Any other path that ends in the type's name (`other::Json`, `crate::json::Json`, or
//! `Node<u8>` inside `Node<T>`) may be another type, or the same type with other answers, and
//! asking it could recurse forever: it gets the safe answers instead (may hold a `Gc`, not
//! frozen, not pure). That only costs speed: such a type is always tracked, and a `RefCell`
//! holding it is borrowed while the collector reads it.
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
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{
    Data, DeriveInput, Fields, GenericParam, Generics, Ident, Index, Path, Token, Type,
    TypeParamBound, Variant, WherePredicate, parse_macro_input, parse_quote,
};

mod attrs;
mod replace;

use attrs::{TypeOptions, check_not_packed, field_skipped, type_options};
use replace::ReplaceSelf;

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

/// Expands `#[derive(Trace)]` on `input`: checks the type's attributes, then puts together
/// the `trace` body, the answers of the type-level questions and the bounds into one impl.
fn expand(input: DeriveInput) -> syn::Result<TokenStream2> {
    let options = type_options(&input.attrs)?;
    check_not_packed(&input.attrs)?;
    let krate = &options.krate;
    let tracer = Ident::new("tracer", Span::mixed_site());
    let body = trace_body(&input.data, krate, &tracer, options.labels)?;
    let answers = TypeAnswers {
        needs_trace: type_question(&input, &options, &body.field_types, "needs_trace", true),
        frozen: type_question(&input, &options, &body.field_types, "frozen", false),
        pure_trace: type_question(&input, &options, &body.field_types, "pure_trace", false),
        free_list: free_list_method(options.free_list),
    };
    let generics = bounded_generics(&input.generics, krate);
    Ok(assemble_impl(
        &input.ident,
        krate,
        &generics,
        &tracer_param(&tracer, &body),
        &body.tokens,
        &answers,
    ))
}

/// The `trace` method's body, and what the rest of the impl needs to know about the fields it
/// traces.
struct TraceBody<'a> {
    /// The statements of `trace`: one `Trace::trace` call per traced field (for an enum, in a
    /// `match` arm per variant).
    tokens: TokenStream2,
    /// Types of the traced fields, in order: one term each in the type-level questions.
    field_types: Vec<&'a Type>,
}

/// Generates the `trace` body of a struct or enum, collecting the errors of every field's
/// `#[trace(..)]` attributes so that they are reported together. Unions are rejected: the
/// derive cannot know which field is active.
fn trace_body<'a>(
    data: &'a Data,
    krate: &'a Path,
    tracer: &'a Ident,
    labels: bool,
) -> syn::Result<TraceBody<'a>> {
    let mut builder = BodyBuilder {
        krate,
        tracer,
        labels,
        field_types: Vec::new(),
        errors: None,
    };
    let tokens = match data {
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                "#[derive(Trace)] does not support unions: the derive cannot know which \
                 field is active; write `unsafe impl Trace` by hand",
            ));
        }
        Data::Struct(s) => builder.struct_calls(&s.fields),
        Data::Enum(e) => builder.enum_match(&e.variants),
    };
    let body = TraceBody {
        tokens,
        field_types: builder.field_types,
    };
    finish(body, builder.errors)
}

/// State shared by the steps of [`trace_body`]: where the generated calls point, and what the
/// walk over the fields has gathered so far.
struct BodyBuilder<'a> {
    /// Path of the crate exporting `Trace`.
    krate: &'a Path,
    /// The name of `trace`'s tracer parameter.
    tracer: &'a Ident,
    /// Whether each field's handles are reported under its name (`#[trace(labels)]`).
    labels: bool,
    /// Types of the fields traced so far, in declaration order.
    field_types: Vec<&'a Type>,
    /// Errors found so far in the fields' and variants' attributes.
    errors: Option<syn::Error>,
}

impl<'a> BodyBuilder<'a> {
    /// `Trace::trace(&self.field, tracer);` for every field of a struct not marked
    /// `#[trace(skip)]`, in declaration order.
    fn struct_calls(&mut self, fields: &'a Fields) -> TokenStream2 {
        let mut calls = Vec::new();
        for (i, field) in fields.iter().enumerate() {
            match field_skipped(field) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    push_error(&mut self.errors, e);
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
            if let Err(e) = check_not_borrowed(&field.ty) {
                push_error(&mut self.errors, e);
                continue;
            }
            let name = member.to_string();
            calls.push(self.call(&name, quote!(&self.#member)));
            self.field_types.push(&field.ty);
        }
        quote!(#(#calls)*)
    }

    /// The statement that traces one field (`value` is an expression of a reference to
    /// it), under the field's name with `#[trace(labels)]`.
    fn call(&self, name: &str, value: TokenStream2) -> TokenStream2 {
        let (krate, tracer) = (self.krate, self.tracer);
        if self.labels {
            quote!(#tracer.labeled(#name, |#tracer| #krate::Trace::trace(#value, #tracer));)
        } else {
            quote!(#krate::Trace::trace(#value, #tracer);)
        }
    }

    /// A `match` on the enum's value with one arm per variant; a fieldless enum, which has no
    /// values, gets the empty `match *self {}`.
    fn enum_match(&mut self, variants: &'a Punctuated<Variant, Token![,]>) -> TokenStream2 {
        let arms: Vec<_> = variants.iter().map(|v| self.variant_arm(v)).collect();
        if arms.is_empty() {
            quote!(match *self {})
        } else {
            quote!(match self { #(#arms)* })
        }
    }

    /// The `match` arm of one enum variant: binds each field not marked `#[trace(skip)]` and
    /// traces it. `#[trace(..)]` on the variant itself is an error, since no argument applies
    /// to a variant.
    fn variant_arm(&mut self, variant: &'a Variant) -> TokenStream2 {
        if let Some(attr) = variant.attrs.iter().find(|a| a.path().is_ident("trace")) {
            push_error(
                &mut self.errors,
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
                push_error(&mut self.errors, e);
                true
            });
            let binding = format_ident!("__field_{}", i, span = Span::mixed_site());
            match (&field.ident, skip) {
                (Some(ident), false) => patterns.push(quote!(#ident: #binding)),
                (Some(_), true) => {}
                (None, false) => patterns.push(quote!(#binding)),
                (None, true) => patterns.push(quote!(_)),
            }
            if !skip && let Err(e) = check_not_borrowed(&field.ty) {
                push_error(&mut self.errors, e);
            } else if !skip {
                let name = match &field.ident {
                    Some(ident) => ident.to_string(),
                    None => i.to_string(),
                };
                calls.push(self.call(&name, quote!(#binding)));
                self.field_types.push(&field.ty);
            }
        }
        let pattern = match &variant.fields {
            Fields::Named(_) => quote!(Self::#vname { #(#patterns,)* .. }),
            Fields::Unnamed(_) => quote!(Self::#vname ( #(#patterns),* )),
            Fields::Unit => quote!(Self::#vname),
        };
        quote!(#pattern => { #(#calls)* })
    }
}

/// `trace`'s tracer parameter: `tracer`, or `_tracer` when no field is traced, so that the
/// generated code does not warn about an unused variable.
fn tracer_param(tracer: &Ident, body: &TraceBody<'_>) -> Ident {
    if body.field_types.is_empty() {
        Ident::new("_tracer", Span::mixed_site())
    } else {
        tracer.clone()
    }
}

/// The bodies of the three type-level methods.
struct TypeAnswers {
    needs_trace: TokenStream2,
    frozen: TokenStream2,
    pure_trace: TokenStream2,
    /// The `free_list` method, if `#[trace(free_list = N)]` asked for one.
    free_list: TokenStream2,
}

/// The body of one type-level question (`method` is `needs_trace`, `frozen` or `pure_trace`).
///
/// `needs_trace` is the `||` of the fields' answers, `frozen` and `pure_trace` the `&&`: `any`
/// picks the operator, and is also the safe answer for a field that cannot be asked and for
/// `#[trace(tracked)]`, which answers without asking the fields (the way out of mutual
/// recursion); a type with no traced field gives the other answer.
fn type_question(
    input: &DeriveInput,
    options: &TypeOptions,
    field_types: &[&Type],
    method: &str,
    any: bool,
) -> TokenStream2 {
    if options.tracked {
        return quote!(#any);
    }
    let krate = &options.krate;
    let mut builder = NeedsTrace {
        krate,
        unsized_params: maybe_unsized_params(&input.generics),
        replace: ReplaceSelf::new(input),
        method: Ident::new(method, Span::call_site()),
        unknown: any,
    };
    let none = !any;
    let terms: Vec<TokenStream2> = field_types.iter().map(|ty| builder.term(ty)).collect();
    let mut terms = terms.into_iter();
    let first = terms.next().unwrap_or_else(|| quote!(#none));
    let answer = terms.fold(first, |acc, term| {
        if any {
            quote!(#acc || #term)
        } else {
            quote!(#acc && #term)
        }
    });
    let definitions = builder.replace.definitions(krate);
    if definitions.is_empty() {
        answer
    } else {
        quote!({ #definitions #answer })
    }
}

/// The type's generics for the impl: a `T: Trace` bound for every type parameter, followed by
/// the original `where` predicates. Parameters, their inline bounds, lifetimes and const
/// generics are kept as they are.
fn bounded_generics(input: &Generics, krate: &Path) -> Generics {
    let mut generics = input.clone();
    let mut predicates: Vec<WherePredicate> = input
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
    generics
}

/// Puts the parts together into the `unsafe impl Trace` for the type `name`.
fn assemble_impl(
    name: &Ident,
    krate: &Path,
    generics: &Generics,
    tracer_param: &Ident,
    body: &TokenStream2,
    answers: &TypeAnswers,
) -> TokenStream2 {
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let TypeAnswers {
        needs_trace,
        frozen,
        pure_trace,
        free_list,
    } = answers;

    // SAFETY (of the generated impl): `trace` calls `Trace::trace` once on every field the
    // value owns (minus `#[trace(skip)]` fields, and under-reporting is safe), never reports
    // anything else, and neither drops nor replaces any handle.
    quote! {
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

            #free_list
        }
    }
}

/// A traced field must not be a reference with a lifetime other than `'static`: only
/// `&'static` data can be traced (`Trace` is implemented for `&'static str`), and the
/// compiler's own error for it is "borrowed data escapes outside of method".
fn check_not_borrowed(ty: &Type) -> syn::Result<()> {
    if let Type::Reference(r) = ty
        && let Some(lt) = &r.lifetime
        && lt.ident != "static"
    {
        return Err(syn::Error::new_spanned(
            ty,
            format_args!(
                "this field borrows with lifetime `{lt}`: a traced field must own its data or \
                 be `'static` (values on gcrt's heap are `'static`); mark it `#[trace(skip)]` \
                 if it holds no `Gc`"
            ),
        ));
    }
    Ok(())
}

/// The `free_list` method for `#[trace(free_list = N)]`; nothing without it (the trait's
/// default, no free list).
fn free_list_method(capacity: Option<usize>) -> TokenStream2 {
    match capacity {
        None => TokenStream2::new(),
        Some(n) => {
            let n = proc_macro2::Literal::usize_unsuffixed(n);
            quote! {
            #[inline(always)]
            fn free_list() -> usize
            where
                Self: ::core::marker::Sized,
            {
                #n
            }
            }
        }
    }
}

#[cfg(test)]
mod tests;
