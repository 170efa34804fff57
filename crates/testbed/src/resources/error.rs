//! The errors of resource operations.

use std::path::PathBuf;

use crate::core::BoxError;

/// A resource's clean hook failed or panicked while the resource was being released.
#[derive(Debug, thiserror::Error)]
#[error("clean resource `{resource}`")]
pub struct ResourceCleanError {
    /// The resource's name.
    pub resource: &'static str,
    /// What the clean hook returned or panicked with.
    #[source]
    pub source: BoxError,
}

/// A persistent resource could not be found or built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistentEnsureError {
    /// Its directory or lock file could not be created, locked or read.
    #[error(
        "use persistent resource directory `{}` \
         (hint: set `TESTBED_DIR` to a writable directory)",
        path.display()
    )]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The file system error.
        #[source]
        source: std::io::Error,
    },
    /// Its build function failed; the half-built directory is rebuilt on the next try.
    #[error("build persistent resource `{name}` (key `{key}`) in `{}`", path.display())]
    Build {
        /// The resource's name.
        name: String,
        /// The key it was built for.
        key: String,
        /// The directory it was built in.
        path: PathBuf,
        /// What the build function returned or panicked with.
        #[source]
        source: BoxError,
    },
    /// Its key has characters that cannot name a directory.
    #[error(
        "accept persistent resource key `{key}` for `{name}` \
         (hint: use letters, digits, `-`, `_` and `.`, such as a hex content hash)"
    )]
    InvalidKey {
        /// The resource's name.
        name: String,
        /// The rejected key.
        key: String,
    },
}
