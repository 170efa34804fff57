//! SQLite: a template file built once per schema hash (shared by every process and
//! later runs), then per test either its image copied into an in-memory database of the
//! `memdb` VFS (see [`memdb`]) or a copy of the file on a RAM disk. Either allows a
//! test's pool its usual [`TEST_POOL_CONNECTIONS`](crate::pool_limit::TEST_POOL_CONNECTIONS).
//!
//! A process that uses a template holds a shared lock on its `.use` file for its whole
//! life, and touches the template file once (its modification time is when it was last
//! used), so that the sweep of stale templates ([`sweep_stale`]) leaves it alone.

mod memdb;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{Connection, Sqlite, SqliteConnection};
use testbed::{Outcome, Scope};

use crate::held::{Held, HeldKind, PruneOptions};
use crate::owner::{self, NAME_PREFIX};
use crate::pool_limit::{self, Holdings, TEST_POOL_CONNECTIONS};
use crate::retry::Pace;
use crate::schema::{Prepared, build_sqlite};
use crate::{Backend, DatabaseAcquireError, Isolation, ServerCallError, TestDb};

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

/// Gives `scope`'s test its own SQLite database with `prepared`'s schema.
pub(crate) async fn acquire(
    prepared: Arc<Prepared>,
    isolation: Isolation,
    scope: &Scope,
) -> Result<TestDb<Sqlite>, DatabaseAcquireError> {
    let step = crate::trace::step("sqlite template");
    let template = template(prepared).await?;
    step.end();
    match isolation {
        Isolation::File => acquire_file(&template, scope).await,
        _ => {
            let step = crate::trace::step("sqlite image copy and pool");
            let (db, keeper, holdings) = acquire_image(&template).await?;
            step.end();
            release_image(&db, keeper, scope);
            pool_limit::explain_on_failure(scope, holdings, Backend::Sqlite, &db.name, "");
            Ok(db)
        }
    }
}

struct Template {
    path: PathBuf,
    /// The template's image, open in memory: what each test's in-memory copy is made from.
    source: memdb::Source,
}

/// The template of `prepared`, built under a file lock if no process built it yet.
async fn template(prepared: Arc<Prepared>) -> Result<Arc<Template>, DatabaseAcquireError> {
    static BUILT: Mutex<Option<HashMap<String, Arc<Template>>>> = Mutex::new(None);
    if let Some(found) = lock(&BUILT).get_or_insert_default().get(&prepared.hash) {
        // A stat, not a read: a pruned template is rebuilt rather than copied from nothing.
        if found.path.exists() {
            return Ok(found.clone());
        }
    }
    let dir = template_dir();
    let path = dir.join(format!("{}.sqlite", prepared.template_name()));
    std::fs::create_dir_all(&dir).map_err(|e| ServerCallError::file("create", &dir, e))?;
    hold_use(&path).await?;
    let built = !path.exists();
    if built {
        build_template(&prepared, &dir, &path).await?;
    }
    touch(&path);
    let image =
        std::fs::read(&path).map_err(|e| ServerCallError::file("read the template", &path, e))?;
    let source = memdb::Source::open(&image).map_err(|message| {
        ServerCallError::failed(
            Backend::Sqlite,
            format!("open template `{}` in memory", path.display()),
            message,
        )
    })?;
    if built {
        // Only when a template is built: that is when the old ones start to pile up.
        sweep_stale(&dir, Some(&path));
    }
    let template = Arc::new(Template { path, source });
    lock(&BUILT)
        .get_or_insert_default()
        .insert(prepared.hash.clone(), template.clone());
    Ok(template)
}

/// The file whose lock marks template `path` as in use: shared by its users, taken
/// exclusively by a sweep.
fn use_file(path: &Path) -> PathBuf {
    path.with_extension("use")
}

/// Takes a shared lock on `path`'s use file for the life of the process, waiting out a
/// sweep that holds it (and taking the new file if the sweep removed the old one).
async fn hold_use(path: &Path) -> Result<(), ServerCallError> {
    static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());
    let use_path = use_file(path);
    let mut pacer = Pace::every(Duration::from_millis(10), Duration::from_secs(60)).start();
    loop {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&use_path)
            .map_err(|e| ServerCallError::file("open", &use_path, e))?;
        if file.try_lock_shared().is_ok() && same_file(&file, &use_path) {
            lock(&HELD).push(file);
            return Ok(());
        }
        if !pacer.pause().await {
            break;
        }
    }
    Err(ServerCallError::failed(
        Backend::Sqlite,
        format!("lock `{}`", use_path.display()),
        "a sweep held it for over a minute",
    ))
}

