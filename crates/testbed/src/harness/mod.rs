//! The optional test harness (`harness` feature): what libtest cannot do. Runtime skips
//! reported and counted, tests ordered so each shared resource is made as few times as
//! possible while tests still run in parallel, resources torn down at the end of the
//! run with a summary of what each cost, and libtest's command line, so `cargo test` and
//! `cargo nextest run` both drive it.

mod registration;

pub use registration::{RegisteredTest, ShouldPanic};
