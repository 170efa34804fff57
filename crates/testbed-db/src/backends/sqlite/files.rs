//! Where SQLite's templates and copies live, and the file helpers every part uses: the
//! use file beside a template, whether a file is locked, the same-file check, touching.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::ServerCallError;

/// Where templates are kept across runs: `$TESTBED_SQLITE_DIR`, else a `testbed-db`
/// directory in the system's temporary directory.
pub(crate) fn template_dir() -> PathBuf {
    std::env::var_os("TESTBED_SQLITE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("testbed-db"))
}

/// Where per-test copies go: a RAM disk when there is one, since file churn on a disk
/// costs ten times more.
pub(crate) fn copy_dir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.join("testbed-db")
    } else {
        template_dir().join("copies")
    }
}

/// The file whose lock marks template `path` as in use: shared by its users, taken
/// exclusively by a sweep.
pub(super) fn use_file(path: &Path) -> PathBuf {
    path.with_extension("use")
}

/// Whether `file` is still the one at `path` (a sweep may have removed it meanwhile).
pub(super) fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(held), Ok(current)) => held.ino() == current.ino() && held.dev() == current.dev(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.exists()
    }
}

/// Records that template `path` is used now: its modification time. Best effort: a
/// template whose time could not be set is only swept earlier, never while in use.
pub(super) fn touch(path: &Path) {
    if let Ok(file) = std::fs::OpenOptions::new().write(true).open(path) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
}

pub(super) fn is_locked(path: &Path) -> bool {
    match File::open(path) {
        Ok(file) => file.try_lock().is_err(),
        Err(_) => false,
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Kept databases' files start with this, so no sweep takes them for a dead owner's.
pub(super) const KEPT_PREFIX: &str = "kept_";

pub(super) fn remove_copy(path: &Path) -> Result<(), ServerCallError> {
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(side));
    }
    std::fs::remove_file(path)
        .map_err(|e| ServerCallError::file("remove the test database", path, e))
}
