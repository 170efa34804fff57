//! Giving a test its SQLite database and taking it back: the template's image copied
//! into an in-memory database of its own (`Image`), or a copy of the template file
//! (`File`), kept after a failure when asked.

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use sqlx::Sqlite;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use testbed::{Outcome, Scope};

use crate::owner;
use crate::pool_limit::{self, Holdings, TEST_POOL_CONNECTIONS};
use crate::schema::Prepared;
use crate::{Backend, DatabaseAcquireError, Isolation, ServerCallError, TestDb};

use super::files::{KEPT_PREFIX, copy_dir, remove_copy};
use super::inventory::copies;
use super::memdb;
use super::template::{Template, template};

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

/// The image copied into an in-memory database of its own, shared by the connections of
/// its pool (up to [`TEST_POOL_CONNECTIONS`]); no
/// file. The returned handle keeps the database alive: hold it until the pool is closed.
pub(super) async fn acquire_image(
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
        .connect_with(options)
        .await
        .map_err(|e| ServerCallError::statement(Backend::Sqlite, "open an in-memory copy", e))?;
    let db = TestDb {
        pool,
        url: None,
        name,
        backend: Backend::Sqlite,
        isolation: crate::Isolation::Image,
        alive: Default::default(),
    };
    Ok((db, keeper, holdings))
}

/// Closes the image's pool after the test, then `keeper`, which frees the database. An
/// in-memory database vanishes with its connections, so when a failing test's database
/// is to be kept, its image is written to a file first.
pub(super) fn release_image(db: &TestDb<Sqlite>, keeper: memdb::Handle, scope: &Scope) {
    let (pool, name, details) = (db.pool.clone(), db.name.clone(), scope.details());
    scope.add_async_cleanup(move |outcome: Outcome| async move {
        let kept = if outcome.is_failure() && owner::keep_failed() {
            keep_image(&pool, &name, &details).await
        } else {
            Ok(())
        };
        let step = crate::trace::step("sqlite release");
        pool_limit::close_test_pool(&pool, Backend::Sqlite, &name).await;
        drop(keeper);
        step.end();
        kept
    });
}

pub(super) async fn keep_image(
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

/// A copy of the template file, removed after the test (kept on failure when asked).
pub(super) async fn acquire_file(
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
    let cleanup_name = name.clone();
    scope.add_async_cleanup(move |outcome: Outcome| async move {
        pool_limit::close_test_pool(&cleanup_pool, Backend::Sqlite, &cleanup_name).await;
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
        isolation: crate::Isolation::File,
        alive: Default::default(),
    })
}

/// Holds `owner_<token>.lock` locked for the life of the process: a copy whose owner's
/// lock can be taken belongs to a process that is gone.
pub(super) fn owner_lock(dir: &Path) -> Result<(), ServerCallError> {
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
