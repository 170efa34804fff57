//! What the tests share: the backend fixture, the seed's helpers, and the summary line
//! of the databases the run acquired.

mod acquisitions;
mod backends;
mod helpers;

pub use backends::Db;
pub use helpers::*;
