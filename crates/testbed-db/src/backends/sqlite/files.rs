//! Where SQLite's templates and copies live, and the file helpers the parts share:
//! whether a file is locked, removing a copy.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::ServerCallError;

/// Where templates are kept across runs (in its `templates/` folder):
/// `$TESTBED_SQLITE_DIR`, else a `testbed-db` directory in the system's temporary
/// directory.
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
