// The collector's engine is not part of gcrt's API.
fn main() {
    let n = gcrt::refcount::engine::with_heap(|h| h.list_len(0));
    let _ = n;
}
