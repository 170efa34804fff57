//! The fixtures testbed ships: temporary directories, environment variables, the current
//! directory, captured logs, and overridable globals and registries.

pub(crate) mod logs;

#[cfg(feature = "tracing")]
pub use logs::CapturedLogs;
