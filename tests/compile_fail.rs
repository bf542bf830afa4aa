//! What the API rules out fails to compile, with the message a user will read
//! (`tests/ui/*.rs`, each with its expected `.stderr`). After a compiler upgrade, review the
//! new messages and refresh them with `TRYBUILD=overwrite cargo test --test compile_fail`.

#[test]
#[cfg_attr(miri, ignore = "runs the compiler")]
fn the_api_rules_these_out() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
