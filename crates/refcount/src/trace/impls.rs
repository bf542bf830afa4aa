//! `Trace` for the standard library's types: leaves (numbers, strings, function pointers),
//! handles, owning pointers, collections, cells and tuples.

use core::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::rc::Rc;

use super::{Trace, Tracer};
use crate::gc::Gc;
use crate::weak::Weak;

/// How many elements ahead a collection of handles prefetches while it is traced.
const TRACE_PREFETCH: usize = 8;

/// Traces the items of a slice, prefetching the referents of the item a few places ahead.
#[inline]
fn trace_slice<T: Trace>(items: &[T], tracer: &mut Tracer<'_>) {
    let mut i = 0;
    while let Some(item) = items.get(i) {
        if let Some(ahead) = items.get(i + TRACE_PREFETCH) {
            ahead.prefetch_referents();
        }
        // A run of items that repeat the first one is reported at once (never, unless `T`
        // says it can be: the loop then compiles to one `trace` per item).
        let mut run = 1;
        while items.get(i + run).is_some_and(|next| next.repeats(item)) {
            run += 1;
        }
        if run == 1 {
            item.trace(tracer);
        } else {
            item.trace_repeated(run, tracer);
        }
        i += run;
    }
}

/// `Trace` for types that cannot hold a `Gc`: each `[generics] type`, or a plain type.
macro_rules! leaf_trace {
    ($($t:ty),* $(,)?) => {$( leaf_trace!(@impl [] $t); )*};
    (@generic $([$($g:ident),*] $t:ty),* $(,)?) => {$( leaf_trace!(@impl [$($g),*] $t); )*};
    (@impl [$($g:ident),*] $t:ty) => {
        // SAFETY: this type cannot hold a `Gc`; reporting nothing is exact.
        unsafe impl<$($g: 'static),*> Trace for $t {
            #[inline(always)]
            fn trace(&self, _: &mut Tracer<'_>) {}
            #[inline(always)]
            fn needs_trace() -> bool {
                false
            }
            #[inline(always)]
            fn frozen() -> bool {
                true
            }
            #[inline(always)]
            fn pure_trace() -> bool {
                true
            }
        }
    };
}

// Function pointers hold no handle: they are leaves, like the primitives.
leaf_trace!(@generic
    [R] fn() -> R,
    [R, A] fn(A) -> R,
    [R, A, B] fn(A, B) -> R,
    [R, A, B, C] fn(A, B, C) -> R,
    [R, A, B, C, D] fn(A, B, C, D) -> R,
    [R, A, B, C, D, E] fn(A, B, C, D, E) -> R,
    [R, A, B, C, D, E, F] fn(A, B, C, D, E, F) -> R,
);

leaf_trace!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    String,
    &'static str,
    core::num::NonZeroU32,
    core::num::NonZeroU64,
    core::num::NonZeroUsize,
    core::time::Duration,
    std::time::Instant,
    std::path::PathBuf,
    std::ffi::OsString,
    core::any::TypeId,
);

// SAFETY: string data holds no handles.
unsafe impl Trace for str {
    #[inline(always)]
    fn trace(&self, _: &mut Tracer<'_>) {}
}

// SAFETY: a `Gc` owns exactly one strong handle: itself.
unsafe impl<T: ?Sized> Trace for Gc<T> {
    #[inline(always)]
    fn trace(&self, tracer: &mut Tracer<'_>) {
        tracer.visit(self);
    }
    #[inline(always)]
    fn prefetch_referents(&self) {
        Gc::as_obj(self).prefetch();
    }
    #[inline(always)]
    fn repeats(&self, prev: &Self) -> bool {
        Gc::as_obj(self) == Gc::as_obj(prev)
    }
    #[inline(always)]
    fn trace_repeated(&self, times: usize, tracer: &mut Tracer<'_>) {
        tracer.visit_times(self, times);
    }
    #[inline(always)]
    fn pure_trace() -> bool {
        true
    }
    // The handle itself cannot be changed through `&`; what it points to is its own object.
    #[inline(always)]
    fn frozen() -> bool {
        true
    }
}

// SAFETY: a weak handle is not a strong reference and is never reported.
unsafe impl<T: ?Sized> Trace for Weak<T> {
    #[inline(always)]
    fn trace(&self, _: &mut Tracer<'_>) {}
    #[inline(always)]
    fn needs_trace() -> bool {
        false
    }
    #[inline(always)]
    fn frozen() -> bool {
        true
    }
    #[inline(always)]
    fn pure_trace() -> bool {
        true
    }
}

// SAFETY: forwards to the boxed value, which the box owns.
unsafe impl<T: Trace + ?Sized> Trace for Box<T> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer<'_>) {
        (**self).trace(tracer);
    }
    // `needs_trace` keeps its conservative default: it cannot be asked of an unsized `T`
    // (`Box<dyn Trait>`), and answering `true` also stops the question from recursing through
    // recursive types such as `enum Expr { Add(Box<Expr>, Box<Expr>), .. }`.
}

