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
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h(&info)));
        }
        None => eprintln!(
            "gcrt: panic ignored while {}: {}",
            context,
            message.unwrap_or("<non-string payload>")
        ),
    }
}
