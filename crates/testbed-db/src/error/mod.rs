//! What can go wrong while providing a test database: one error type per operation.
//!
//! [`DatabaseAcquireError`] is what acquiring a test database gives (the operation users
//! meet); [`ServerCallError`] is what calling a server gives, the part every operation
//! shares (the `admin` functions return it as it is); [`SchemaLoadError`] and
//! [`ScriptRunError`] are the schema's parts of acquiring. Messages are lowercase
//! fragments that read after "failed to", the cause is in `source()`, never pasted into
//! the message, and a `(hint: ...)` is given only when it is true for that cause. No
//! message holds a password: every URL in them is redacted.

mod acquire;
mod cause;
mod classify;
#[cfg(feature = "__diesel")]
mod connection;
mod schema;
mod server;

pub use acquire::DatabaseAcquireError;
pub use cause::Reason;
pub(crate) use cause::write_chain;
pub(crate) use classify::is_too_many_connections;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) use classify::{CallFailure, is_connection_failure};
#[cfg(feature = "__diesel")]
pub use connection::ConnectionOpenError;
pub use schema::{SchemaLoadError, ScriptRunError};
pub use server::ServerCallError;
