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
//! machine runs tests at once (see [`idle_pooled`]).

use std::time::{Duration, SystemTime};

pub use crate::postgres::{Held, HeldKind};
use crate::{Backend, DbError};

/// How many templates a sweep keeps on a server, the one being ensured included
/// (`prune`, ensuring none, keeps this many), besides those in use.
pub const KEEP_TEMPLATES: usize = 4;

/// A template unused for longer than this is swept, unless it is in use.
pub const MAX_TEMPLATE_AGE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// A pooled database no test claimed for this long lies beyond what recent runs needed.
pub const POOL_IDLE_LIMIT: Duration = Duration::from_secs(60 * 60);

/// One template's pooled databases, in the order claims take them, each with when it
/// was last claimed (`None` if never recorded).
pub(crate) type PoolUse = Vec<(String, Option<SystemTime>)>;

/// Of `pooled`, those to drop: the idle ones past the first `available_parallelism`,
/// which the next run on this machine needs.
pub(crate) fn idle_pooled(pooled: PoolUse, now: SystemTime) -> Vec<String> {
    let floor = std::thread::available_parallelism().map_or(1, usize::from);
    pooled
        .into_iter()
        .skip(floor)
        .filter(|(_, claimed)| {
            claimed.is_none_or(|at| now.duration_since(at).unwrap_or_default() > POOL_IDLE_LIMIT)
        })
        .map(|(name, _)| name)
        .collect()
}

/// Of `others` (every template but the current one, each with when it was last used),
/// those past [`MAX_TEMPLATE_AGE`] or beyond the [`KEEP_TEMPLATES`] most recently used,
/// the current one (`has_current`) counting as one of them. Whether each is in use is
/// for the caller to check before dropping it.
pub(crate) fn stale_of(
    mut others: Vec<(SystemTime, String)>,
    has_current: bool,
    now: SystemTime,
) -> Vec<String> {
    others.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
    let kept_others = KEEP_TEMPLATES - usize::from(has_current);
    others
        .into_iter()
        .enumerate()
        .filter(|(rank, (used, _))| {
            *rank >= kept_others || now.duration_since(*used).unwrap_or_default() > MAX_TEMPLATE_AGE
        })
        .map(|(_, (_, name))| name)
        .collect()
}

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

/// Removes the stale templates and their pools from `backend`'s server (see the
/// [module](self) for the policy), and nothing else; returns what was removed. `prune`
/// does this too; this is for callers that must leave orphans alone.
///
/// ```no_run
/// # async fn example() -> Result<(), testbed_db::DbError> {
/// use testbed_db::{Backend, admin};
///
/// for removed in admin::sweep_templates(Backend::Postgres, None).await? {
///     println!("removed {} ({})", removed.name, removed.kind);
/// }
/// # Ok(()) }
/// ```
pub async fn sweep_templates(backend: Backend, url: Option<&str>) -> Result<Vec<Held>, DbError> {
    match backend {
        Backend::Postgres => crate::postgres::sweep_templates(url).await,
        Backend::MySql => crate::mysql::sweep_templates(url).await,
        Backend::Sqlite => Ok(crate::sqlite::sweep_templates()),
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
) -> Result<Vec<Held>, DbError> {
    match backend {
        Backend::Postgres => crate::postgres::prune(url, options.templates, options.kept).await,
        Backend::MySql => crate::mysql::prune(url, options).await,
        Backend::Sqlite => Ok(crate::sqlite::prune(options)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(now: SystemTime, hours_ago: u64) -> SystemTime {
        now - Duration::from_secs(hours_ago * 60 * 60)
    }

    #[test]
    fn idle_pooled_databases_past_the_floor_go() {
        let now = SystemTime::now();
        let floor = std::thread::available_parallelism().map_or(1, usize::from);
        let mut pooled: Vec<(String, Option<SystemTime>)> =
            (0..floor).map(|n| (format!("kept{n}"), None)).collect();
        pooled.push(("recent".into(), Some(at(now, 0))));
        pooled.push(("idle".into(), Some(at(now, 2))));
        pooled.push(("unrecorded".into(), None));
        assert_eq!(idle_pooled(pooled, now), ["idle", "unrecorded"]);
    }

    #[test]
    fn keeps_the_most_recent_and_drops_the_old() {
        let now = SystemTime::now();
        let others: Vec<(SystemTime, String)> = [5, 1, 4, 2, 3]
            .into_iter()
            .map(|hours| (at(now, hours), format!("t{hours}")))
            .collect();
        // With a current template, three others stay: the three used last.
        assert_eq!(stale_of(others.clone(), true, now), ["t4", "t5"]);
        // From `prune` (no current template), four stay.
        assert_eq!(stale_of(others, false, now), ["t5"]);
        // Past the age limit, even a recent rank goes.
        let old = vec![(at(now, 8 * 24), "old".to_owned())];
        assert_eq!(stale_of(old, true, now), ["old"]);
        assert!(stale_of(vec![(at(now, 1), "new".to_owned())], true, now).is_empty());
    }
}
