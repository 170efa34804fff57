//! Shared resources: expensive things (a database server, a migrated template, a built
//! artifact) that many tests use, made once on first use and shared, reset when a test
//! dirties them, and torn down when no longer needed; persistent ones are shared across
//! processes through a directory under the target dir.

mod deps;
mod error;
mod persistent;
mod registry;
mod resource;
mod target_dir;

pub use deps::Deps;
pub use error::{PersistentEnsureError, ResourceCleanError};
pub use persistent::{Persistent, PersistentHold};
pub use registry::{AnyResource, ResourceStats, live_resources, teardown_all};
pub use resource::{Resource, Shared};
pub use target_dir::testbed_dir;
