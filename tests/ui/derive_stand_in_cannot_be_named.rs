// The derive answers `pure_trace` for a type that contains itself by putting a stand-in in
// its place. Were the stand-in nameable, a user trait implemented for it could pick another
// associated type than for the real type, and turn an impure field into a pure-looking one:
// it is defined inside the generated method, out of reach.
use gcrt::{Gc, Trace};

pub trait Pick {
    type A: Trace;
}

impl Pick for gcrt::__Leaf {
    type A = ();
}

#[derive(Trace)]
pub struct W<T: Pick>(T::A);

#[derive(Trace)]
pub struct Node {
    w: W<Self>,
    extra: Option<Gc<u8>>,
}

impl Pick for Node {
    type A = String;
}

fn main() {}
