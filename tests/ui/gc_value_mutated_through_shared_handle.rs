// A `Gc` gives shared access only: mutation needs a `RefCell` (or `Gc::get_mut`).
use gcrt::Gc;

fn main() {
    let a = Gc::new(vec![1]);
    a.push(2);
}
