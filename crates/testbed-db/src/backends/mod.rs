//! The backends, one folder each, in the same shape: `mod.rs` declares and re-exports,
//! `acquire.rs` gives a test its database and takes it back, `template.rs` builds a
//! schema's template once, `inventory.rs` lists and sweeps what testbed holds, and a
//! server backend's `server.rs` probes and connects. What they share (naming, retention,
//! what is held, waiting, the server cache) is in the crate's other modules, below them.
//!
//! Adding a backend: a folder here with those files, a `Backend` variant and its cargo
//! feature, and one arm in each dispatch (`acquire.rs`'s `Database::acquire`, `admin`).

#[cfg(feature = "mysql")]
pub(crate) mod mysql;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;
