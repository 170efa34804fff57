//! The SQL backend: one [`SqlBackend`] for SQLite, PostgreSQL and MySQL through sqlx.

mod backend;
mod kind;
mod queries;

pub use backend::SqlBackend;
pub use kind::SqlKind;
