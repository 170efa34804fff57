//! [`Retention`]: how many entries a sweep keeps and for how long an unused one stays,
//! the one policy of [`Persistent`](super::Persistent) directories and of testbed-db's
//! templates on every backend.

use std::time::{Duration, SystemTime};

/// What a sweep keeps of something built once per key and reused across runs: the
/// [`keep`](Retention::keep) most recently used keys, each for at most
/// [`max_age`](Retention::max_age) since its last use. Whatever is in use is kept
/// anyway; that is for the sweep to check.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use testbed::resources::Retention;
///
/// let retention = Retention::DEFAULT.with_keep(2);
/// let now = SystemTime::now();
/// let hours_ago = |h: u64| now - Duration::from_secs(h * 3600);
/// let others = vec![(hours_ago(1), "b"), (hours_ago(3), "c"), (hours_ago(2), "d")];
/// // The key being ensured counts as one of the two kept: of the others, the most recent stays.
/// assert_eq!(retention.stale(others, true, now), ["d", "c"]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    keep: usize,
    max_age: Duration,
}

impl Retention {
    /// Four keys, a week each: enough for a branch switch and back, little enough that
    /// nothing piles up.
    pub const DEFAULT: Retention = Retention {
        keep: 4,
        max_age: Duration::from_secs(7 * 24 * 60 * 60),
    };

    /// This policy keeping at most `keep` keys (at least one: the key in use is always
    /// kept).
    pub const fn with_keep(self, keep: usize) -> Self {
        Retention {
            keep: if keep == 0 { 1 } else { keep },
            ..self
        }
    }

    /// This policy sweeping keys unused for longer than `max_age`.
    pub const fn with_max_age(self, max_age: Duration) -> Self {
        Retention { max_age, ..self }
    }

    /// How many keys are kept, the one being ensured included.
    pub const fn keep(&self) -> usize {
        self.keep
    }

    /// How long an unused key stays.
    pub const fn max_age(&self) -> Duration {
        self.max_age
    }

    /// Of `others` (every key but the one being ensured, each with when it was last
    /// used), those to sweep, least recently used last: the ones past
    /// [`max_age`](Retention::max_age), and the ones beyond the
    /// [`keep`](Retention::keep) most recently used, the key being ensured counting as
    /// one when `has_current` (a sweep that ensures none, such as a prune, keeps `keep`
    /// others).
    pub fn stale<K>(
        &self,
        mut others: Vec<(SystemTime, K)>,
        has_current: bool,
        now: SystemTime,
    ) -> Vec<K> {
        others.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
        let kept_others = self.keep.saturating_sub(usize::from(has_current));
        others
            .into_iter()
            .enumerate()
            .filter(|(rank, (used, _))| {
                let age = now.duration_since(*used).unwrap_or_default();
                *rank >= kept_others || age > self.max_age
            })
            .map(|(_, (_, key))| key)
            .collect()
    }
}

impl Default for Retention {
    fn default() -> Self {
        Retention::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(now: SystemTime, hours_ago: u64) -> SystemTime {
        now - Duration::from_secs(hours_ago * 60 * 60)
    }

    #[test]
    fn keeps_the_most_recent_and_drops_the_old() {
        let now = SystemTime::now();
        let others: Vec<(SystemTime, String)> = [5, 1, 4, 2, 3]
            .into_iter()
            .map(|hours| (at(now, hours), format!("t{hours}")))
            .collect();
        let retention = Retention::DEFAULT;
        // With a current key, three others stay: the three used last.
        assert_eq!(retention.stale(others.clone(), true, now), ["t4", "t5"]);
        // From a prune (no current key), four stay.
        assert_eq!(retention.stale(others, false, now), ["t5"]);
        // Past the age limit, even a recent rank goes.
        let old = vec![(at(now, 8 * 24), "old".to_owned())];
        assert_eq!(retention.stale(old, true, now), ["old"]);
        assert!(
            retention
                .stale(vec![(at(now, 1), "new")], true, now)
                .is_empty()
        );
        // Keeping none would sweep the key in use: one is the least.
        assert_eq!(Retention::DEFAULT.with_keep(0).keep(), 1);
    }
}
