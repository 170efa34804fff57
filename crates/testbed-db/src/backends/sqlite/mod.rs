//! SQLite: a template file built once per schema hash (shared by every process and
//! later runs), then per test either its image copied into an in-memory database of the
//! `memdb` VFS (see [`memdb`]) or a copy of the file on a RAM disk. Either allows a
//! test's pool its usual [`TEST_POOL_CONNECTIONS`](crate::pool_limit::TEST_POOL_CONNECTIONS).
//!
//! Templates are keys of a testbed [`Persistent`](testbed::resources::Persistent)
//! directory (see [`template`]): a process that uses one holds it for its whole life, so
//! that the sweep of stale templates leaves it alone.

mod acquire;
mod files;
mod inventory;
mod memdb;
mod template;

pub(crate) use acquire::acquire;
pub(crate) use inventory::{prune, status, sweep_templates};
