//! `Rc`'s clone-on-write and unwrapping: [`Gc::make_mut`] and [`Gc::unwrap_or_clone`].

use super::Gc;
use crate::trace::Trace;

impl<T: Trace + Clone + 'static> Gc<T> {
    /// A mutable reference to the value, cloning it into a new object first if other
    /// handles (strong or weak) share this one, as `Rc::make_mut` does: afterwards this
    /// handle is the only one to its object. Weak handles to the old object stop upgrading
    /// once its last strong handle goes.
    ///
    /// ```
    /// use refcount::Gc;
    /// let mut a = Gc::new(vec![1, 2]);
    /// let b = a.clone();
    /// Gc::make_mut(&mut a).push(3); // clones: `b` still sees the old value
    /// assert_eq!((*a).clone(), [1, 2, 3]);
    /// assert_eq!(*b, [1, 2]);
    /// Gc::make_mut(&mut a).push(4); // unique now: no clone
    /// assert_eq!(*a, [1, 2, 3, 4]);
    /// ```
    ///
    /// # Panics
    /// If the handle is dead (see [`Gc`]'s "Dead handles").
    pub fn make_mut(this: &mut Gc<T>) -> &mut T {
        if Gc::get_mut(this).is_none() {
            *this = Gc::new((**this).clone());
        }
        Gc::get_mut(this).expect("a handle just made is the only one to its object")
    }

    /// The value, moved out if this is the only strong handle, else cloned, as
    /// `Rc::unwrap_or_clone`.
    ///
    /// ```
    /// use refcount::Gc;
    /// let a = Gc::new(String::from("text"));
    /// let b = a.clone();
    /// assert_eq!(Gc::unwrap_or_clone(a), "text"); // cloned: `b` shares it
    /// assert_eq!(Gc::unwrap_or_clone(b), "text"); // moved out
    /// ```
    ///
    /// # Panics
    /// If the handle is dead.
    pub fn unwrap_or_clone(this: Gc<T>) -> T {
        Gc::try_unwrap(this).unwrap_or_else(|shared| (*shared).clone())
    }
}
