//! Which of testbed's databases stay on a server: the policy every backend's sweeps
//! follow, for templates (kept while used, or among the most recent: testbed's
//! [`Retention`]) and for pooled databases (kept while claimed now and then, or up to
//! the machine's parallelism).

use std::time::Duration;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use std::time::SystemTime;

use testbed::resources::Retention;

/// What every backend's sweep keeps of its templates (and `prune`, ensuring none):
/// testbed's [`Retention`] policy, the one its [`Persistent`](testbed::resources::Persistent)
/// directories follow too (SQLite's templates are such directories). Templates in use
/// are kept besides.
pub const TEMPLATE_RETENTION: Retention = Retention::DEFAULT;

/// How many templates a sweep keeps on a server, the one being ensured included
/// (`prune`, ensuring none, keeps this many), besides those in use.
pub const KEEP_TEMPLATES: usize = TEMPLATE_RETENTION.keep();

/// A template unused for longer than this is swept, unless it is in use.
pub const MAX_TEMPLATE_AGE: Duration = TEMPLATE_RETENTION.max_age();

/// How often a process that uses a template records so: a template's last use only
/// matters in days ([`MAX_TEMPLATE_AGE`]), so a test process reads when it was last
/// recorded and writes only when that is older than this.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) const TOUCH_TEMPLATE_EVERY: Duration = Duration::from_secs(3600);

/// A pooled database no test claimed for this long lies beyond what recent runs needed.
pub const POOL_IDLE_LIMIT: Duration = Duration::from_secs(60 * 60);

/// One template's pooled databases, in the order claims take them, each with when it
/// was last claimed (`None` if never recorded).
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) type PoolUse = Vec<(String, Option<SystemTime>)>;

/// Of `pooled`, those to drop: the idle ones past the first `available_parallelism`,
/// which the next run on this machine needs.
#[cfg(any(feature = "postgres", feature = "mysql"))]
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

#[cfg(all(test, any(feature = "postgres", feature = "mysql")))]
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
}
