//! The threads check: threads of this process that were not running before the test
//! and still run after it (Linux: `/proc/self/task`, named from each thread's `comm`).

use super::dir::current_thread_id;
use super::ignore::{thread_id_ignored, thread_ignored};
use super::policy::Category;
use super::report::{Leak, cannot_run};

/// The thread ids running before the test, sorted, and when the listing was taken.
///
/// A listing of `/proc/self/task` can skip a live thread when another one exits during
/// it (procfs walks the thread list by position), so a thread missing from it is not
/// yet proof of a new one: one that started before the listing is not the test's.
pub(super) struct Snapshot(Vec<u64>, std::time::Instant);

use super::dir::thread_ids as list;

pub(super) fn snapshot() -> Option<Snapshot> {
    match list() {
        Ok(tids) => Some(Snapshot(tids, std::time::Instant::now())),
        Err(error) => {
            cannot_run(Category::Threads, &format!("`/proc/self/task`: {error}"));
            None
        }
    }
}

/// The threads running now that were not in `before`, except `expected` ones.
pub(super) fn leaks(before: &Snapshot, expected: &[u64]) -> Vec<Leak> {
    let Ok(now) = list() else {
        return Vec::new();
    };
    // Read only when a thread is new: most tests start none, and it costs a syscall.
    let current = std::cell::OnceCell::new();
    now.into_iter()
        .filter(|tid| {
            before.0.binary_search(tid).is_err()
                && !expected.contains(tid)
                && Some(*tid) != *current.get_or_init(current_thread_id)
                && !thread_id_ignored(*tid)
                && !started_before(*tid, before.1)
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

/// Whether thread `tid` started before `listed` (by more than a clock tick): a thread
/// the listing skipped, not one the test started. Read only for a thread that looks
/// new, so a clean test pays nothing for it.
fn started_before(tid: u64, listed: std::time::Instant) -> bool {
    let Some(age) = thread_age(tid) else {
        return false;
    };
    // One clock tick (10 ms) of slack: `starttime` is counted in ticks.
    age > listed.elapsed() + std::time::Duration::from_millis(10)
}

/// How long ago thread `tid` started: `/proc/uptime` minus its `starttime` (field 22 of
/// its `stat`, in clock ticks since boot).
fn thread_age(tid: u64) -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let start_ticks: u64 = after_name.split_whitespace().nth(19)?.parse().ok()?;
    // SAFETY: `sysconf` reads a system constant; it has no preconditions.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks_per_second = u64::try_from(ticks_per_second).ok().filter(|t| *t > 0)?;
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    let uptime: f64 = uptime.split_whitespace().next()?.parse().ok()?;
    let started = start_ticks as f64 / ticks_per_second as f64;
    Some(std::time::Duration::from_secs_f64(
        (uptime - started).max(0.0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_running_before_the_listing_is_not_new() {
        let listed = std::time::Instant::now();
        let me = current_thread_id().expect("Linux");
        assert!(thread_age(me).is_some(), "this thread's age is readable");
        let (sender, receiver) = std::sync::mpsc::channel();
        let worker = std::thread::spawn(move || {
            sender.send(current_thread_id().unwrap()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(300));
        });
        let tid = receiver.recv().unwrap();
        assert!(!started_before(tid, listed), "started after the listing");
        std::thread::sleep(std::time::Duration::from_millis(250));
        let relisted = std::time::Instant::now();
        assert!(
            started_before(tid, relisted),
            "started 250 ms before this listing"
        );
        worker.join().unwrap();
    }
}