/// Whether `file` is still the one at `path` (a sweep may have removed it meanwhile).
fn same_file(file: &File, path: &Path) -> bool {
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
fn touch(path: &Path) {
    if let Ok(file) = std::fs::OpenOptions::new().write(true).open(path) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
}

/// Removes stale templates from `dir`; returns what was removed.
///
/// Stale: a template file (`testbed_tpl_<hash>.sqlite`) other than `current` (the one
/// being ensured), whose use file no live process holds, and that was last used (its
/// modification time) more than [`MAX_TEMPLATE_AGE`](crate::admin::MAX_TEMPLATE_AGE)
/// ago or is not among the [`KEEP_TEMPLATES`](crate::admin::KEEP_TEMPLATES) most
/// recently used (`current` counting as one). Nothing else in `dir` is touched.
fn sweep_stale(dir: &Path, current: Option<&Path>) -> Vec<Held> {
    let others: Vec<(std::time::SystemTime, String)> = templates_in(dir)
        .into_iter()
        .filter(|held| Some(Path::new(&held.name)) != current)
        .map(|held| {
            let used = std::fs::metadata(&held.name)
                .and_then(|meta| meta.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (used, held.name)
        })
        .collect();
    let stale = crate::retention::stale_of(others, current.is_some(), std::time::SystemTime::now());
    let mut removed = Vec::new();
    for name in stale {
        let path = PathBuf::from(&name);
        if remove_unused_template(&path) {
            removed.push(Held {
                backend: Backend::Sqlite,
                name,
                kind: HeldKind::Template,
                owner: None,
            });
        }
    }
    remove_lone_locks(dir);
    removed
}

/// Removes the lock files of templates that do not exist (a build that failed, a
/// template removed by hand) once no process holds them, so they do not pile up.
fn remove_lone_locks(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_lock = name.ends_with(".use") || name.ends_with(".lock");
        if !name.starts_with(crate::owner::TEMPLATE_PREFIX) || !is_lock {
            continue;
        }
        let lock_path = entry.path();
        if lock_path.with_extension("sqlite").exists() {
            continue;
        }
        if let Ok(file) = File::open(&lock_path)
            && file.try_lock().is_ok()
        {
            let _ = std::fs::remove_file(&lock_path);
        }
    }
}

/// Removes template `path` unless a process uses or builds it.
fn remove_unused_template(path: &Path) -> bool {
    let use_path = use_file(path);
    let user = match File::open(&use_path) {
        Ok(file) => Some(file),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(_) => return false,
    };
    if user.as_ref().is_some_and(|file| file.try_lock().is_err()) {
        return false;
    }
    let removed = std::fs::remove_file(path).is_ok();
    let lock_path = path.with_extension("lock");
    if let Ok(builder) = File::open(&lock_path)
        && builder.try_lock().is_ok()
    {
        let _ = std::fs::remove_file(&lock_path);
    }
    // Removed while locked: a process waiting for it sees it gone and makes a new one.
    if user.is_some() {
        let _ = std::fs::remove_file(&use_path);
    }
    removed
}

/// Builds into a scratch file renamed into place at the end, so a build cut short by a
/// crash never leaves a template that looks complete.
async fn build_template(
    prepared: &Prepared,
    dir: &Path,
    path: &Path,
) -> Result<(), DatabaseAcquireError> {
    std::fs::create_dir_all(dir).map_err(|e| ServerCallError::file("create", dir, e))?;
    let lock_path = path.with_extension("lock");
    let lock_file = {
        let lock_at = lock_path.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<File> {
            let file = File::create(&lock_at)?;
            file.lock()?;
            Ok(file)
        })
        .await
        .expect("the lock task does not panic")
        .map_err(|e| ServerCallError::file("lock", &lock_path, e))?
    };
    if path.exists() {
        return Ok(()); // another process built it while this one waited
    }
    let scratch = path.with_extension(format!("building-{}", owner::token()));
    let _ = std::fs::remove_file(&scratch);
    let options = SqliteConnectOptions::new()
        .filename(&scratch)
        .create_if_missing(true)
        // Images cannot be deserialized from a WAL database.
        .journal_mode(SqliteJournalMode::Delete);
    let result = async {
        let mut conn = SqliteConnection::connect_with(&options)
            .await
            .map_err(|e| ServerCallError::statement(Backend::Sqlite, "create the template", e))?;
        let built = build_sqlite(prepared, &mut conn).await;
        let _ = conn.close().await;
        built
    }
    .await;
    let result = result.and_then(|()| {
        std::fs::rename(&scratch, path)
            .map_err(|e| ServerCallError::file("move the template to", path, e).into())
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&scratch);
    }
    drop(lock_file);
    result
}

