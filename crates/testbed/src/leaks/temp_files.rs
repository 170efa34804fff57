//! The temporary-files check: entries that appeared at the top of the system temporary
//! directory (`std::env::temp_dir()`) during the test, owned by this user.
//!
//! Other processes write there too (nextest's other test processes among them), so an
//! entry is proof against a test only when the run is one test at a time in one process
//! (libtest with one test thread); `check` reports it as a suspect otherwise. The
//! directory is listed before and after every test: its modification time is no safe
//! shortcut (file systems stamp it with a coarse clock, some not at all).

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use super::ignore::path_ignored;
use super::policy::Category;
use super::report::{Leak, cannot_run};

/// The directory's entries before the test, sorted.
pub(super) struct Snapshot {
    dir: PathBuf,
    names: Vec<OsString>,
}

fn list(dir: &PathBuf) -> std::io::Result<Vec<OsString>> {
    let mut names: Vec<OsString> = std::fs::read_dir(dir)?
        .filter_map(|entry| Some(entry.ok()?.file_name()))
        .collect();
    names.sort_unstable();
    Ok(names)
}

pub(super) fn snapshot() -> Option<Snapshot> {
    let dir = std::env::temp_dir();
    match list(&dir) {
        Ok(names) => Some(Snapshot { dir, names }),
        Err(error) => {
            cannot_run(
                Category::TempFiles,
                &format!("`{}`: {error}", dir.display()),
            );
            None
        }
    }
}

pub(super) fn leaks(before: &Snapshot) -> Vec<Leak> {
    let Ok(now) = list(&before.dir) else {
        return Vec::new();
    };
    // SAFETY: `geteuid` takes nothing, cannot fail and touches no memory of ours.
    let me = unsafe { libc::geteuid() };
    now.into_iter()
        .filter(|name| before.names.binary_search(name).is_err())
        .filter_map(|name| {
            let path = before.dir.join(&name);
            // Removed since the listing: not left behind.
            let meta = std::fs::symlink_metadata(&path).ok()?;
            if meta.uid() != me || path_ignored(&path) {
                return None;
            }
            let kind = if meta.is_dir() { "directory" } else { "file" };
            Some(Leak::new(
                Category::TempFiles,
                format!(
                    "{kind} `{}` left in the temporary directory",
                    path.display()
                ),
            ))
        })
        .collect()
}
