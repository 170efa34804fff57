//! The fixtures testbed ships: temporary directories, environment variables, the current
//! directory, captured logs, and overridable globals and registries.

mod cwd;
mod env;
mod global;
pub(crate) mod in_effect;
pub(crate) mod logs;
mod registry;
mod temp_dir;
mod test_locks;

pub use cwd::{CurrentDir, CurrentDirChangeError, CurrentDirReadError, CurrentDirRestoreError};
pub use env::EnvVars;
pub use global::Global;
#[cfg(feature = "tracing")]
pub use logs::CapturedLogs;
pub use registry::{Registry, RegistryRegisterError};
pub use temp_dir::{
    KEEP_TEMP_ENV, KeepTemp, KeepTempParseError, TempDir, TempDirBuilder, TempDirRemoveError,
    TempDirSetupError,
};
pub use test_locks::EnvLock;
