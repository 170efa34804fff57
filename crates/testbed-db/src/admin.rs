//! What testbed holds on the database servers, and removing what killed runs left:
//! the library side of `cargo testbed db status` and `cargo testbed db prune`.

pub use crate::postgres::{Held, HeldKind};
use crate::{Backend, DbError};

/// What to remove besides orphans (always removed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneOptions {
    /// Also the templates (rebuilt on next use).
    pub templates: bool,
    /// Also failing tests' databases kept by `TESTBED_KEEP_FAILED`.
    pub kept: bool,
}

/// Lists the databases testbed holds on `backend`'s server at `url` (an admin URL;
/// `None`: the backend's environment variable, else its local default).
///
/// ```no_run
/// # async fn example() -> Result<(), testbed_db::DbError> {
/// use testbed_db::{Backend, admin};
///
/// for held in admin::status(Backend::Postgres, None).await? {
///     println!("{} {} ({})", held.backend, held.name, held.kind);
/// }
/// # Ok(()) }
/// ```
pub async fn status(backend: Backend, url: Option<&str>) -> Result<Vec<Held>, DbError> {
    match backend {
        Backend::Postgres => crate::postgres::status(url).await,
        Backend::MySql => crate::mysql::status(url).await,
        Backend::Sqlite => Ok(crate::sqlite::status()),
    }
}

/// Removes orphans (databases whose owner process is gone) from `backend`'s server,
/// and what `options` names; returns what was removed. Safe while other test runs are
/// active: their databases are leased to live processes.
pub async fn prune(
    backend: Backend,
    url: Option<&str>,
    options: PruneOptions,
) -> Result<Vec<Held>, DbError> {
    match backend {
        Backend::Postgres => crate::postgres::prune(url, options.templates, options.kept).await,
        Backend::MySql => crate::mysql::prune(url, options).await,
        Backend::Sqlite => Ok(crate::sqlite::prune(options)),
    }
}
