//! The threads check: threads of this process that were not running before the test
//! and still run after it (Linux: `/proc/self/task`, named from each thread's `comm`).

use std::io;

use super::ignore::{thread_id_ignored, thread_ignored};
use super::policy::Category;
use super::report::{Leak, cannot_run};

/// The thread ids running before the test, sorted.
pub(super) struct Snapshot(Vec<u64>);

/// The ids of the threads running now, sorted.
pub(super) fn ids() -> io::Result<Vec<u64>> {
    list()
}

fn list() -> io::Result<Vec<u64>> {
    Ok(super::dir::numbers(std::path::Path::new("/proc/self/task"))?.0)
}

pub(super) fn snapshot() -> Option<Snapshot> {
    match list() {
        Ok(tids) => Some(Snapshot(tids)),
        Err(error) => {
            cannot_run(Category::Threads, &format!("`/proc/self/task`: {error}"));
            None
        }
    }
}

/// The id of the calling thread, as `/proc/self/task` lists it (`None` without `/proc`).
pub(crate) fn current_thread_id() -> Option<u64> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// The threads running now that were not in `before`, except `expected` ones.
pub(super) fn leaks(before: &Snapshot, expected: &[u64]) -> Vec<Leak> {
    let Ok(now) = list() else {
        return Vec::new();
    };
    now.into_iter()
        .filter(|tid| {
            before.0.binary_search(tid).is_err()
                && !expected.contains(tid)
                && !thread_id_ignored(*tid)
        })
        .filter_map(|tid| {
            // A thread that ended since the listing has no `comm` left: not a leak.
            let name = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).ok()?;
            let name = name.trim_end_matches('\n').to_owned();
            if thread_ignored(&name) {
                return None;
            }
            Some(Leak::new(
                Category::Threads,
                format!("thread `{name}` (tid {tid}) still running"),
            ))
        })
        .collect()
}