// SAFETY: a shared `Rc` does not own its contents exclusively, so reporting them could
// report a handle twice (once per `Rc`). Reporting nothing is the safe under-approximation.
unsafe impl<T: ?Sized + 'static> Trace for Rc<T> {
    #[inline(always)]
    fn trace(&self, _: &mut Tracer<'_>) {}
    // Reports nothing, so it can never form a cycle the collector could see.
    #[inline(always)]
    fn needs_trace() -> bool {
        false
    }
    #[inline(always)]
    fn frozen() -> bool {
        true
    }
    #[inline(always)]
    fn pure_trace() -> bool {
        true
    }
}

// SAFETY: every element is owned by the slice's owner.
unsafe impl<T: Trace> Trace for [T] {
    #[inline]
    fn trace(&self, tracer: &mut Tracer<'_>) {
        trace_slice(self, tracer);
    }
}

// SAFETY: every element is owned by the array.
unsafe impl<T: Trace, const N: usize> Trace for [T; N] {
    #[inline]
    fn trace(&self, tracer: &mut Tracer<'_>) {
        trace_slice(self, tracer);
    }
    #[inline(always)]
    fn needs_trace() -> bool {
        N != 0 && T::needs_trace()
    }
    #[inline(always)]
    fn frozen() -> bool {
        T::frozen()
    }
    #[inline(always)]
    fn pure_trace() -> bool {
        T::pure_trace()
    }
}

macro_rules! seq_trace {
    ($via:ident: $([$($generics:tt)*] $ty:ty),* $(,)?) => {$(
        // SAFETY: every element is owned by the collection.
        unsafe impl<$($generics)*> Trace for $ty {
            #[inline]
            fn trace(&self, tracer: &mut Tracer<'_>) {
                seq_trace!(@$via self, tracer);
            }
            #[inline(always)]
            fn needs_trace() -> bool {
                T::needs_trace()
            }
            #[inline(always)]
            fn frozen() -> bool {
                T::frozen()
            }
            #[inline(always)]
            fn pure_trace() -> bool {
                T::pure_trace()
            }
        }
    )*};
    (@slice $items:expr, $tracer:expr) => {
        trace_slice($items, $tracer)
    };
    (@iter $items:expr, $tracer:expr) => {
        for item in $items {
            item.trace($tracer);
        }
    };
}
seq_trace!(slice: [T: Trace] Vec<T>);
seq_trace!(
    iter: [T: Trace] VecDeque<T>,
    [T: Trace] LinkedList<T>,
    [T: Trace] BTreeSet<T>,
    [T: Trace + Ord] BinaryHeap<T>,
    [T: Trace, S] HashSet<T, S>,
);

macro_rules! map_trace {
    ($([$($generics:tt)*] $ty:ty),* $(,)?) => {$(
        // SAFETY: every key and value is owned by the map.
        unsafe impl<$($generics)*> Trace for $ty {
            #[inline]
            fn trace(&self, tracer: &mut Tracer<'_>) {
                for (k, v) in self {
                    k.trace(tracer);
                    v.trace(tracer);
                }
            }
            #[inline(always)]
            fn needs_trace() -> bool {
                K::needs_trace() || V::needs_trace()
            }
            #[inline(always)]
            fn frozen() -> bool {
                K::frozen() && V::frozen()
            }
            #[inline(always)]
            fn pure_trace() -> bool {
                K::pure_trace() && V::pure_trace()
            }
        }
    )*};
}
map_trace!([K: Trace, V: Trace, S] HashMap<K, V, S>, [K: Trace, V: Trace] BTreeMap<K, V>);

