//! [`Storage`]: the state of one running flow, as an engine reads and writes it: its
//! atoms and their states, results and failures, retry histories, progress and injected
//! arguments, persisted through an optional [`Backend`](crate::Backend) on every change.

mod arguments;
mod atoms;
mod flow;
mod handle;
mod outcome;
mod progress;
mod providers;
mod results;
mod retry;

pub use arguments::ArgsMapping;
pub use handle::{INJECTOR_NAME, Storage};
pub use outcome::Outcome;
pub use progress::ProgressDetails;
pub use retry::RetryHistory;
