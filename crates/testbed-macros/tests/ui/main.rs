//! The compile errors `#[testbed::test]` gives for misuse: each case under `cases/` must
//! fail to compile with exactly the message in its `.stderr` file.
//!
//! After changing a message on purpose, regenerate the files with
//! `TRYBUILD=overwrite cargo test -p testbed-macros --test ui` and review the diff.

#[test]
fn misuse_is_a_compile_error_naming_the_fix() {
    trybuild::TestCases::new().compile_fail("tests/ui/cases/*.rs");
}
