//! What testbed holds on the database servers, and removing what killed runs left:
//! the library side of `cargo testbed db status` and `cargo testbed db prune`, and the
//! policy that decides which templates stay on a server.
//!
//! Each schema change builds a new template (and, on PostgreSQL and MySQL, a pool of
//! databases cloned from it). So that they do not pile up, old templates are swept with
//! their pools whenever a template is built, and by every `prune`: a template stays
//! while a live process uses it, and otherwise only if it is among the
//! [`KEEP_TEMPLATES`] most recently used on its server and was used within
//! [`MAX_TEMPLATE_AGE`] (the policy of testbed's `Persistent` sweep).
//!
//! A template's pool grows to the peak of the runs that use it at once, and shrinks
//! back: claims take the first free pooled database, so the last ones are reached only
//! at a peak, and a pooled database no test claimed for [`POOL_IDLE_LIMIT`] is dropped
//! by the periodic sweep and `prune`, keeping per template at least as many as the
//! machine runs tests at once. The policy itself lives in the crate's `retention` module.

pub use crate::held::{Held, HeldKind, PruneOptions};
pub use crate::retention::{KEEP_TEMPLATES, MAX_TEMPLATE_AGE, POOL_IDLE_LIMIT, TEMPLATE_RETENTION};
use crate::{Backend, ServerCallError};

/// Lists the databases testbed holds on `backend`'s server at `url` (an admin URL;
/// `None`: the backend's environment variable, else its local default).
///
/// ```no_run
/// # async fn example() -> Result<(), testbed_db::ServerCallError> {
/// use testbed_db::{Backend, admin};
///
/// for held in admin::status(Backend::Postgres, None).await? {
///     println!("{} {} ({})", held.backend, held.name, held.kind);
/// }
/// # Ok(()) }
/// ```
pub async fn status(backend: Backend, url: Option<&str>) -> Result<Vec<Held>, ServerCallError> {
    let _ = url; // unused when no server backend is built
    match backend {
        #[cfg(feature = "postgres")]
        Backend::Postgres => crate::backends::postgres::status(url).await,
        #[cfg(feature = "mysql")]
        Backend::MySql => crate::backends::mysql::status(url).await,
        #[cfg(feature = "sqlite")]
        Backend::Sqlite => Ok(crate::backends::sqlite::status()),
        #[allow(unreachable_patterns)] // every backend built
        other => Err(ServerCallError::NotBuilt { backend: other }),
    }
}

/// Removes the stale templates and their pools from `backend`'s server (see the
/// [module](self) for the policy), and nothing else; returns what was removed. `prune`
/// does this too; this is for callers that must leave orphans alone.
///
/// ```no_run
/// # async fn example() -> Result<(), testbed_db::ServerCallError> {
/// use testbed_db::{Backend, admin};
///
/// for removed in admin::sweep_templates(Backend::Postgres, None).await? {
///     println!("removed {} ({})", removed.name, removed.kind);
/// }
/// # Ok(()) }
/// ```
pub async fn sweep_templates(
    backend: Backend,
    url: Option<&str>,
) -> Result<Vec<Held>, ServerCallError> {
    let _ = url;
    match backend {
        #[cfg(feature = "postgres")]
        Backend::Postgres => crate::backends::postgres::sweep_templates(url).await,
        #[cfg(feature = "mysql")]
        Backend::MySql => crate::backends::mysql::sweep_templates(url).await,
        #[cfg(feature = "sqlite")]
        Backend::Sqlite => Ok(crate::backends::sqlite::sweep_templates()),
        #[allow(unreachable_patterns)] // every backend built
        other => Err(ServerCallError::NotBuilt { backend: other }),
    }
}

/// Removes orphans (databases whose owner process is gone) and stale templates with
/// their pools (see the [module](self) for the policy) from `backend`'s server, and what
/// `options` names; returns what was removed. Safe while other test runs are active:
/// their databases and templates are in use by live processes.
pub async fn prune(
    backend: Backend,
    url: Option<&str>,
    options: PruneOptions,
) -> Result<Vec<Held>, ServerCallError> {
    let _ = (url, options);
    match backend {
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            crate::backends::postgres::prune(url, options.templates, options.kept).await
        }
        #[cfg(feature = "mysql")]
        Backend::MySql => crate::backends::mysql::prune(url, options).await,
        #[cfg(feature = "sqlite")]
        Backend::Sqlite => Ok(crate::backends::sqlite::prune(options)),
        #[allow(unreachable_patterns)] // every backend built
        other => Err(ServerCallError::NotBuilt { backend: other }),
    }
}
