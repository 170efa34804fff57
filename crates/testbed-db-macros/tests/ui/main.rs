//! The compile errors `testbed_db::migrations!` and `testbed_db::seeds!` give for
//! misuse: each case under `cases/` must fail to compile with exactly the message in its
//! `.stderr` file. (The cases call the macros of this crate directly; `testbed_db`
//! re-exports them unchanged.)
//!
//! After changing a message on purpose, regenerate the files with
//! `TRYBUILD=overwrite cargo test -p testbed-db-macros --test ui` and review the diff.

#[test]
fn misuse_is_a_compile_error_naming_the_fix() {
    trybuild::TestCases::new().compile_fail("tests/ui/cases/*.rs");
}
