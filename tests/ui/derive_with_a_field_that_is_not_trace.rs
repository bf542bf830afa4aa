// Every field of a derived type must implement `Trace` (or be skipped).
use gcrt::Trace;

struct Opaque;

#[derive(Trace)]
struct Node {
    inner: Opaque,
}

fn main() {}
