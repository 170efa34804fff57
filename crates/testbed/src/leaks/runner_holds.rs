//! What the runner holds for each test running now, left out of every other test's
//! leak report: the test's thread and its async runtime's descriptors (its poll and
//! waker). With tests as threads of one process (`cargo test`), another test's thread
//! or runtime is new to a test's snapshot but is nobody's leak; without this the check
//! waited out its whole retry schedule for them to end.

use std::path::PathBuf;
use std::sync::RwLock;

use super::policy::Policy;

static THREADS: RwLock<Vec<u64>> = RwLock::new(Vec::new());
static FDS: RwLock<Vec<(u32, PathBuf)>> = RwLock::new(Vec::new());

/// Held for one test by the runner: what it registered, taken out when dropped.
pub(crate) struct RunnerHolds {
    tid: Option<u64>,
    fds: Vec<(u32, PathBuf)>,
}

impl RunnerHolds {
    /// Registers the calling thread, the test's; nothing when the checks are off.
    pub(crate) fn this_thread() -> Self {
        let tid = (Policy::current() != Policy::Off)
            .then(super::dir::current_thread_id)
            .flatten();
        if let Some(tid) = tid {
            write(&THREADS).push(tid);
        }
        Self {
            tid,
            fds: Vec::new(),
        }
    }

    /// Runs `build` (the test's runtime) and registers the descriptors it opened.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn runtime<T>(&mut self, build: impl FnOnce() -> T) -> T {
        if self.tid.is_none() {
            return build();
        }
        let before = super::dir::open_fds().unwrap_or_default();
        let built = build();
        let opened = super::dir::fds_opened_since(&before);
        write(&FDS).extend(opened.iter().cloned());
        self.fds = opened;
        built
    }

    /// Takes the runtime's descriptors out once the runtime is gone (their numbers may
    /// be reused).
    pub(crate) fn runtime_ended(&mut self) {
        let mut fds = write(&FDS);
        for held in self.fds.drain(..) {
            if let Some(at) = fds.iter().position(|fd| *fd == held) {
                fds.swap_remove(at);
            }
        }
    }
}

impl Drop for RunnerHolds {
    fn drop(&mut self) {
        self.runtime_ended();
        if let Some(tid) = self.tid {
            let mut threads = write(&THREADS);
            if let Some(at) = threads.iter().position(|held| *held == tid) {
                threads.swap_remove(at);
            }
        }
    }
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether thread `tid` runs a test of the runner's.
pub(super) fn holds_thread(tid: u64) -> bool {
    THREADS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .contains(&tid)
}

/// Whether descriptor `fd`, pointing at `target`, is a running test's runtime's.
pub(super) fn holds_fd(fd: u32, target: &std::path::Path) -> bool {
    FDS.read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .iter()
        .any(|(number, known)| *number == fd && known == target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_a_test_thread_and_its_runtime_until_dropped() {
        let mut holds = RunnerHolds::this_thread();
        let tid = super::super::dir::current_thread_id().unwrap();
        assert!(holds_thread(tid));
        let (reader, _writer) = holds.runtime(|| std::io::pipe().unwrap());
        let fd = std::os::fd::AsRawFd::as_raw_fd(&reader) as u32;
        let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
        assert!(holds_fd(fd, &target));
        holds.runtime_ended();
        assert!(!holds_fd(fd, &target));
        drop(holds);
        assert!(!holds_thread(tid));
    }
}
