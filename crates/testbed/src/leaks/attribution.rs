//! Whose a process-wide difference is. Each test's window runs from its first snapshot
//! to its last look; the tests whose windows overlapped it are recorded. A difference
//! is the test's own only when nothing else can have made it: no other testbed test
//! overlapped its window *and* the runner runs one test at a time in this process
//! (`cargo nextest run`'s process per test, or libtest with one test thread), since a
//! plain `#[test]` running beside it would be invisible here. Otherwise the difference
//! is only reported, with the overlapping tests named as suspects.

use std::sync::{Mutex, OnceLock};

/// A test's open window; dropping it closes it, so a panic between the snapshots
/// cannot leave it open to be seen as overlapping every later test.
pub(super) struct Window {
    id: u64,
}

impl Drop for Window {
    fn drop(&mut self) {
        let mut windows = windows();
        if let Some(at) = windows.open.iter().position(|open| open.id == self.id) {
            windows.open.swap_remove(at);
        }
    }
}

struct Open {
    id: u64,
    test: String,
    overlapped: Vec<String>,
}

struct Windows {
    next: u64,
    open: Vec<Open>,
}

static WINDOWS: Mutex<Windows> = Mutex::new(Windows {
    next: 0,
    open: Vec::new(),
});

fn windows() -> std::sync::MutexGuard<'static, Windows> {
    WINDOWS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Opens `test`'s window; every window open now and every one opened before it closes
/// is recorded as overlapping it.
pub(super) fn open(test: &str) -> Window {
    let mut windows = windows();
    windows.next += 1;
    let id = windows.next;
    let mut overlapped = Vec::new();
    for other in &mut windows.open {
        other.overlapped.push(test.to_owned());
        overlapped.push(other.test.clone());
    }
    windows.open.push(Open {
        id,
        test: test.to_owned(),
        overlapped,
    });
    Window { id }
}

/// Closes the window: the names of the tests that ran during it, each once.
pub(super) fn close(window: Window) -> Vec<String> {
    let mut windows = windows();
    let Some(at) = windows.open.iter().position(|open| open.id == window.id) else {
        return Vec::new();
    };
    let mut overlapped = windows.open.swap_remove(at).overlapped;
    drop(windows);
    overlapped.sort();
    overlapped.dedup();
    overlapped
}

/// How the process runs its tests, read once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Runner {
    /// `cargo nextest run`: this process runs this one test.
    ProcessPerTest,
    /// libtest (or testbed's harness) with one test thread: one test at a time.
    OneAtATime,
    /// Tests run as threads side by side; tests not written with `#[testbed::test]` may
    /// run unseen.
    Parallel,
}

pub(super) fn runner() -> Runner {
    static RUNNER: OnceLock<Runner> = OnceLock::new();
    *RUNNER.get_or_init(|| {
        let nextest = std::env::var("NEXTEST_EXECUTION_MODE")
            .is_ok_and(|mode| mode == "process-per-test")
            || (std::env::var_os("NEXTEST_RUN_ID").is_some()
                && std::env::var_os("NEXTEST_EXECUTION_MODE").is_none());
        if nextest {
            return Runner::ProcessPerTest;
        }
        let env_one = std::env::var("RUST_TEST_THREADS").is_ok_and(|threads| threads.trim() == "1");
        let args: Vec<String> = std::env::args().collect();
        let arg_one = args.iter().enumerate().any(|(index, arg)| {
            arg == "--test-threads=1"
                || (arg == "--test-threads" && args.get(index + 1).is_some_and(|next| next == "1"))
        });
        if env_one || arg_one {
            Runner::OneAtATime
        } else {
            Runner::Parallel
        }
    })
}

/// Whose a difference is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Attribution {
    /// The test's own, proven.
    Exact,
    /// Perhaps the test's, perhaps one of these others' (empty: tests not written with
    /// `#[testbed::test]` may have run beside it).
    Suspects(Vec<String>),
}

pub(super) fn attribute(overlapped: Vec<String>) -> Attribution {
    if overlapped.is_empty() && runner() != Runner::Parallel {
        Attribution::Exact
    } else {
        Attribution::Suspects(overlapped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_record_each_test_that_overlapped_them() {
        let first = open("attribution::first");
        let second = open("attribution::second");
        let first_saw = close(first);
        let third = open("attribution::third");
        let second_saw = close(second);
        let third_saw = close(third);
        // Other unit tests may run meanwhile: look only at these three.
        let mine = |saw: Vec<String>| -> Vec<String> {
            saw.into_iter()
                .filter(|name| name.starts_with("attribution::"))
                .collect()
        };
        assert_eq!(mine(first_saw), ["attribution::second"]);
        assert_eq!(
            mine(second_saw),
            ["attribution::first", "attribution::third"]
        );
        assert_eq!(mine(third_saw), ["attribution::second"]);
    }
}