/// The image copied into an in-memory database of its own, shared by the connections of
/// its pool (up to [`TEST_POOL_CONNECTIONS`](crate::pool_limit::TEST_POOL_CONNECTIONS)); no
/// file. The returned handle keeps the database alive: hold it until the pool is closed.
async fn acquire_image(
    template: &Template,
) -> Result<(TestDb<Sqlite>, memdb::Handle, Arc<Holdings>), ServerCallError> {
    let name = owner::database_name();
    let keeper = template.source.copy_to(&name).map_err(|message| {
        ServerCallError::failed(
            Backend::Sqlite,
            format!("copy the template into `file:/{name}?vfs=memdb`"),
            message,
        )
    })?;
    // The same name on the `memdb` VFS: every connection of the pool opens the copy.
    let options = SqliteConnectOptions::new()
        .filename(format!("/{name}"))
        .vfs("memdb");
    let holdings = Holdings::new(TEST_POOL_CONNECTIONS);
    let pool = pool_limit::test_pool_options::<Sqlite>(&holdings)
        .min_connections(0)
        .idle_timeout(None)
        .max_lifetime(None)
        // Nothing to check: the database is in this process.
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(|e| ServerCallError::statement(Backend::Sqlite, "open an in-memory copy", e))?;
    let db = TestDb {
        pool,
        url: None,
        name,
        backend: Backend::Sqlite,
    };
    Ok((db, keeper, holdings))
}

/// Closes the image's pool after the test, then `keeper`, which frees the database. An
/// in-memory database vanishes with its connections, so when a failing test's database
/// is to be kept, its image is written to a file first.
fn release_image(db: &TestDb<Sqlite>, keeper: memdb::Handle, scope: &Scope) {
    let (pool, name, details) = (db.pool.clone(), db.name.clone(), scope.details());
    scope.add_async_cleanup(move |outcome: Outcome| async move {
        let kept = if outcome.is_failure() && owner::keep_failed() {
            keep_image(&pool, &name, &details).await
        } else {
            Ok(())
        };
        let step = crate::trace::step("sqlite release");
        pool.close().await;
        drop(keeper);
        step.end();
        kept
    });
}

async fn keep_image(
    pool: &sqlx::SqlitePool,
    name: &str,
    details: &testbed::Details,
) -> Result<(), ServerCallError> {
    let dir = copy_dir();
    std::fs::create_dir_all(&dir).map_err(|e| ServerCallError::file("create", &dir, e))?;
    let path = dir.join(format!("{KEPT_PREFIX}{name}.sqlite"));
    let mut conn = pool.acquire().await.map_err(|e| {
        ServerCallError::statement(Backend::Sqlite, "reach the failing test's database", e)
    })?;
    let image = conn.serialize(None).await.map_err(|e| {
        ServerCallError::statement(Backend::Sqlite, "save the failing test's database", e)
    })?;
    std::fs::write(&path, &*image).map_err(|e| ServerCallError::file("write", &path, e))?;
    let url = format!("sqlite://{}", path.display());
    crate::handle::announce_kept(details, Backend::Sqlite, &url);
    Ok(())
}

/// Kept databases' files start with this, so no sweep takes them for a dead owner's.
const KEPT_PREFIX: &str = "kept_";

/// A copy of the template file, removed after the test (kept on failure when asked).
async fn acquire_file(
    template: &Template,
    scope: &Scope,
) -> Result<TestDb<Sqlite>, DatabaseAcquireError> {
    let dir = copy_dir();
    owner_lock(&dir)?;
    let name = owner::database_name();
    let path = dir.join(format!("{name}.sqlite"));
    std::fs::copy(&template.path, &path)
        .map_err(|e| ServerCallError::file("copy the template to", &path, e))?;
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .journal_mode(SqliteJournalMode::Wal);
    let holdings = Holdings::new(TEST_POOL_CONNECTIONS);
    let pool = pool_limit::test_pool_options::<Sqlite>(&holdings)
        .connect_with(options)
        .await
        .map_err(|e| ServerCallError::statement(Backend::Sqlite, "open the copy", e))?;
    let url = format!("sqlite://{}", path.display());
    let (cleanup_pool, details) = (pool.clone(), scope.details());
    scope.add_async_cleanup(move |outcome: Outcome| async move {
        cleanup_pool.close().await;
        if outcome.is_failure() && owner::keep_failed() {
            let file_name = path.file_name().unwrap_or_default().to_string_lossy();
            let kept = path.with_file_name(format!("{KEPT_PREFIX}{file_name}"));
            std::fs::rename(&path, &kept).map_err(|e| ServerCallError::file("keep", &path, e))?;
            let url = format!("sqlite://{}", kept.display());
            crate::handle::announce_kept(&details, Backend::Sqlite, &url);
            return Ok(());
        }
        remove_copy(&path)
    });
    pool_limit::explain_on_failure(scope, holdings, Backend::Sqlite, &name, "");
    Ok(TestDb {
        pool,
        url: Some(url),
        name,
        backend: Backend::Sqlite,
    })
}

