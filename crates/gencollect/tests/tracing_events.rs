//! Each collection is a `tracing` event a new user's subscriber shows: with the default
//! `fmt` subscriber and `RUST_LOG=gencollect=debug`, one line per collection with its
//! generation, reason, candidates, collected, uncollectable and duration.

use tracing_subscriber::EnvFilter;

mod common {
    pub(crate) mod log_buffer;
}
use common::log_buffer::Buffer;

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
    let out = buffer.take();
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
    let out = buffer.take();
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
