//! The built-in fixtures, each tested through the public API: most tests drive a
//! [`testbed::Scope`] by hand, or the generated runner inside `catch_unwind`, so they can
//! look at the world after the cleanups ran.
//!
//! Tests that change or depend on the environment or the current directory hold the
//! process-wide lock (through the fixtures) so they cannot race each other.

mod cwd;
mod env;
mod global;
mod registry;
mod support;
mod temp_dir;
mod test_locks;
