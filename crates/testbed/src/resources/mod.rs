//! Shared resources: expensive things (a database server, a migrated template, a built
//! artifact) that many tests use, made once on first use and shared, reset when a test
//! dirties them, and cleaned when no longer needed; persistent ones are shared across
//! processes through a directory under the target dir.
//!
//! When things are cleaned, by runner:
//!
//! - Under testbed's [`harness`](crate::harness): as soon as no running test uses a
//!   resource and none of the next tests to start needs it, and at the latest at the end
//!   of the run, with a summary of what each resource cost.
//! - Under plain libtest (`cargo test`), which has no end-of-run hook: a resource no test
//!   uses is kept for the next test of the process (tests overlap in no useful order, so
//!   cleaning at zero users would remake it again and again), and every resource is
//!   cleaned when the process exits (a C `atexit` hook runs each clean hook). Only a
//!   killed process skips that; whatever must survive it belongs in a [`Persistent`]
//!   directory.
//! - Under `cargo nextest run`: one process per test, so process-local resources live
//!   for one test and are cleaned at its exit; [`Persistent`] directories are what is
//!   shared, built once by whichever process gets there first.
//! - [`Persistent`] directories stay for the next run; a sweep removes keys unused for
//!   7 days or beyond the 4 most recently used, so they cannot pile up.
//!
//! ```
//! use testbed::resources::{Persistent, PersistentHold, Resource};
//!
//! /// A template built once per schema version by whichever test process comes first,
//! /// and held (safe from sweeps) for as long as this process uses it.
//! static TEMPLATE: Resource<PersistentHold> = Resource::new("template", |_| {
//!     let schema = "create table users (id integer primary key);";
//!     let key = format!("v1-{:x}", schema.len());
//!     Ok(Persistent::new("doc-template").ensure(&key, |dir| {
//!         std::fs::write(dir.join("schema.sql"), schema)?;
//!         Ok(())
//!     })?)
//! });
//!
//! #[testbed::test(resources(TEMPLATE))]
//! fn reads_the_template(scope: &testbed::Scope) -> Result<(), testbed::BoxError> {
//!     let template = TEMPLATE.get(scope)?;
//!     assert!(template.path().join("schema.sql").is_file());
//!     Ok(())
//! }
//! # fn main() { reads_the_template(); }
//! ```

mod erased;
mod error;
mod persistent;
pub(crate) mod registry;
mod resource;
mod retention;
mod target_dir;
mod usage;

pub use erased::{AnyResource, ResourceStats};
pub use error::{PersistentEnsureError, ResourceCleanError};
pub use persistent::{Persistent, PersistentEntry, PersistentHold};
pub use resource::{Deps, Resource, Shared};
pub use retention::Retention;
pub use target_dir::testbed_dir;
#[cfg(feature = "harness")]
pub(crate) use usage::capture as capture_usage;
