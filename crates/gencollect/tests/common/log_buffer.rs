//! A `tracing` subscriber's output captured in memory, for the tests of what the collector
//! reports (`tracing_events.rs`, `phase_spans.rs`, which include this file alone:
//! `mod common { pub(crate) mod log_buffer; }`).

use std::io::Write;
use std::sync::{Arc, Mutex};

/// A writer into a shared buffer: give the subscriber clones of it.
#[derive(Clone, Default)]
pub(crate) struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    /// What was written since the last call (everything, the first time).
    pub(crate) fn take(&self) -> String {
        String::from_utf8(core::mem::take(&mut *self.0.lock().unwrap())).unwrap()
    }
}
