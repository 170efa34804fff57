//! The pace of the second look: things that are finishing (a thread returning, a child
//! exiting, a task completing) are not leaks, so a non-empty difference is taken again
//! after a short, doubling pause, as goleak does.

use std::time::Duration;

/// How many times a difference is taken again before it is reported.
const TRIES: u32 = 20;

/// The longest single pause.
const CAP: Duration = Duration::from_millis(100);

/// The pauses before each new look: 1 µs, doubling, at most 100 ms each, 20 of them
/// (about 0.43 s in all, paid only by a test whose first difference was not empty).
pub(crate) fn backoff() -> impl Iterator<Item = Duration> {
    (0..TRIES).map(|try_index| Duration::from_micros(1u64 << try_index).min(CAP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_a_microsecond_and_stops_at_the_cap() {
        let pauses: Vec<_> = backoff().collect();
        assert_eq!(pauses.len(), 20);
        assert_eq!(pauses[0], Duration::from_micros(1));
        assert_eq!(pauses[1], Duration::from_micros(2));
        assert_eq!(pauses[19], CAP);
        let total: Duration = pauses.iter().sum();
        assert!(total > Duration::from_millis(50), "{total:?}");
        assert!(total < Duration::from_millis(500), "{total:?}");
    }
}
