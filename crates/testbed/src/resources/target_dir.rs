//! Where testbed keeps what outlives one test process: a `testbed` folder in cargo's
//! target dir, so `cargo clean` removes it and every runner of one workspace shares it.

use std::path::{Path, PathBuf};

/// The directory testbed keeps persistent resources and locks in.
///
/// In order: `$TESTBED_DIR`; `$CARGO_TARGET_DIR/testbed`; `testbed` in the nearest
/// ancestor of the running executable that holds cargo's `CACHEDIR.TAG` (the target dir
/// under `cargo test` and `cargo nextest run`); else `testbed` in the system temp dir.
///
/// ```
/// let dir = testbed::resources::testbed_dir();
/// assert!(dir.ends_with("testbed") || std::env::var_os("TESTBED_DIR").is_some());
/// ```
pub fn testbed_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TESTBED_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return absolute(Path::new(&dir)).join("testbed");
    }
    let from_exe = std::env::current_exe()
        .ok()
        .and_then(|exe| target_dir_above(&exe));
    match from_exe {
        Some(target) => target.join("testbed"),
        None => std::env::temp_dir().join("testbed"),
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// The nearest ancestor of `path` that cargo marked as a target dir.
fn target_dir_above(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .skip(1)
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map(Path::to_owned)
}

#[cfg(test)]
mod tests {
    use super::target_dir_above;

    #[test]
    fn finds_the_marked_ancestor() {
        let root = tempfile::tempdir().unwrap();
        let deps = root.path().join("target/debug/deps");
        std::fs::create_dir_all(&deps).unwrap();
        std::fs::write(root.path().join("target/CACHEDIR.TAG"), "").unwrap();
        let found = target_dir_above(&deps.join("suite-123")).unwrap();
        assert_eq!(found, root.path().join("target"));
        assert_eq!(target_dir_above(root.path()), None);
    }
}
