//! The temporary-files check: entries that appeared at the top of the system temporary
//! directory (`std::env::temp_dir()`) during the test, owned by this user.
//!
//! Other processes write there too (nextest's other test processes, a parent test that
//! started this one, anything else on the machine), and nothing records which process
//! made an entry, so an entry is never proof against a test: `check` reports it on
//! stderr as a suspect, in every runner, and never fails a test for it.
//!
//! Listing the directory is the cost, so a listing (hashes of names only) is reused
//! while the directory's modification time is unchanged, and the after-look lists only
//! when it changed. File systems stamp that time with a coarse clock, so a time is
//! trusted only when it is older than [`COARSE_CLOCK`] at the snapshot: a change after
//! the snapshot then always moves it.

use std::ffi::{OsStr, OsString};
use std::hash::Hasher;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::ignore::path_ignored;
use super::policy::Category;
use super::report::{Leak, cannot_run};

/// How old a modification time must be to be trusted: a change within one tick of the
/// clock file systems stamp directories with could leave the time as it was.
const COARSE_CLOCK: Duration = Duration::from_millis(50);

/// The directory's entries before the test, as sorted hashes of their names: no
/// allocation per entry (the names are read again only once a difference shows).
pub(super) struct Snapshot {
    dir: PathBuf,
    modified: Option<SystemTime>,
    taken: SystemTime,
    hashes: Arc<Vec<u64>>,
}

/// A listing: the directory, its modification time read before it, the hashes.
type Listing = (PathBuf, SystemTime, Arc<Vec<u64>>);

/// The last listing.
static LAST: Mutex<Option<Listing>> = Mutex::new(None);

fn hash(name: &[u8]) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    hasher.write(name);
    hasher.finish()
}

fn hashes(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut hashes = Vec::with_capacity(64);
    super::dir::entries(dir, |name| hashes.push(hash(name)))?;
    hashes.sort_unstable();
    Ok(hashes)
}

fn modified(dir: &Path) -> Option<SystemTime> {
    std::fs::metadata(dir).and_then(|meta| meta.modified()).ok()
}

fn trusted(modified: SystemTime, at: SystemTime) -> bool {
    modified + COARSE_CLOCK < at
}

pub(super) fn snapshot() -> Option<Snapshot> {
    let dir = std::env::temp_dir();
    let taken = SystemTime::now();
    // Read before listing: a change during the listing then shows as a newer time.
    let modified = modified(&dir);
    let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let (Some(modified), Some((last_dir, last_modified, hashes))) = (modified, &*last) {
        if *last_dir == dir && *last_modified == modified && trusted(modified, taken) {
            return Some(Snapshot {
                hashes: hashes.clone(),
                dir,
                modified: Some(modified),
                taken,
            });
        }
    }
    match hashes(&dir) {
        Ok(hashes) => {
            let hashes = Arc::new(hashes);
            *last = modified.map(|modified| (dir.clone(), modified, hashes.clone()));
            Some(Snapshot {
                dir,
                modified,
                taken,
                hashes,
            })
        }
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
    if let (Some(was), Some(now)) = (before.modified, modified(&before.dir)) {
        if was == now && trusted(was, before.taken) {
            return Vec::new();
        }
    }
    let mut new: Vec<OsString> = Vec::new();
    let listed = super::dir::entries(&before.dir, |name| {
        if before.hashes.binary_search(&hash(name)).is_err() {
            new.push(OsStr::from_bytes(name).to_owned());
        }
    });
    if listed.is_err() || new.is_empty() {
        return Vec::new();
    }
    // SAFETY: `geteuid` takes nothing, cannot fail and touches no memory of ours.
    let me = unsafe { libc::geteuid() };
    new.sort();
    new.into_iter()
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
