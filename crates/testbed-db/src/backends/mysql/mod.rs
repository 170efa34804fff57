//! MySQL/MariaDB: no templates there, and `CREATE TABLE` is slow, so each schema gets a
//! pool of pre-built databases shared by every process and later runs. A test claims
//! one with a named lock held by its process's lease connection; after the test its rows
//! are deleted and the seed rows copied back from the schema's template database, one
//! round trip. The auto-increment counters a test moved are set back to the template's
//! in the same round trip (a `TRUNCATE` or an `ALTER TABLE` each, see [`reset`]), so
//! every test gets the ids a fresh copy of the template would give. A test that changed the schema gets its database
//! rebuilt.
//!
//! Limits: views, triggers and routines are rebuilt with the schema, never reset.

mod acquire;
mod fingerprint;
mod grants;
mod inventory;
mod registry;
mod repair;
mod reset;
mod server;
mod template;
mod work;

pub(crate) use acquire::acquire;
pub(crate) use inventory::{prune, status, sweep_templates};
pub use server::MYSQL_URL_ENV;