fn remove_copy(path: &Path) -> Result<(), ServerCallError> {
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(side));
    }
    std::fs::remove_file(path)
        .map_err(|e| ServerCallError::file("remove the test database", path, e))
}

/// Holds `owner_<token>.lock` locked for the life of the process: a copy whose owner's
/// lock can be taken belongs to a process that is gone.
fn owner_lock(dir: &Path) -> Result<(), ServerCallError> {
    static HELD: OnceLock<Result<File, String>> = OnceLock::new();
    let held = HELD.get_or_init(|| {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        copies(dir, true);
        let file = File::create(dir.join(format!("owner_{}.lock", owner::token())))
            .map_err(|e| e.to_string())?;
        file.lock().map_err(|e| e.to_string())?;
        Ok(file)
    });
    match held {
        Ok(_) => Ok(()),
        Err(message) => Err(ServerCallError::failed(
            Backend::Sqlite,
            format!("lock the owner file in `{}`", dir.display()),
            message.clone(),
        )),
    }
}

/// Templates and per-test copies on disk: the copies' owners are alive while they hold
/// their owner lock.
pub(crate) fn status() -> Vec<Held> {
    let mut held = templates();
    held.extend(copies(&copy_dir(), false));
    held.extend(kept());
    held
}

/// Failing tests' databases kept by `TESTBED_KEEP_FAILED`.
fn kept() -> Vec<Held> {
    let Ok(entries) = std::fs::read_dir(copy_dir()) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.starts_with(KEPT_PREFIX) && name.ends_with(".sqlite")
        })
        .map(|entry| Held {
            backend: Backend::Sqlite,
            name: entry.path().display().to_string(),
            kind: HeldKind::Kept,
            owner: None,
        })
        .collect()
}

/// Removes the copies of dead owners (and templates, on request).
pub(crate) fn prune(options: PruneOptions) -> Vec<Held> {
    let mut removed = copies(&copy_dir(), true);
    if options.kept {
        for kept in kept() {
            if std::fs::remove_file(&kept.name).is_ok() {
                removed.push(kept);
            }
        }
    }
    if options.templates {
        for template in templates() {
            if remove_unused_template(Path::new(&template.name)) {
                removed.push(template);
            }
        }
    } else {
        removed.extend(sweep_stale(&template_dir(), None));
    }
    removed
}

/// Removes the stale templates (see [`sweep_stale`]), and nothing else.
pub(crate) fn sweep_templates() -> Vec<Held> {
    sweep_stale(&template_dir(), None)
}

fn templates() -> Vec<Held> {
    templates_in(&template_dir())
}

fn templates_in(dir: &Path) -> Vec<Held> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.starts_with(crate::owner::TEMPLATE_PREFIX) && name.ends_with(".sqlite")
        })
        .map(|entry| Held {
            backend: Backend::Sqlite,
            name: entry.path().display().to_string(),
            kind: HeldKind::Template,
            owner: None,
        })
        .collect()
}

/// The copies in `dir`; with `remove_orphans`, removes those of dead owners and returns
/// only them. Copies of running processes are never touched: their lock is held.
fn copies(dir: &Path, remove_orphans: bool) -> Vec<Held> {
    let mut held = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return held;
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut alive: HashMap<String, bool> = HashMap::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if let Some(token) = file_name
            .strip_prefix("owner_")
            .and_then(|rest| rest.strip_suffix(".lock"))
        {
            let is_alive = token == owner::token() || is_locked(&path);
            if !is_alive && remove_orphans {
                let _ = std::fs::remove_file(&path);
            }
            alive.insert(token.to_owned(), is_alive);
        } else if file_name.starts_with(NAME_PREFIX) {
            paths.push(path);
        }
    }
    for path in paths {
        let stem = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split('.').next())
            .unwrap_or_default();
        let Some(token) = owner::owner_of(stem) else {
            continue;
        };
        let kind = if alive.get(token).copied().unwrap_or(false) {
            HeldKind::InUse
        } else {
            HeldKind::Orphaned
        };
        let entry = Held {
            backend: Backend::Sqlite,
            name: path.display().to_string(),
            kind,
            owner: Some(token.to_owned()),
        };
        if !remove_orphans || (kind == HeldKind::Orphaned && remove_copy(&path).is_ok()) {
            held.push(entry);
        }
    }
    held
}

fn is_locked(path: &Path) -> bool {
    match File::open(path) {
        Ok(file) => file.try_lock().is_err(),
        Err(_) => false,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
