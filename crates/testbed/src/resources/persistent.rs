//! Persistent resources: a directory built once per key by whichever process gets there
//! first, found by every other process (nextest runs one per test), and swept once stale.
//!
//! Layout under [`testbed_dir`]`/persistent/<name>/`: `<key>/` holds what the build
//! function made, `<key>.complete` is written only after a successful build (a crash
//! leaves none, and the next user rebuilds), and `<key>.lock` is locked exclusively while
//! building and shared while in use, so a sweep never removes a directory in use.

use std::fs::{File, OpenOptions};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use fs4::FileExt;

use super::Retention;
use super::error::PersistentEnsureError;
use super::target_dir::testbed_dir;
use crate::core::{BoxError, panic_message};

/// A directory shared by every test process of a workspace, built once per key.
///
/// The key identifies the content, typically a hash of what the build reads (migration
/// files, a schema, a version): a new key builds a new directory, and the old one is
/// swept once stale, by the first [`ensure`](Persistent::ensure) of each process or by
/// [`sweep`](Persistent::sweep). Stale means: not the key being ensured, not in use by
/// any process, and either half built (a build that failed or was killed) or, under its
/// [`Retention`] (by default [`Retention::DEFAULT`]), unused for longer than its
/// `max_age` (7 days) or older than its `keep` most recently used keys (4). So at most
/// `keep` directories per name remain, plus any still in use.
///
/// ```
/// use testbed::resources::Persistent;
///
/// static SCHEMA: Persistent = Persistent::new("doc-schema");
///
/// let hold = SCHEMA
///     .ensure("v1-3f2a", |dir| {
///         std::fs::write(dir.join("schema.sql"), "create table t (id int);")?;
///         Ok(())
///     })
///     .unwrap();
/// assert!(hold.path().join("schema.sql").is_file());
/// ```
#[derive(Debug)]
pub struct Persistent {
    name: &'static str,
    retention: Retention,
    root: Option<PathBuf>,
    /// One sweep per process is enough: stale keys do not appear while it runs.
    swept: AtomicBool,
}

impl Persistent {
    /// Declares a persistent resource; `name` names its folder.
    pub const fn new(name: &'static str) -> Self {
        Persistent {
            name,
            retention: Retention::DEFAULT,
            root: None,
            swept: AtomicBool::new(false),
        }
    }

    /// Keeps the keys in `dir` instead of under [`testbed_dir`] (for tests of testbed).
    pub fn in_dir(self, dir: impl Into<PathBuf>) -> Self {
        Persistent {
            root: Some(dir.into()),
            ..self
        }
    }

    /// Sweeps other keys unused for longer than `max_age`.
    pub const fn max_age(mut self, max_age: Duration) -> Self {
        self.retention = self.retention.with_max_age(max_age);
        self
    }

    /// Keeps at most `keep` keys (the one being ensured counts as one, and is always kept).
    pub const fn keep(mut self, keep: usize) -> Self {
        self.retention = self.retention.with_keep(keep);
        self
    }

    /// Sweeps under `retention` (both its limits at once).
    ///
    /// ```
    /// use testbed::resources::{Persistent, Retention};
    ///
    /// static BUILDS: Persistent = Persistent::new("doc-builds").retention(Retention::DEFAULT.with_keep(2));
    /// ```
    pub const fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// The folder every key of this resource lives in.
    pub fn root(&self) -> PathBuf {
        match &self.root {
            Some(dir) => dir.join(self.name),
            None => testbed_dir().join("persistent").join(self.name),
        }
    }

    /// Returns the directory for `key`, building it with `build` first if no process has
    /// completed it yet. Concurrent callers in any number of processes wait for the one
    /// that builds; `build` runs exactly once per key until the directory is swept.
    ///
    /// The returned hold keeps the directory safe from sweeps until dropped.
    pub fn ensure(
        &self,
        key: &str,
        build: impl FnOnce(&Path) -> Result<(), BoxError>,
    ) -> Result<PersistentHold, PersistentEnsureError> {
        if !is_valid_key(key) {
            return Err(PersistentEnsureError::InvalidKey {
                name: self.name.to_owned(),
                key: key.to_owned(),
            });
        }
        let root = self.root();
        std::fs::create_dir_all(&root).map_err(io_error(&root))?;
        let paths = EntryPaths::new(&root, key);
        let hold = self.ensure_entry(&paths, build)?;
        self.sweep_once(&root, key);
        Ok(hold)
    }

