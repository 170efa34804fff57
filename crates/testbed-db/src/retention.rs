//! Which of testbed's databases stay on a server: the policy every backend's sweeps
//! follow, for templates (kept while used, or among the most recent) and for pooled
//! databases (kept while claimed now and then, or up to the machine's parallelism).

use std::time::{Duration, SystemTime};

/// How many templates a sweep keeps on a server, the one being ensured included
/// (`prune`, ensuring none, keeps this many), besides those in use.
pub const KEEP_TEMPLATES: usize = 4;

/// A template unused for longer than this is swept, unless it is in use.
pub const MAX_TEMPLATE_AGE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(now: SystemTime, hours_ago: u64) -> SystemTime {
        now - Duration::from_secs(hours_ago * 60 * 60)
    }

    #[test]
    #[cfg(any(feature = "postgres", feature = "mysql"))]
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
