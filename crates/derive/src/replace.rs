//! The stand-ins for the derived type inside its own `needs_trace`, `frozen` and
//! `pure_trace`, where asking the type itself would recurse.

use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::visit_mut::{self, VisitMut};
use syn::{DeriveInput, Ident, Path, Type, parse_quote};

/// Replaces the type being derived by the leaf type: `Self`, or its name alone with its own
/// generic parameters as arguments. Any other path ending in its name (`other::Node`, or
/// `Node<u8>` inside `Node<T>`) may be another type, or the same type with other arguments,
/// whose answers can differ: it is replaced by the opaque type, which gives the safe answer
/// to every question (asking it could recurse forever).
pub(crate) struct ReplaceSelf<'a> {
    name: &'a Ident,
    /// The type's own generic parameters as path arguments (`<'a, T, N>`, or empty).
    own_args: String,
    /// Whether the leaf and the opaque type were used (their definitions are emitted then).
    used_leaf: bool,
    used_opaque: bool,
}

impl<'a> ReplaceSelf<'a> {
    pub(crate) fn new(input: &'a DeriveInput) -> ReplaceSelf<'a> {
        let params = input.generics.params.iter().map(|p| match p {
            syn::GenericParam::Lifetime(l) => {
                let l = &l.lifetime;
                quote!(#l)
            }
            syn::GenericParam::Type(t) => {
                let t = &t.ident;
                quote!(#t)
            }
            syn::GenericParam::Const(c) => {
                let c = &c.ident;
                quote!(#c)
            }
        });
        let own_args = if input.generics.params.is_empty() {
            String::new()
        } else {
            quote!(< #(#params),* >).to_string()
        };
        ReplaceSelf {
            name: &input.ident,
            own_args,
            used_leaf: false,
            used_opaque: false,
        }
    }
}

impl ReplaceSelf<'_> {
    fn leaf(&mut self) -> Type {
        self.used_leaf = true;
        parse_quote!(__GcrtLeaf)
    }

    fn opaque(&mut self) -> Type {
        self.used_opaque = true;
        parse_quote!(__GcrtOpaque)
    }

    /// The definitions of the leaf and the opaque type, local to the generated method: no
    /// code outside it can name them, so no impl of a user trait can make a type that holds
    /// one answer differently for them than for the derived type (an associated type picked
    /// by such an impl could otherwise turn an impure field into a pure-looking one).
    pub(crate) fn definitions(&self, krate: &Path) -> TokenStream2 {
        let mut out = TokenStream2::new();
        if self.used_leaf {
            out.extend(quote! {
                #[allow(dead_code)]
                struct __GcrtLeaf;
                // SAFETY: holds no handles; a copy of the derived type adds no handle, change
                // or user code that the type's other fields lack.
                unsafe impl #krate::Trace for __GcrtLeaf {
                    fn trace(&self, _: &mut #krate::Tracer<'_>) {}
                    fn needs_trace() -> bool { false }
                    fn frozen() -> bool { true }
                    fn pure_trace() -> bool { true }
                }
            });
        }
        if self.used_opaque {
            out.extend(quote! {
                #[allow(dead_code)]
                struct __GcrtOpaque;
                // SAFETY: holds no handles; the answers are the defaults, always safe.
                unsafe impl #krate::Trace for __GcrtOpaque {
                    fn trace(&self, _: &mut #krate::Tracer<'_>) {}
                }
            });
        }
        out
    }
}

impl VisitMut for ReplaceSelf<'_> {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::Path(tp) = ty
            && tp.qself.is_none()
            && let Some(last) = tp.path.segments.last()
        {
            let alone = tp.path.segments.len() == 1 && tp.path.leading_colon.is_none();
            if alone && last.ident == "Self" {
                *ty = self.leaf();
                return;
            }
            if last.ident == *self.name {
                let args = match &last.arguments {
                    syn::PathArguments::None => String::new(),
                    args => quote!(#args).to_string(),
                };
                *ty = if alone && args == self.own_args {
                    self.leaf()
                } else {
                    self.opaque()
                };
                return;
            }
        }
        visit_mut::visit_type_mut(self, ty);
    }

    fn visit_qself_mut(&mut self, _: &mut syn::QSelf) {
        // `<Foo as Trait>::Assoc` names another type; rewriting `Foo` would break it.
    }
}
