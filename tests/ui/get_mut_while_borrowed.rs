// `Gc::get_mut` needs the handle borrowed mutably: no shared borrow of the value may live.
use gcrt::Gc;

fn main() {
    let mut a = Gc::new(String::from("a"));
    let s: &str = &a;
    let m = Gc::get_mut(&mut a).unwrap();
    m.push('!');
    println!("{s}");
}