    fn ensure_entry(
        &self,
        paths: &EntryPaths,
        build: impl FnOnce(&Path) -> Result<(), BoxError>,
    ) -> Result<PersistentHold, PersistentEnsureError> {
        let lock_file = open_locked(&paths.lock, LockKind::Shared)?;
        if paths.marker.is_file() {
            touch(&paths.marker);
            return Ok(PersistentHold::new(paths, lock_file, false));
        }
        drop(lock_file);
        let lock_file = open_locked(&paths.lock, LockKind::Exclusive)?;
        if paths.marker.is_file() {
            // Another process built it while this one waited for the lock.
            <File as FileExt>::lock_shared(&lock_file).map_err(io_error(&paths.lock))?;
            touch(&paths.marker);
            return Ok(PersistentHold::new(paths, lock_file, false));
        }
        self.build_entry(paths, build)?;
        // flock converts the exclusive lock to a shared one, so other users may proceed.
        <File as FileExt>::lock_shared(&lock_file).map_err(io_error(&paths.lock))?;
        Ok(PersistentHold::new(paths, lock_file, true))
    }

    fn build_entry(
        &self,
        paths: &EntryPaths,
        build: impl FnOnce(&Path) -> Result<(), BoxError>,
    ) -> Result<(), PersistentEnsureError> {
        if paths.dir.exists() {
            // Half built by a process that crashed or failed: start again.
            std::fs::remove_dir_all(&paths.dir).map_err(io_error(&paths.dir))?;
        }
        std::fs::create_dir_all(&paths.dir).map_err(io_error(&paths.dir))?;
        let built = catch_unwind(AssertUnwindSafe(|| build(&paths.dir)))
            .unwrap_or_else(|payload| Err(panic_message(&*payload).into()));
        built.map_err(|source| PersistentEnsureError::Build {
            name: self.name.to_owned(),
            key: paths.key.clone(),
            path: paths.dir.clone(),
            source,
        })?;
        // Written to a temporary name and renamed, so the marker exists only complete.
        let partial = paths.partial_marker();
        std::fs::write(&partial, b"").map_err(io_error(&partial))?;
        std::fs::rename(&partial, &paths.marker).map_err(io_error(&paths.marker))
    }

    fn sweep_once(&self, root: &Path, current_key: &str) {
        if self.swept.swap(true, Ordering::SeqCst) {
            return;
        }
        self.sweep_stale(root, Some(current_key));
    }

    /// Removes the stale keys no process uses (see [`Persistent`]) and returns them;
    /// with no key being ensured, `keep` of the others stay.
    ///
    /// ```
    /// use testbed::resources::Persistent;
    ///
    /// let root = tempfile::tempdir()?;
    /// let builds = Persistent::new("doc-sweep").in_dir(root.path()).keep(1);
    /// drop(builds.ensure("v1", |_| Ok(()))?);
    /// std::thread::sleep(std::time::Duration::from_millis(20));
    /// drop(builds.ensure("v2", |_| Ok(()))?);
    /// assert_eq!(builds.sweep(), ["v1"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sweep(&self) -> Vec<String> {
        self.sweep_stale(&self.root(), None)
    }

    /// Removes `key`'s directory unless a process uses or builds it; whether it did.
    ///
    /// ```
    /// use testbed::resources::Persistent;
    ///
    /// let root = tempfile::tempdir()?;
    /// let builds = Persistent::new("doc-remove").in_dir(root.path());
    /// let hold = builds.ensure("v1", |_| Ok(()))?;
    /// assert!(!builds.remove_unused("v1"), "held");
    /// drop(hold);
    /// assert!(builds.remove_unused("v1"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove_unused(&self, key: &str) -> bool {
        is_valid_key(key) && remove_if_unused(&EntryPaths::new(&self.root(), key))
    }

    /// Every key on disk, most recently used first, with whether it is complete and in
    /// use: what a status command shows.
    ///
    /// ```
    /// use testbed::resources::Persistent;
    ///
    /// let root = tempfile::tempdir()?;
    /// let builds = Persistent::new("doc-entries").in_dir(root.path());
    /// let hold = builds.ensure("v1", |_| Ok(()))?;
    /// let entries = builds.entries();
    /// assert_eq!(entries[0].key, "v1");
    /// assert!(entries[0].complete && entries[0].in_use);
    /// # drop(hold);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn entries(&self) -> Vec<PersistentEntry> {
        let root = self.root();
        let mut entries: Vec<PersistentEntry> = keys_in(&root)
            .into_iter()
            .map(|key| {
                let paths = EntryPaths::new(&root, &key);
                PersistentEntry {
                    complete: paths.marker.is_file(),
                    last_used: last_used(&paths),
                    in_use: is_locked(&paths.lock),
                    path: paths.dir,
                    key,
                }
            })
            .collect();
        entries.sort_by_key(|entry| std::cmp::Reverse(entry.last_used));
        entries
    }

    /// Removes the stale keys other than `current_key` that no process uses; returns
    /// those removed.
    fn sweep_stale(&self, root: &Path, current_key: Option<&str>) -> Vec<String> {
        let (complete, half_built): (Vec<String>, Vec<String>) = keys_in(root)
            .into_iter()
            .filter(|key| Some(key.as_str()) != current_key)
            .partition(|key| EntryPaths::new(root, key).marker.is_file());
        let ranked = complete
            .into_iter()
            .map(|key| (last_used(&EntryPaths::new(root, &key)), key))
            .collect();
        let stale = self
            .retention
            .stale(ranked, current_key.is_some(), SystemTime::now());
        half_built
            .into_iter()
            .chain(stale)
            .filter(|key| remove_if_unused(&EntryPaths::new(root, key)))
            .collect()
    }
}

