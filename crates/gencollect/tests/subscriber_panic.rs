//! A `tracing` subscriber is user code that a collection runs outside the places where it
//! catches panics. One that panics after the drop pass, when the arenas the garbage emptied
//! are set aside, must not leave them aside: `arenas_retired` is 0 outside a collection.
//! (In a file of its own: `tracing` caches which callsites anyone listens to, and tests on
//! other threads reaching the collector's spans first, with no subscriber, can make this
//! test's subscriber miss them.)

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};

use gencollect::collect;

mod common {
    pub(crate) mod arenas;
}
use common::arenas::{assert_arenas_consistent, drops, garbage, on_thread, twenty_arenas};

/// A subscriber that panics once, when the span named `PANIC_AT` is exited while `BOOBY` is
/// set: user code a collection runs outside the places it catches panics.
struct ExitBomb {
    next: AtomicU64,
    names: std::sync::Mutex<Vec<&'static str>>,
}

static BOOBY: AtomicBool = AtomicBool::new(false);
const PANIC_AT: &str = "delete";

impl tracing::Subscriber for ExitBomb {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        self.names.lock().unwrap().push(span.metadata().name());
        tracing::span::Id::from_u64(self.next.fetch_add(1, SeqCst) + 1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, span: &tracing::span::Id) {
        let name = self.names.lock().unwrap()[span.into_u64() as usize - 1];
        if name == PANIC_AT && BOOBY.swap(false, SeqCst) {
            panic!("subscriber panics on exit");
        }
    }
}

// Promise: `arenas_retired` is 0 outside a collection, even when user code (a `tracing`
// subscriber) panics in the pause after the garbage was freed.
#[test]
fn a_subscriber_panic_after_the_drop_pass_leaves_no_arena_aside() {
    on_thread(|| {
        gencollect::disable();
        garbage(twenty_arenas(), false);
        let subscriber = ExitBomb {
            next: AtomicU64::new(0),
            names: std::sync::Mutex::new(Vec::new()),
        };
        BOOBY.store(true, SeqCst);
        let r = tracing::subscriber::with_default(subscriber, || {
            catch_unwind(AssertUnwindSafe(collect))
        });
        assert!(r.is_err(), "the subscriber's panic reaches the caller");
        assert_eq!(drops(), 2 * twenty_arenas());
        assert_arenas_consistent();
    });
}
