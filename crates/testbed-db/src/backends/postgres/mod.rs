//! PostgreSQL: a template per schema hash; per test, by default, a recycled clone from
//! a warm pool (see `recycle`), or with [`Isolation::Clone`](crate::Isolation::Clone) a fresh clone made with
//! `CREATE DATABASE ... TEMPLATE` and dropped after the test.
//!
//! The clone strategy follows the server. `FILE_COPY` copies the template's files whole
//! but checkpoints before and after; `WAL_LOG` (PostgreSQL 15's default) writes every
//! block through the WAL instead. With `fsync` off (a test server, a RAM disk) the
//! checkpoints are nearly free and `FILE_COPY` wins (11-14 ms against 19-24 ms in the
//! anchors' measurements); with `fsync` on, as here on a disk, each checkpoint waits for
//! the disk and `WAL_LOG` wins (60-80 ms against 120-250 ms measured on this machine).

mod acquire;
mod catalog;
mod cluster;
mod intent;
mod inventory;
mod kept;
mod marks;
mod recycle;
mod registry;
mod rows;
mod schema_check;
mod server;
mod shrink;
mod sql;
mod template;

pub(crate) use acquire::acquire;
#[doc(hidden)]
pub use intent::create_unmarked_for_tests;
pub use inventory::{prune, status, sweep_templates};
pub use kept::PG_MAX_KEPT_CONNECTIONS_ENV;
pub use recycle::broker::serve as serve_broker;
pub use server::POSTGRES_URL_ENV;
pub(crate) use server::server;
