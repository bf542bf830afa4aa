//! Collection callbacks (`gc.callbacks`).

use core::cell::{Cell, RefCell};
use core::time::Duration;
use std::rc::Rc;

use refcount::engine::catch_unraisable;

/// Whether a callback is called before or after a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Before the collection starts.
    Start,
    /// After it finished.
    Stop,
}

/// Why a collection ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// Generation 0's count passed its threshold and this generation was selected.
    Threshold,
    /// A call to `collect` or `collect_generation`.
    Manual,
}

impl Reason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Reason::Threshold => "threshold",
            Reason::Manual => "manual",
        }
    }
}

/// What a callback is told about a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CollectionInfo {
    /// The oldest generation collected.
    pub generation: usize,
    /// Objects collected (0 at [`Phase::Start`]).
    pub collected: usize,
    /// Objects found uncollectable (0 at [`Phase::Start`]).
    pub uncollectable: usize,
    /// Objects analysed (0 at [`Phase::Start`]; see
    /// [`GenerationStats::candidates`](crate::GenerationStats::candidates)).
    pub candidates: usize,
    /// Time the collection took (zero at [`Phase::Start`]).
    pub duration: Duration,
    /// Why it ran.
    pub reason: Reason,
}

/// Identifies a registered callback, for [`unregister_callback`](crate::unregister_callback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallbackHandle(u64);

impl CallbackHandle {
    /// The handle of a callback that could not be registered (thread teardown): no
    /// registered callback ever has it.
    pub(crate) const NONE: CallbackHandle = CallbackHandle(u64::MAX);
}

type Callback = Rc<dyn Fn(Phase, &CollectionInfo)>;

#[derive(Default)]
pub(crate) struct Callbacks {
    next: Cell<u64>,
    list: RefCell<Vec<(u64, Callback)>>,
}

impl Callbacks {
    pub(crate) fn register(&self, f: Callback) -> CallbackHandle {
        let id = self.next.get();
        self.next.set(id + 1);
        self.list.borrow_mut().push((id, f));
        CallbackHandle(id)
    }

    pub(crate) fn unregister(&self, handle: CallbackHandle) -> bool {
        let mut list = self.list.borrow_mut();
        let before = list.len();
        list.retain(|(id, _)| *id != handle.0);
        list.len() != before
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.borrow().is_empty()
    }

    /// Calls every callback in registration order. A panicking callback is reported and the
    /// others still run.
    pub(crate) fn invoke(&self, phase: Phase, info: &CollectionInfo) {
        // A snapshot: callbacks may register or unregister callbacks.
        let snapshot: Vec<Callback> = self.list.borrow().iter().map(|(_, f)| f.clone()).collect();
        for f in snapshot {
            catch_unraisable("calling a gc callback", || f(phase, info));
        }
    }
}
