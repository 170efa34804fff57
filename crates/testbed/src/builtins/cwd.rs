//! The current directory changed for one test and restored when it ends, under the
//! process-wide lock.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::test_locks::{LockKey, Mode, hold};
use crate::core::lock;
use crate::{BoxError, Fixture, Scope};

/// The current directory could not be read when the fixture was set up.
#[derive(Debug, thiserror::Error)]
#[error("read the current directory (hint: it may have been removed; `cd` into an existing one)")]
pub struct CurrentDirReadError {
    /// Why.
    #[source]
    pub source: io::Error,
}

/// [`CurrentDir::change_to`] could not enter a directory.
#[derive(Debug, thiserror::Error)]
#[error("change the current directory to `{}`", path.display())]
pub struct CurrentDirChangeError {
    /// The directory.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: io::Error,
}

/// The original directory could not be entered again at the end of the test: a cleanup
/// error.
#[derive(Debug, thiserror::Error)]
#[error("restore the current directory to `{}` (hint: the test may have removed it)", path.display())]
pub struct CurrentDirRestoreError {
    /// The directory the test started in.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: io::Error,
}

/// The process's current directory, changed for one test and restored when it ends.
///
/// Setting it up takes testbed's process-wide lock (shared with
/// [`EnvVars`](crate::EnvVars), whose docs say what the lock does and does not protect)
/// and remembers the current directory; a cleanup goes back there however the test ends,
/// panics included, even if the test changed directory without the fixture.
///
/// ```
/// use testbed::{CurrentDir, TempDir};
///
/// #[testbed::test]
/// fn writes_relative_paths(dir: TempDir, cwd: CurrentDir) -> Result<(), Box<dyn std::error::Error>> {
///     cwd.change_to(dir.path())?;
///     std::fs::write("out.txt", "hi")?;
///     assert!(dir.path().join("out.txt").is_file());
///     Ok(())
/// }
/// ```
///
/// Driven by hand:
///
/// ```
/// use testbed::{CurrentDir, Fixture, Outcome, Scope, TempDir};
///
/// let scope = Scope::new("cwd example");
/// let dir = TempDir::setup(&scope).unwrap();
/// let cwd = CurrentDir::new(&scope).unwrap();
/// cwd.change_to(dir.path()).unwrap();
/// assert_eq!(std::env::current_dir().unwrap(), dir.path().canonicalize().unwrap());
/// scope.finish(Outcome::Passed).unwrap();
/// assert_eq!(std::env::current_dir().unwrap(), cwd.original());
/// ```
#[derive(Debug, Clone)]
pub struct CurrentDir {
    original: PathBuf,
    restored: Arc<Mutex<bool>>,
}

impl CurrentDir {
    /// Takes the process-wide lock for the test of `scope`, remembers the current
    /// directory and registers the cleanup that returns to it.
    ///
    /// # Panics
    ///
    /// When another test has held the lock for five minutes; the message names it.
    pub fn new(scope: &Scope) -> Result<Self, CurrentDirReadError> {
        hold(scope, LockKey::Process, Mode::Alone);
        let original = std::env::current_dir().map_err(|source| CurrentDirReadError { source })?;
        let restored = Arc::new(Mutex::new(false));
        let done = restored.clone();
        let path = original.clone();
        scope.add_cleanup(move |_| {
            let mut done = lock(&done);
            *done = true;
            std::env::set_current_dir(&path)
                .map_err(|source| CurrentDirRestoreError { path, source })
        });
        Ok(CurrentDir { original, restored })
    }

    /// Makes `path` the current directory for the rest of the test.
    ///
    /// # Panics
    ///
    /// When the test's cleanups have already run.
    pub fn change_to(&self, path: impl AsRef<Path>) -> Result<(), CurrentDirChangeError> {
        let path = path.as_ref();
        // Held across the change so the restoring cleanup never interleaves with it.
        let restored = lock(&self.restored);
        assert!(
            !*restored,
            "`CurrentDir` changed to `{}` after its test ended (hint: keep the fixture inside the test)",
            path.display()
        );
        std::env::set_current_dir(path).map_err(|source| CurrentDirChangeError {
            path: path.to_owned(),
            source,
        })
    }

    /// The directory the test started in, which the cleanup returns to.
    pub fn original(&self) -> &Path {
        &self.original
    }
}

impl Fixture for CurrentDir {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        Ok(CurrentDir::new(scope)?)
    }
}
