//! Persistence backends: where a [`Storage`](crate::Storage) writes flows and atoms so a
//! later process can resume them.

mod codec;
mod contract;
mod memory;
mod sql;

pub use contract::Backend;
pub use memory::MemoryBackend;
pub use sql::{SqlBackend, SqlKind};
