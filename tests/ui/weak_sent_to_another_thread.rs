// Weak handles are tied to their thread's heap too.
use gcrt::Gc;

fn main() {
    let a = Gc::new(1u8);
    let w = Gc::downgrade(&a);
    std::thread::spawn(move || drop(w));
}
