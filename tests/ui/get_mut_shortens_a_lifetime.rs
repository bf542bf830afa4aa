// A handle's type may carry a lifetime shortened by covariance, as with `Rc`; writing a
// short-lived value through `Gc::get_mut` would break the `'static` type the object was made
// as, which `AnyGc::downcast` gives back: `get_mut` needs `T: 'static`.
use gcrt::{AnyGc, Gc};

fn launder(short: &str) -> AnyGc {
    let mut handle: Gc<&str> = Gc::new("static");
    *Gc::get_mut(&mut handle).unwrap() = short;
    AnyGc::from(handle)
}

fn main() {
    let text = String::from("short-lived");
    let any = launder(&text);
    drop(text);
    let back: Gc<&'static str> = any.downcast().ok().unwrap();
    println!("{}", *back);
}
