// A traced field that borrows (not 'static) gets a clear error that suggests #[trace(skip)].
use gcrt::Trace;

#[derive(Trace)]
struct Borrowing<'a> {
    name: &'a str,
}

fn main() {}
