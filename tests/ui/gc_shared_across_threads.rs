// Nor shared with one: `&Gc` is not `Send`, because `Gc` is not `Sync`.
use gcrt::Gc;

fn main() {
    let a = Gc::new(1u8);
    std::thread::scope(|s| {
        s.spawn(|| *a + 1);
    });
}
