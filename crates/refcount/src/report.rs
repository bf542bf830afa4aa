//! Reporting of panics that the heap and the collector catch (Python's "unraisable"
//! exceptions): in finalizers, weak-reference callbacks and collection callbacks.

use core::cell::RefCell;
use std::any::Any;
use std::rc::Rc;

/// A panic the collector caught and did not propagate, as given to the unraisable hook.
#[derive(Debug)]
#[non_exhaustive]
pub struct Unraisable<'a> {
    /// Where it happened, e.g. "calling a gc callback".
    pub context: &'static str,
    /// The panic message, when the payload was a string.
    pub message: Option<&'a str>,
}

type Hook = Rc<dyn Fn(&Unraisable<'_>)>;

/// A user-supplied unraisable hook.
pub type UnraisableHook = Box<dyn Fn(&Unraisable<'_>)>;

thread_local! {
    static HOOK: RefCell<Option<Hook>> = const { RefCell::new(None) };
}

/// Sets this thread's hook for panics that gcrt catches instead of propagating (like
/// `sys.unraisablehook`): panics in finalizers, weak-reference callbacks and collection
/// callbacks. `None` restores the default, which writes a line to stderr. Either way a
/// `tracing` error event is emitted too.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// let seen = Rc::new(Cell::new(0));
/// let s = seen.clone();
/// refcount::set_unraisable_hook(Some(Box::new(move |u: &refcount::Unraisable<'_>| {
///     assert_eq!(u.message, Some("boom"));
///     s.set(s.get() + 1);
/// })));
/// let payload = std::panic::catch_unwind(|| panic!("boom")).unwrap_err();
/// refcount::report_unraisable("running an example", &payload);
/// refcount::set_unraisable_hook(None);
/// assert_eq!(seen.get(), 1);
/// ```
pub fn set_unraisable_hook(hook: Option<UnraisableHook>) {
    let hook: Option<Hook> = hook.map(Rc::from);
    let _ = HOOK.try_with(|h| *h.borrow_mut() = hook);
}

/// Reports a caught panic payload through the hook (see [`set_unraisable_hook`]).
pub fn report_unraisable(context: &'static str, payload: &Box<dyn Any + Send>) {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(|s| s.as_str()));
    tracing::error!(target: "gcrt", context, message, "panic ignored");
    let info = Unraisable { context, message };
    let hook = HOOK.try_with(|h| h.borrow().clone()).ok().flatten();
    match hook {
        Some(h) => {
            // A panicking hook would unwind through the collector; it is ignored too.
            if let Err(again) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h(&info)))
            {
                drop_payload(again);
            }
        }
        None => eprintln!(
            "gcrt: panic ignored while {}: {}",
            context,
            message.unwrap_or("<non-string payload>")
        ),
    }
}

/// The payload of a caught panic.
pub type Payload = Box<dyn Any + Send>;

/// Runs `f`, catching a panic: it is reported through the unraisable hook, and `None`
/// returned. For user code whose panics cannot propagate (finalizers, callbacks).
pub fn catch_unraisable<R>(context: &'static str, f: impl FnOnce() -> R) -> Option<R> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(payload) => {
            report_and_drop(context, payload);
            None
        }
    }
}

/// Reports a caught panic and drops its payload. Nothing escapes: not a panic of the
/// reporting itself (a `tracing` subscriber is user code), nor one of the payload's own
/// `Drop`, whose payload is leaked instead.
pub(crate) fn report_and_drop(context: &'static str, payload: Payload) {
    let reported = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        report_unraisable(context, &payload);
    }));
    if let Err(again) = reported {
        drop_payload(again);
    }
    drop_payload(payload);
}

/// Drops a panic payload, catching a panic of its `Drop` and dropping that panic's payload in
/// turn; a chain of payloads that keep panicking is leaked after a few links.
fn drop_payload(payload: Payload) {
    let mut next = payload;
    for _ in 0..8 {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(next))) {
            Ok(()) => return,
            Err(again) => next = again,
        }
    }
    core::mem::forget(next);
}

/// The first panic of a sequence of calls into user code that must all run (every garbage
/// object dropped, every queued object released): the first panic is kept, to be resumed
/// once the heap is consistent again; later ones are reported through the unraisable hook,
/// since two panics cannot propagate at once. So is any panic caught while the thread is
/// already unwinding.
///
/// ```
/// use refcount::engine::FirstPanic;
/// let mut panics = FirstPanic::default();
/// assert_eq!(panics.catch("an example", || 1), Some(1));
/// assert_eq!(panics.catch("an example", || -> i32 { panic!("first") }), None);
/// assert_eq!(panics.catch("an example", || -> i32 { panic!("second") }), None); // reported
/// let first = panics.into_inner().unwrap();
/// assert_eq!(first.downcast_ref::<&str>(), Some(&"first"));
/// ```
#[derive(Default)]
pub struct FirstPanic(Option<Payload>);

impl FirstPanic {
    /// Runs `f`, catching a panic (kept or reported, as `context` says where); `None` if it
    /// panicked.
    pub fn catch<R>(&mut self, context: &'static str, f: impl FnOnce() -> R) -> Option<R> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(r) => Some(r),
            Err(payload) => {
                self.keep(context, payload);
                None
            }
        }
    }

    /// Keeps `payload` if it is the first panic, or reports it.
    pub fn keep(&mut self, context: &'static str, payload: Payload) {
        if self.0.is_none() && !std::thread::panicking() {
            self.0 = Some(payload);
        } else {
            report_and_drop(context, payload);
        }
    }

    /// [`keep`](Self::keep) for a panic that may not have happened.
    pub fn keep_some(&mut self, context: &'static str, payload: Option<Payload>) {
        if let Some(payload) = payload {
            self.keep(context, payload);
        }
    }

    /// The first panic, if there was one.
    pub fn into_inner(self) -> Option<Payload> {
        self.0
    }

    /// Resumes the first panic, if there was one.
    pub fn resume(self) {
        if let Some(payload) = self.0 {
            std::panic::resume_unwind(payload);
        }
    }
}

impl core::fmt::Debug for FirstPanic {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("FirstPanic")
            .field(&self.0.is_some())
            .finish()
    }
}
