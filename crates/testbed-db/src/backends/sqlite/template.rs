//! A schema's SQLite template: a file built once per schema hash under a lock, shared by
//! every process and later runs, held in use by a shared lock on its `.use` file.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{Connection, SqliteConnection};

use crate::owner;
use crate::retry::Pace;
use crate::schema::{Prepared, build_sqlite};
use crate::{Backend, DatabaseAcquireError, ServerCallError};

use super::files::{lock, same_file, template_dir, touch, use_file};
use super::inventory::sweep_stale;
use super::memdb;

pub(super) struct Template {
    pub(super) path: PathBuf,
    /// The template's image, open in memory: what each test's in-memory copy is made from.
    pub(super) source: memdb::Source,
}

/// The template of `prepared`, built under a file lock if no process built it yet.
pub(super) async fn template(
    prepared: Arc<Prepared>,
) -> Result<Arc<Template>, DatabaseAcquireError> {
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

/// Takes a shared lock on `path`'s use file for the life of the process, waiting out a
/// sweep that holds it (and taking the new file if the sweep removed the old one).
pub(super) async fn hold_use(path: &Path) -> Result<(), ServerCallError> {
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

/// Builds into a scratch file renamed into place at the end, so a build cut short by a
/// crash never leaves a template that looks complete.
pub(super) async fn build_template(
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
