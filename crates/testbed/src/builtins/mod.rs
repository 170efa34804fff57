//! The fixtures testbed ships: temporary directories, environment variables, the current
//! directory, captured logs, and overridable globals and registries.

pub(crate) mod logs;
mod temp_dir;

#[cfg(feature = "tracing")]
pub use logs::CapturedLogs;
pub use temp_dir::{
    KEEP_TEMP_ENV, KeepTemp, KeepTempParseError, TempDir, TempDirBuilder, TempDirRemoveError,
    TempDirSetupError,
};
