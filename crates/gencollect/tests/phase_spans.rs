//! Each phase of a collection is a `tracing` span that closes with its time, so that a
//! subscriber reporting span times (what `gcrt --phases` installs) shows where a
//! collection's time goes. (In a file of its own, with one subscriber for the whole
//! process: `tracing` caches which callsites anyone listens to, and tests on other threads
//! reaching the collector's spans first with another subscriber, or none, can make a
//! thread's own subscriber miss them.)

use std::cell::RefCell;

use refcount::{Gc, Trace, Tracer};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

mod common {
    pub(crate) mod log_buffer;
}
use common::log_buffer::Buffer;

/// The innermost span of each line where a span closes (`FmtSpan::CLOSE`), in order.
fn closed_spans(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.split_once(": gcrt::gc: close"))
        .map(|(spans, _)| {
            // `LEVEL collect{..}:analyse{..}:count{..}`: the name after the last ':' outside
            // the braces, before its fields.
            let mut depth = 0;
            let mut from = 0;
            for (i, c) in spans.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ':' if depth == 0 => from = i + 1,
                    _ => {}
                }
            }
            let name = spans[from..].split('{').next().unwrap_or("");
            name.split_whitespace().last().unwrap_or("").to_string()
        })
        .collect()
}

struct Twin {
    other: RefCell<Option<Gc<Twin>>>,
}

// SAFETY: reports its one handle.
unsafe impl Trace for Twin {
    fn trace(&self, t: &mut Tracer<'_>) {
        self.other.trace(t);
    }
}

fn twin() -> Gc<Twin> {
    Gc::new(Twin {
        other: RefCell::new(None),
    })
}

/// Runs `f` on a thread of its own (a heap of its own) and returns what the subscriber
/// printed meanwhile.
fn on_a_fresh_thread(out: &Buffer, f: impl FnOnce() + Send + 'static) -> String {
    out.take();
    std::thread::spawn(f).join().unwrap();
    out.take()
}

#[test]
fn each_phase_of_a_collection_is_a_span_that_closes_with_its_time() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("gcrt::gc=debug"))
        .with_span_events(FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        // Time since start (a monotonic clock, which Miri has), so that span times show.
        .with_timer(tracing_subscriber::fmt::time::Uptime::default())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    // A full collection that finds a two-node cycle.
    let out = on_a_fresh_thread(&buffer, || {
        gencollect::set_full_scan(true);
        let a = twin();
        *a.other.borrow_mut() = Some(Gc::new(Twin {
            other: RefCell::new(Some(a.clone())),
        }));
        drop(a);
        assert_eq!(gencollect::collect(), 2);
    });
    assert_eq!(
        closed_spans(&out),
        [
            "count",
            "mark",
            "set_apart",
            "analyse",
            "promote",
            "delete",
            "collect"
        ],
        "{out}"
    );
    let closes = out.lines().filter(|l| l.contains(": gcrt::gc: close"));
    assert!(closes.clone().count() == 7 && closes.into_iter().all(|l| l.contains("time.busy=")));
    assert!(
        out.contains("count{objects=2 split=false held=false}"),
        "{out}"
    );
    assert!(out.contains("set_apart{garbage=2}"), "{out}");

    // A generation 0 held by the count pass (threshold 0: always) with no garbage is
    // promoted inside the analysis, in a span of its own.
    let out = on_a_fresh_thread(&buffer, || {
        gencollect::set_young_hold_threshold(0);
        let live: Vec<_> = (0..3).map(|_| twin()).collect();
        assert_eq!(gencollect::collect_generation(0).unwrap(), 0);
        drop(live);
    });
    assert_eq!(
        closed_spans(&out),
        [
            "count",
            "mark",
            "relist",
            "set_apart",
            "analyse",
            "promote",
            "delete",
            "collect"
        ],
        "{out}"
    );
    assert!(
        out.contains("count{objects=3 split=false held=true}"),
        "{out}"
    );
    assert!(out.contains("relist{objects=3}"), "{out}");

    // A full collection with nothing dirty analyses nothing: no count, no mark. (The first
    // one analyses the object whose count went down, and makes it clean.)
    let out = on_a_fresh_thread(&buffer, || {
        let live = twin();
        drop(live.clone());
        assert_eq!(gencollect::collect(), 0);
        assert_eq!(gencollect::collect(), 0);
        drop(live);
    });
    let spans = closed_spans(&out);
    let times = |name: &str| spans.iter().filter(|s| *s == name).count();
    assert_eq!(
        (
            times("select"),
            times("count"),
            times("mark"),
            times("collect")
        ),
        (2, 1, 1, 2),
        "{out}"
    );
}
