//! The fixtures testbed ships: temporary directories, environment variables, the current
//! directory, captured logs, and overridable globals and registries.

mod cwd;
mod env;
mod global;
pub(crate) mod logs;
mod process_lock;
mod registry;
mod temp_dir;

pub use cwd::{CurrentDir, CurrentDirChangeError, CurrentDirReadError, CurrentDirRestoreError};
pub use env::EnvVars;
pub use global::Global;
#[cfg(feature = "tracing")]
pub use logs::CapturedLogs;
pub use process_lock::EnvLock;
pub use registry::{Registry, RegistryRegisterError};
pub use temp_dir::{
    KEEP_TEMP_ENV, KeepTemp, KeepTempParseError, TempDir, TempDirBuilder, TempDirRemoveError,
    TempDirSetupError,
};