// SAFETY: forwards to the contained value, which the option owns.
unsafe impl<T: Trace> Trace for Option<T> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer<'_>) {
        if let Some(v) = self {
            v.trace(tracer);
        }
    }
    #[inline(always)]
    fn needs_trace() -> bool {
        T::needs_trace()
    }
    #[inline(always)]
    fn frozen() -> bool {
        T::frozen()
    }
    #[inline(always)]
    fn pure_trace() -> bool {
        T::pure_trace()
    }
    #[inline(always)]
    fn prefetch_referents(&self) {
        if let Some(v) = self {
            v.prefetch_referents();
        }
    }
}

// SAFETY: forwards to whichever value the result owns.
unsafe impl<T: Trace, E: Trace> Trace for Result<T, E> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer<'_>) {
        match self {
            Ok(v) => v.trace(tracer),
            Err(e) => e.trace(tracer),
        }
    }
    #[inline(always)]
    fn needs_trace() -> bool {
        T::needs_trace() || E::needs_trace()
    }
    #[inline(always)]
    fn frozen() -> bool {
        T::frozen() && E::frozen()
    }
    #[inline(always)]
    fn pure_trace() -> bool {
        T::pure_trace() && E::pure_trace()
    }
}

// SAFETY: a `Cell<T: Copy>` is read by copy; the copy's handles are the cell's handles. A
// `Copy` type cannot hold a `Gc` (Gc is not Copy), so in practice this reports nothing.
unsafe impl<T: Trace + Copy> Trace for Cell<T> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer<'_>) {
        self.get().trace(tracer);
    }
    #[inline(always)]
    fn needs_trace() -> bool {
        T::needs_trace()
    }
    #[inline(always)]
    fn frozen() -> bool {
        // A `Copy` value holds no handle: there is nothing to change.
        T::frozen()
    }
    #[inline(always)]
    fn pure_trace() -> bool {
        T::pure_trace()
    }
}

// SAFETY: forwards to the contents when they can be borrowed; when the cell is mutably
// borrowed the contents cannot be read, which is reported as opaque.
unsafe impl<T: Trace> Trace for RefCell<T> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer<'_>) {
        if T::pure_trace() && tracer.is_counting() {
            // SAFETY: no mutable borrow can start while the contents are traced: the
            // collector's count pass runs no user code, and neither does `T`'s trace (rule 5),
            // so nothing that could reach this cell runs. An existing mutable borrow makes
            // this fail.
            match unsafe { self.try_borrow_unguarded() } {
                Ok(v) => v.trace(tracer),
                Err(_) => tracer.mark_opaque(),
            }
        } else {
            // Any code may run (a `Visitor`): a real borrow guards the contents meanwhile.
            match self.try_borrow() {
                Ok(v) => v.trace(tracer),
                Err(_) => tracer.mark_opaque(),
            }
        }
    }
    #[inline(always)]
    fn needs_trace() -> bool {
        T::needs_trace()
    }
    #[inline(always)]
    fn pure_trace() -> bool {
        T::pure_trace()
    }
}

macro_rules! tuple_trace {
    ($($name:ident)+) => {
        // SAFETY: every field is owned by the tuple.
        unsafe impl<$($name: Trace),+> Trace for ($($name,)+) {
            #[inline]
            #[allow(non_snake_case)]
            fn trace(&self, tracer: &mut Tracer<'_>) {
                let ($($name,)+) = self;
                $($name.trace(tracer);)+
            }
            #[inline(always)]
            fn needs_trace() -> bool {
                false $(|| $name::needs_trace())+
            }
            #[inline(always)]
            fn frozen() -> bool {
                true $(&& $name::frozen())+
            }
            #[inline(always)]
            fn pure_trace() -> bool {
                true $(&& $name::pure_trace())+
            }
        }
    };
}
tuple_trace!(A);
tuple_trace!(A B);
tuple_trace!(A B C);
tuple_trace!(A B C D);
tuple_trace!(A B C D E);
tuple_trace!(A B C D E F);
tuple_trace!(A B C D E F G);
tuple_trace!(A B C D E F G H);
tuple_trace!(A B C D E F G H I);
tuple_trace!(A B C D E F G H I J);
tuple_trace!(A B C D E F G H I J K);
tuple_trace!(A B C D E F G H I J K L);
