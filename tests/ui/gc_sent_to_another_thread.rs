// A `Gc` belongs to its thread's heap: it cannot be sent to another thread.
use gcrt::Gc;

fn main() {
    let a = Gc::new(1u8);
    std::thread::spawn(move || drop(a));
}
