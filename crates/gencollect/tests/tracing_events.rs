//! Each collection is a `tracing` event a new user's subscriber shows: with the default
//! `fmt` subscriber and `RUST_LOG=gencollect=debug`, one line per collection with its
//! generation, reason, candidates, collected, uncollectable and duration.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::EnvFilter;

/// A writer into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn every_collection_is_an_event_the_fmt_subscriber_prints() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("gencollect=debug"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time() // (Miri has no clock)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        gencollect::collect();
        gencollect::collect_generation(0).unwrap();
    });
    let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("collection finished"))
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].contains("generation=2") && lines[0].contains("reason=\"manual\""),
        "{out}"
    );
    assert!(lines[1].contains("generation=0"), "{out}");
    for field in [
        "candidates=",
        "collected=",
        "uncollectable=",
        "duration_us=",
    ] {
        assert!(lines[0].contains(field), "{field} in {out}");
    }
}

#[test]
fn debug_stats_lines_go_to_the_subscriber_once_each() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("gcrt::gc::debug=info"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time() // (Miri has no clock)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        gencollect::set_debug(gencollect::DebugFlags::STATS);
        gencollect::collect();
        gencollect::set_debug(gencollect::DebugFlags::NONE);
    });
    let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        out.matches("gc: collecting generation 2...").count(),
        1,
        "{out}"
    );
    assert_eq!(out.matches("gc: done, ").count(), 1, "{out}");
    assert!(
        out.contains("unreachable, 0 uncollectable") && out.contains("s elapsed"),
        "{out}"
    );
}

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

fn span_closes_of(f: impl FnOnce()) -> String {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("gcrt::gc=debug"))
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        // Time since start (a monotonic clock, which Miri has), so that span times show.
        .with_timer(tracing_subscriber::fmt::time::Uptime::default())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
}

struct Twin {
    other: std::cell::RefCell<Option<refcount::Gc<Twin>>>,
}

// SAFETY: reports its one handle.
unsafe impl refcount::Trace for Twin {
    fn trace(&self, t: &mut refcount::Tracer<'_>) {
        self.other.trace(t);
    }
}

#[test]
fn each_phase_of_a_collection_is_a_span_with_its_time() {
    // What `gcrt --phases` prints: the time each phase of each collection took.
    gencollect::set_full_scan(true);
    gencollect::collect();
    let a = refcount::Gc::new(Twin {
        other: std::cell::RefCell::new(None),
    });
    let b = refcount::Gc::new(Twin {
        other: std::cell::RefCell::new(Some(a.clone())),
    });
    *a.other.borrow_mut() = Some(b);
    drop(a);
    let out = span_closes_of(|| assert_eq!(gencollect::collect(), 2));
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
    assert!(
        out.lines()
            .filter(|l| l.contains(": gcrt::gc: close"))
            .all(|l| l.contains("time.busy=")),
        "{out}"
    );
    assert!(
        out.contains("count{objects=2 split=false held=false}"),
        "{out}"
    );
    assert!(out.contains("set_apart{garbage=2}"), "{out}");
}

#[test]
fn a_held_generation_promoted_whole_is_relisted_in_a_span_of_its_own() {
    // A generation 0 held by the count pass (threshold 0: always) with no garbage is
    // promoted inside the analysis.
    gencollect::set_young_hold_threshold(0);
    let live: Vec<_> = (0..3)
        .map(|_| {
            refcount::Gc::new(Twin {
                other: std::cell::RefCell::new(None),
            })
        })
        .collect();
    let out = span_closes_of(|| assert_eq!(gencollect::collect_generation(0).unwrap(), 0));
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
    drop(live);
}
