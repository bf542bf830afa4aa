//! Classes and their instances. A class keeps its attributes in a dict and the names of its
//! instances' attributes in a shared layout (CPython's key-sharing dicts): an instance
//! stores the values of its first [`INLINE_ATTRS`] attributes inline, by their position in
//! that layout, and any further ones in a dict of its own. Instances are always tracked.

use core::cell::RefCell;

use refcount::{Gc, Trace, Tracer};
use smallvec::SmallVec;

use crate::Value;
use crate::containers::Dict;
use crate::text::Str;

/// How many attribute values an instance stores inline.
pub const INLINE_ATTRS: usize = 4;
/// How many attribute names a class's shared layout holds; an instance keeps attributes
/// beyond them in its own dict.
pub const SHARED_LAYOUT: usize = 8;

/// A class object.
pub struct Class {
    name: Gc<Str>,
    /// Class attributes (`Foo.x`).
    pub(crate) dict: Gc<Dict>,
    /// The attribute names of instances, by slot (interned strings).
    layout: RefCell<Vec<Gc<Str>>>,
}

// SAFETY: reports the handles it owns: the name, the dict and the layout's names (the
// layout read by `RefCell`'s impl, or marked opaque while it is changed). Every part's trace
// is pure, so this one is.
unsafe impl Trace for Class {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        self.name.trace(tracer);
        self.dict.trace(tracer);
        self.layout.trace(tracer);
    }
    fn pure_trace() -> bool {
        <RefCell<Vec<Gc<Str>>>>::pure_trace()
    }
}

/// An instance of a class.
pub struct Instance {
    class: Gc<Class>,
    /// Attribute values by slot of the class's layout; `None` for an attribute not set.
    slots: RefCell<Slots>,
    /// Attributes beyond the class's shared layout.
    extra: RefCell<Option<Gc<Dict>>>,
}

/// An instance's attribute values, by slot.
#[derive(Default)]
struct Slots(SmallVec<[Option<Value>; INLINE_ATTRS]>);

impl core::ops::Deref for Slots {
    type Target = SmallVec<[Option<Value>; INLINE_ATTRS]>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl core::ops::DerefMut for Slots {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

// SAFETY: reports each value's handles once. Its trace runs only the values' derived
// traces (pure) over a vector it owns, so it is pure: a `RefCell<Slots>` may be read
// without a borrow while the collector counts.
unsafe impl Trace for Slots {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        for v in self.0.iter().flatten() {
            v.trace(tracer);
        }
    }
    fn pure_trace() -> bool {
        Value::pure_trace()
    }
}

// SAFETY: reports the handles it owns once each: the class, each slot's value and the extra
// dict (each cell read by its own `Trace` impl: marked opaque while it is changed). Every
// part's trace is pure, so this one is.
unsafe impl Trace for Instance {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        self.class.trace(tracer);
        self.slots.trace(tracer);
        self.extra.trace(tracer);
    }
    fn pure_trace() -> bool {
        <RefCell<Slots>>::pure_trace() && <RefCell<Option<Gc<Dict>>>>::pure_trace()
    }
}

impl Class {
    pub(crate) fn new(name: &str) -> Gc<Class> {
        Gc::new(Class {
            name: Str::intern(name),
            dict: Dict::new(),
            layout: RefCell::new(Vec::new()),
        })
    }

    /// The class's name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// The slot of attribute `name` in the shared layout, adding it if there is room.
    fn slot(&self, name: &str, add: bool) -> Option<usize> {
        if let Some(i) = self
            .layout
            .try_borrow()
            .ok()?
            .iter()
            .position(|n| same_text(n.as_str(), name))
        {
            return Some(i);
        }
        let mut layout = self.layout.try_borrow_mut().ok()?;
        if add && layout.len() < SHARED_LAYOUT {
            layout.push(Str::intern(name));
            return Some(layout.len() - 1);
        }
        None
    }
}

impl Instance {
    pub(crate) fn new(class: Gc<Class>) -> Gc<Instance> {
        Gc::new(Instance {
            class,
            slots: RefCell::new(Slots::default()),
            extra: RefCell::new(None),
        })
    }

    /// The instance's class.
    pub fn class(&self) -> &Gc<Class> {
        &self.class
    }

    /// The instance attribute `name`, if set (not the class's attributes).
    pub(crate) fn get_own(&self, name: &str) -> crate::Result<Option<Value>> {
        if let Some(i) = self.class.slot(name, false) {
            let slots = self.slots.try_borrow().map_err(|_| busy())?;
            if let Some(Some(v)) = slots.get(i) {
                return Ok(Some(v.clone()));
            }
            return Ok(None);
        }
        let extra = self.extra.try_borrow().map_err(|_| busy())?.clone();
        match extra {
            Some(d) => Value::Dict(d).get(&Value::str(name)),
            None => Ok(None),
        }
    }

    /// Sets the instance attribute `name`; returns the value it replaces, for the caller
    /// to drop once no borrow is held.
    pub(crate) fn set_own(&self, name: &str, value: Value) -> crate::Result<Option<Value>> {
        if let Some(i) = self.class.slot(name, true) {
            let mut slots = self.slots.try_borrow_mut().map_err(|_| busy())?;
            if slots.len() <= i {
                slots.resize(i + 1, None);
            }
            return Ok(slots[i].replace(value));
        }
        let extra = {
            let mut extra = self.extra.try_borrow_mut().map_err(|_| busy())?;
            extra.get_or_insert_with(Dict::new).clone()
        };
        let d = Value::Dict(extra);
        let key = Value::interned(name);
        let old = d.get(&key)?;
        d.set_item(key, value)?;
        Ok(old)
    }

    /// The names of the attributes set on the instance, in layout order then insertion order.
    pub(crate) fn attr_names(&self) -> crate::Result<Vec<String>> {
        let layout = self.class.layout.try_borrow().map_err(|_| busy())?;
        let slots = self.slots.try_borrow().map_err(|_| busy())?;
        let mut names: Vec<String> = slots
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_some())
            .map(|(i, _)| layout[i].as_str().to_string())
            .collect();
        drop((layout, slots));
        let extra = self.extra.try_borrow().map_err(|_| busy())?.clone();
        if let Some(d) = extra {
            for k in Value::Dict(d).keys()? {
                names.push(k.as_str().unwrap_or_default().to_string());
            }
        }
        Ok(names)
    }
}

fn busy() -> crate::Error {
    crate::Error::Busy("the instance")
}

/// Whether two attribute names are equal. Names are short: comparing them byte by byte in
/// place is cheaper than a call to `memcmp`, which the slice comparison makes.
#[inline]
fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if a.len() > 16 {
        return a == b;
    }
    a.iter().zip(b).all(|(x, y)| x == y)
}
