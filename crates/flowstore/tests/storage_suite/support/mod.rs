//! What the tests share: the backend fixture, the seed's helpers, and the per-backend
//! summary printed after the run.

mod backends;
mod helpers;
pub mod tally;

pub use backends::Db;
pub use helpers::*;
