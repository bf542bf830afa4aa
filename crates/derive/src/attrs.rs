//! The attributes the derive reads: the type's `#[trace(..)]` options, the fields'
//! `#[trace(skip)]`, and `#[repr(packed)]`, which it rejects. Malformed or misplaced
//! `#[trace(..)]` arguments are errors pointing at the offending argument.

use proc_macro2::Span;
use quote::quote;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, Field, LitInt, LitStr, Path, Token, parse_quote};

use crate::{finish, push_error};

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
pub(crate) struct TypeOptions {
    /// Path of the crate exporting `Trace` and `Tracer`.
    pub(crate) krate: Path,
    /// `#[trace(tracked)]`: `needs_trace` is always `true`.
    pub(crate) tracked: bool,
    /// `#[trace(free_list = N)]`: the capacity of the type's free list.
    pub(crate) free_list: Option<usize>,
    /// `#[trace(labels)]`: each field's handles are reported under the field's name.
    pub(crate) labels: bool,
}

pub(crate) fn type_options(attrs: &[Attribute]) -> syn::Result<TypeOptions> {
    let mut krate: Option<Path> = None;
    let mut tracked: Option<Span> = None;
    let mut free_list: Option<usize> = None;
    let mut labels = false;
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
            } else if meta.path.is_ident("labels") {
                expect_flag(&meta, "labels")?;
                if labels {
                    return Err(meta.error("duplicate `labels` argument"));
                }
                labels = true;
                Ok(())
            } else if meta.path.is_ident("free_list") {
                let expected = "expected `free_list = N`, a number of blocks, e.g. \
                                `#[trace(free_list = 100)]`";
                if !meta.input.peek(Token![=]) {
                    return Err(meta.error(expected));
                }
                let lit: LitInt = meta
                    .value()?
                    .parse()
                    .map_err(|e| syn::Error::new(e.span(), expected))?;
                let n = lit
                    .base10_parse::<usize>()
                    .map_err(|_| syn::Error::new(lit.span(), expected))?;
                if free_list.is_some() {
                    return Err(meta.error("duplicate `free_list = ...` argument"));
                }
                free_list = Some(n);
                Ok(())
            } else if meta.path.is_ident("skip") {
                Err(meta.error(
                    "`skip` applies to fields, not to the type: put `#[trace(skip)]` on the \
                     field to leave out",
                ))
            } else {
                Err(meta.error(format_args!(
                    "unknown `trace` argument `{}` on a type; expected `tracked`, \
                     `labels`, `free_list = N` or `crate = \"path\"`",
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
        free_list,
        labels,
    };
    finish(options, errors)
}

/// Whether the field carries `#[trace(skip)]`.
pub(crate) fn field_skipped(field: &Field) -> syn::Result<bool> {
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
pub(crate) fn check_not_packed(attrs: &[Attribute]) -> syn::Result<()> {
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
