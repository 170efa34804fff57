//! The built-in fixtures, each tested through the public API: most tests drive a
//! [`testbed::Scope`] by hand so they can look at the world after its cleanups ran.

mod temp_dir;
