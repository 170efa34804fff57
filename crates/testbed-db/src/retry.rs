//! The one way testbed-db waits for something to change: a [`Pacer`] paces the tries of
//! a loop with a growing pause, within a time limit. Every wait for a lock a sweep
//! holds, a session still leaving or a database still in use goes through it; the loop
//! stays at its call site, where it borrows what it needs.

use std::time::{Duration, Instant};

/// How to wait between tries: `first`, doubled after each try up to `most`, for at most
/// `within` in all.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    pub(crate) first: Duration,
    pub(crate) most: Duration,
    pub(crate) within: Duration,
}

impl Pace {
    /// The same pause every time.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) const fn every(pause: Duration, within: Duration) -> Self {
        Pace {
            first: pause,
            most: pause,
            within,
        }
    }

    /// Starts pacing now.
    pub(crate) fn start(self) -> Pacer {
        Pacer {
            deadline: Instant::now() + self.within,
            pause: self.first,
            most: self.most,
        }
    }
}

/// The pauses of one wait, from [`Pace::start`].
pub(crate) struct Pacer {
    deadline: Instant,
    pause: Duration,
    most: Duration,
}

impl Pacer {
    /// Sleeps before the next try and says whether to make it: `false` once the time is
    /// up (after the try that reached the limit, so a slow try never cuts a wait short).
    pub(crate) async fn pause(&mut self) -> bool {
        match self.next_pause() {
            Some(pause) => {
                tokio::time::sleep(pause).await;
                true
            }
            None => false,
        }
    }

    /// As [`pause`](Self::pause), blocking the thread: for sync code.
    #[cfg(feature = "postgres")]
    pub(crate) fn pause_blocking(&mut self) -> bool {
        match self.next_pause() {
            Some(pause) => {
                std::thread::sleep(pause);
                true
            }
            None => false,
        }
    }

    /// The pause before the next try, `None` once the time is up.
    fn next_pause(&mut self) -> Option<Duration> {
        let now = Instant::now();
        if now >= self.deadline {
            return None;
        }
        let pause = self.pause.min(self.deadline - now);
        self.pause = (self.pause * 2).min(self.most);
        Some(pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<T>(future: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn pauses_grow_to_their_most_then_the_time_runs_out() {
        let pace = Pace {
            first: Duration::from_millis(1),
            most: Duration::from_millis(8),
            within: Duration::from_millis(40),
        };
        let started = Instant::now();
        let mut pacer = pace.start();
        let mut pauses = 0;
        while run(pacer.pause()) {
            pauses += 1;
        }
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(40), "{waited:?}");
        // 1 + 2 + 4 + 8 = 15 ms, then 8 ms each: about 7 pauses, never hundreds.
        assert!((5..=12).contains(&pauses), "{pauses} pauses");
    }

    #[test]
    fn a_wait_whose_time_is_up_makes_no_more_tries() {
        let mut pacer = Pace::every(Duration::from_millis(1), Duration::ZERO).start();
        assert!(!run(pacer.pause()));
    }
}
