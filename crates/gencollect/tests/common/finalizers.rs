//! Helpers shared by the finalizer tests (`test_gc_finalizers.rs` and
//! `test_gc_finalizers_control.rs`): the thread-local records of finalizer runs and drops,
//! and CPython's `Lazarus` (a finalizer that resurrects its object) and `Cargo` (a plain
//! self-loop). Those tests include this file alone (`mod common { pub(crate) mod
//! finalizers; }`), without the property tests' `common/mod.rs`.

use std::cell::{Cell, RefCell};

use refcount::{Finalize, Gc, Trace, Tracer, Weak};

thread_local! {
    pub(crate) static DROPS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    pub(crate) static FINALIZED: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    pub(crate) static STORAGE: RefCell<Vec<Gc<Lazarus>>> = const { RefCell::new(Vec::new()) };
}

fn sorted(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v
}

pub(crate) fn drops() -> Vec<u32> {
    sorted(DROPS.with(|d| d.borrow().clone()))
}

pub(crate) fn finalized() -> Vec<u32> {
    sorted(FINALIZED.with(|d| d.borrow().clone()))
}

pub(crate) fn small() -> bool {
    cfg!(miri)
}

// ----- Lazarus: a finalizer that resurrects its object --------------------------------------

/// CPython's `Lazarus`: its finalizer stores the object in `STORAGE` (at most `resurrect`
/// times); optionally in a self-cycle (`A.me = self`) and holding cargo.
pub(crate) struct Lazarus {
    pub(crate) id: u32,
    pub(crate) this: RefCell<Weak<Lazarus>>,
    pub(crate) me: RefCell<Option<Gc<Lazarus>>>,
    pub(crate) cargo: RefCell<Option<Gc<Cargo>>>,
    pub(crate) calls: Cell<u32>,
    pub(crate) resurrect: u32,
}

// SAFETY: reports exactly its strong handles.
unsafe impl Trace for Lazarus {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.me.trace(t);
        self.cargo.trace(t);
    }
}

impl Finalize for Lazarus {
    fn finalize(&self) {
        FINALIZED.with(|f| f.borrow_mut().push(self.id));
        self.calls.set(self.calls.get() + 1);
        if self.calls.get() > self.resurrect {
            return;
        }
        let me = self.this.borrow().upgrade();
        let me = me
            .or_else(|| self.me.borrow().clone())
            .or_else(|| {
                let cargo = self.cargo.borrow().clone();
                cargo.and_then(|c| c.laz.borrow().clone())
            })
            .expect("a handle to self");
        STORAGE.with(|s| s.borrow_mut().push(me));
    }
}

impl Drop for Lazarus {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push(self.id));
    }
}

pub(crate) fn lazarus(id: u32, self_cycle: bool, resurrect: u32) -> Gc<Lazarus> {
    let l = Gc::new_with_finalizer(Lazarus {
        id,
        this: RefCell::new(Weak::new()),
        me: RefCell::new(None),
        cargo: RefCell::new(None),
        calls: Cell::new(0),
        resurrect,
    });
    *l.this.borrow_mut() = Gc::downgrade(&l);
    if self_cycle {
        *l.me.borrow_mut() = Some(l.clone());
    }
    l
}

pub(crate) fn take_storage() -> Vec<Gc<Lazarus>> {
    STORAGE.with(|s| core::mem::take(&mut *s.borrow_mut()))
}

/// CPython's `Cargo` (and the plain self-loop `A`): no finalizer.
pub(crate) struct Cargo {
    pub(crate) id: u32,
    pub(crate) me: RefCell<Option<Gc<Cargo>>>,
    pub(crate) laz: RefCell<Option<Gc<Lazarus>>>,
}

// SAFETY: reports exactly its strong handles.
unsafe impl Trace for Cargo {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.me.trace(t);
        self.laz.trace(t);
    }
}

impl Drop for Cargo {
    fn drop(&mut self) {
        DROPS.with(|d| d.borrow_mut().push(self.id));
    }
}

pub(crate) fn self_loop(id: u32) -> Gc<Cargo> {
    let c = Gc::new(Cargo {
        id,
        me: RefCell::new(None),
        laz: RefCell::new(None),
    });
    *c.me.borrow_mut() = Some(c.clone());
    c
}
