//! Interning for any type: [`intern`] returns the one immortal object equal to a value, as
//! [`Value::interned`](crate::Value::interned) does for strings.

use core::any::{Any, TypeId};
use core::cell::RefCell;
use core::hash::Hash;

use hashbrown::{HashMap, HashSet};
use refcount::{Gc, Trace};

thread_local! {
    /// One set of interned objects per type, by `TypeId`.
    static TABLES: RefCell<HashMap<TypeId, Box<dyn Any>>> = RefCell::new(HashMap::new());
}

/// The one immortal object equal to `value` on this thread: the first call with a value
/// moves it into the heap's immortal region, later calls with an equal value return the
/// same object (and drop theirs). Like CPython's interned strings and small ints, for any
/// type with `Eq` and `Hash`.
///
/// ```
/// use objects::intern;
/// use refcount::Gc;
///
/// #[derive(PartialEq, Eq, Hash, gcrt_derive::Trace)]
/// #[trace(crate = "refcount")]
/// struct Symbol(String);
///
/// let a = intern(Symbol("lambda".into()));
/// let b = intern(Symbol("lambda".into()));
/// assert!(Gc::ptr_eq(&a, &b));
/// assert!(Gc::is_immortal(&a));
/// ```
///
/// Interned objects live as long as the thread. If `value`'s own `Hash` or `Eq` interns
/// (re-entrancy), or during thread teardown, the value gets an immortal object of its own.
pub fn intern<T: Trace + Eq + Hash + 'static>(value: T) -> Gc<T> {
    let mut value = Some(value);
    let found = TABLES
        .try_with(|tables| {
            let mut tables = tables.try_borrow_mut().ok()?;
            let set = tables
                .entry(TypeId::of::<T>())
                .or_insert_with(|| Box::new(HashSet::<Gc<T>>::new()))
                .downcast_mut::<HashSet<Gc<T>>>()?;
            let v = value.take()?;
            if let Some(g) = set.get(&v) {
                return Some(g.clone());
            }
            let g = Gc::new_immortal(v);
            set.insert(g.clone());
            Some(g)
        })
        .ok()
        .flatten();
    match (found, value) {
        (Some(g), _) => g,
        (None, Some(v)) => Gc::new_immortal(v),
        // The value was taken, so the closure returned an object.
        (None, None) => unreachable!("interned value lost"),
    }
}