/// One key of a [`Persistent`] resource on disk, as [`Persistent::entries`] lists it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PersistentEntry {
    /// The key.
    pub key: String,
    /// Its directory.
    pub path: PathBuf,
    /// Whether its build completed (a half-built key is rebuilt on its next use).
    pub complete: bool,
    /// When it was last ensured.
    pub last_used: SystemTime,
    /// Whether a process holds it now.
    pub in_use: bool,
}

/// The keys under `root`: each has a lock file, whatever state its build is in.
fn keys_in(root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let key = name.strip_suffix(".lock")?;
            is_valid_key(key).then(|| key.to_owned())
        })
        .collect()
}

/// Whether a process holds `lock` (shared while in use, exclusive while building).
fn is_locked(lock: &Path) -> bool {
    File::open(lock).is_ok_and(|file| <File as FileExt>::try_lock(&file).is_err())
}

/// A directory of a [`Persistent`] resource, safe from sweeps while held.
#[derive(Debug)]
#[must_use = "the directory may be swept once the hold is dropped: keep it while using the directory"]
pub struct PersistentHold {
    path: PathBuf,
    built_here: bool,
    _lock: File,
}

impl PersistentHold {
    fn new(paths: &EntryPaths, lock: File, built_here: bool) -> Self {
        PersistentHold {
            path: paths.dir.clone(),
            built_here,
            _lock: lock,
        }
    }

    /// The directory the build function filled.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this call built it (rather than finding it built).
    pub fn built_here(&self) -> bool {
        self.built_here
    }
}

struct EntryPaths {
    key: String,
    dir: PathBuf,
    marker: PathBuf,
    lock: PathBuf,
}

impl EntryPaths {
    fn new(root: &Path, key: &str) -> Self {
        EntryPaths {
            key: key.to_owned(),
            dir: root.join(key),
            marker: root.join(format!("{key}.complete")),
            lock: root.join(format!("{key}.lock")),
        }
    }

    /// Where the marker is written before it is renamed into place.
    fn partial_marker(&self) -> PathBuf {
        self.marker.with_extension("complete.partial")
    }
}

fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('.')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[derive(Clone, Copy)]
enum LockKind {
    Shared,
    Exclusive,
}

/// Opens and locks `path`, retrying when a sweep removed the file between the open and
/// the lock (the lock would then be on a file no other process can find).
fn open_locked(path: &Path, kind: LockKind) -> Result<File, PersistentEnsureError> {
    loop {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(io_error(path))?;
        match kind {
            LockKind::Shared => <File as FileExt>::lock_shared(&file),
            LockKind::Exclusive => <File as FileExt>::lock(&file),
        }
        .map_err(io_error(path))?;
        if same_file(&file, path) {
            return Ok(file);
        }
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

/// Removes an entry if no process holds it, marker first so a crash midway leaves an
/// entry that is rebuilt rather than trusted; whether it did.
fn remove_if_unused(paths: &EntryPaths) -> bool {
    let Ok(file) = File::open(&paths.lock) else {
        return false;
    };
    if <File as FileExt>::try_lock(&file).is_err() {
        return false;
    }
    let _ = std::fs::remove_file(&paths.marker);
    let _ = std::fs::remove_file(paths.partial_marker());
    let _ = std::fs::remove_dir_all(&paths.dir);
    let _ = std::fs::remove_file(&paths.lock);
    true
}

/// When an entry was last used: its marker is touched on every use.
fn last_used(paths: &EntryPaths) -> SystemTime {
    [&paths.marker, &paths.dir, &paths.lock]
        .into_iter()
        .find_map(|path| {
            std::fs::metadata(path)
                .and_then(|meta| meta.modified())
                .ok()
        })
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

fn touch(path: &Path) {
    // Best effort: a read-only target dir still works, it is only swept earlier.
    if let Ok(file) = OpenOptions::new().write(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> PersistentEnsureError + '_ {
    move |source| PersistentEnsureError::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_name_a_plain_directory() {
        assert!(is_valid_key("3f2a-v1.2_x"));
        assert!(!is_valid_key(""));
        assert!(!is_valid_key("../escape"));
        assert!(!is_valid_key(".hidden"));
        assert!(!is_valid_key("a/b"));
    }
}
