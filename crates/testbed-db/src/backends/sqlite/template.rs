//! A schema's SQLite template: a file in a [`Persistent`] directory keyed by the
//! template's name, so testbed's one mechanism builds it once per schema hash (whichever
//! process comes first, the others waiting), keeps it for every later process and run,
//! holds it safe from sweeps while this process uses it, and sweeps old ones under the
//! templates' [`Retention`](testbed::resources::Retention).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{Connection, SqliteConnection};
use testbed::resources::{Persistent, PersistentEnsureError, PersistentHold};

use crate::schema::{Prepared, build_sqlite};
use crate::{Backend, DatabaseAcquireError, ServerCallError};

use super::files::{lock, template_dir};
use super::memdb;

/// The template file's name in its key's directory.
const TEMPLATE_FILE: &str = "template.sqlite";

pub(super) struct Template {
    pub(super) path: PathBuf,
    /// The template's image, open in memory: what each test's in-memory copy is made from.
    pub(super) source: memdb::Source,
    /// Keeps the template safe from sweeps while this process lives.
    _hold: PersistentHold,
}

/// Where the templates are: `templates/` in [`template_dir`], one key per template name.
pub(super) fn templates() -> &'static Persistent {
    static TEMPLATES: OnceLock<Persistent> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        Persistent::new("templates")
            .in_dir(template_dir())
            .retention(crate::retention::TEMPLATE_RETENTION)
    })
}

/// The template file in a template key's directory.
pub(super) fn template_file(key_dir: &Path) -> PathBuf {
    key_dir.join(TEMPLATE_FILE)
}

/// The template of `prepared`, built if no process built it yet.
pub(super) async fn template(
    prepared: Arc<Prepared>,
) -> Result<Arc<Template>, DatabaseAcquireError> {
    static BUILT: Mutex<Option<HashMap<String, Arc<Template>>>> = Mutex::new(None);
    if let Some(found) = lock(&BUILT).get_or_insert_default().get(&prepared.hash) {
        // A stat, not a read: a template removed by hand is rebuilt rather than copied
        // from nothing.
        if found.path.exists() {
            return Ok(found.clone());
        }
    }
    // The wait for another process's build blocks: off the runtime's threads.
    let ensured =
        tokio::task::spawn_blocking(move || ensure(&prepared).map(|hold| (prepared, hold)))
            .await
            .expect("ensuring a template does not panic")?;
    let (prepared, hold) = ensured;
    let path = template_file(hold.path());
    let image =
        std::fs::read(&path).map_err(|e| ServerCallError::file("read the template", &path, e))?;
    let source = memdb::Source::open(&image).map_err(|message| {
        ServerCallError::failed(
            Backend::Sqlite,
            format!("open template `{}` in memory", path.display()),
            message,
        )
    })?;
    let template = Arc::new(Template {
        path,
        source,
        _hold: hold,
    });
    lock(&BUILT)
        .get_or_insert_default()
        .insert(prepared.hash.clone(), template.clone());
    Ok(template)
}

/// Ensures `prepared`'s template directory, building the file in it on testbed-db's
/// runtime when no process has; blocks while another process builds it.
fn ensure(prepared: &Prepared) -> Result<PersistentHold, DatabaseAcquireError> {
    let mut failure = None;
    let ensured = templates().ensure(&prepared.template_name(), |dir| {
        let built = crate::engine::handle().block_on(build(prepared, &template_file(dir)));
        built.map_err(|error| {
            let message = error.to_string();
            failure = Some(error);
            message.into()
        })
    });
    ensured.map_err(|error| match (error, failure) {
        // The build's own error, with its migration, file and cause.
        (PersistentEnsureError::Build { .. }, Some(failure)) => failure,
        (PersistentEnsureError::Io { path, source, .. }, _) => {
            ServerCallError::file("keep the template in", &path, source).into()
        }
        (error, _) => ServerCallError::failed(
            Backend::Sqlite,
            format!("keep templates in `{}`", templates().root().display()),
            error.to_string(),
        )
        .into(),
    })
}

/// Builds the template file at `path` (a half-built one is never trusted: its directory
/// is complete only once this returns).
async fn build(prepared: &Prepared, path: &Path) -> Result<(), DatabaseAcquireError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        // Images cannot be deserialized from a WAL database.
        .journal_mode(SqliteJournalMode::Delete);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| ServerCallError::statement(Backend::Sqlite, "create the template", e))?;
    let built = build_sqlite(prepared, &mut conn).await;
    let _ = conn.close().await;
    built
}
