//! Every resource this process has made: what the harness tears down at the end of a
//! run, what the exit hook releases under plain libtest, and where costs are counted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};

use super::erased::AnyResource;
use super::error::ResourceCleanError;
use crate::core::lock;

static MADE: Mutex<Vec<&'static dyn AnyResource>> = Mutex::new(Vec::new());
static EXIT_HOOK: Once = Once::new();

/// Set once the process is exiting: a resource whose lock is held then (a timed-out test
/// still making it) is skipped rather than waited for, so exit cannot hang.
pub(crate) static EXITING: AtomicBool = AtomicBool::new(false);

/// Remembers `resource` as made in this process (first make only).
pub(crate) fn register(resource: &'static dyn AnyResource) {
    let mut made = lock(&MADE);
    if !made.iter().any(|known| same(*known, resource)) {
        made.push(resource);
    }
    drop(made);
    EXIT_HOOK.call_once(install_exit_hook);
}

fn same(a: &dyn AnyResource, b: &dyn AnyResource) -> bool {
    std::ptr::addr_eq(a as *const dyn AnyResource, b as *const dyn AnyResource)
}

/// Every resource made in this process so far, in the order they were first made
/// (a dependency before the resources made from it).
///
/// ```
/// use testbed::__private::live_resources;
/// use testbed::resources::Resource;
/// use testbed::{Outcome, Scope};
///
/// static ANSWER: Resource<u32> = Resource::new("answer", |_| Ok(42));
/// let scope = Scope::new("doc");
/// assert_eq!(*ANSWER.get(&scope).unwrap(), 42);
/// scope.finish(Outcome::Passed).unwrap();
/// assert!(live_resources().iter().any(|r| r.name() == "answer"));
/// ```
pub fn live_resources() -> Vec<&'static dyn AnyResource> {
    lock(&MADE).clone()
}

/// Cleans every resource no test is using, dependents before their dependencies, and
/// returns every clean that failed. The harness calls it at the end of a run.
///
/// ```
/// use testbed::__private::teardown_all;
/// use testbed::resources::Resource;
/// use testbed::{Outcome, Scope};
///
/// static ANSWER: Resource<u32> = Resource::new("answer", |_| Ok(42));
/// let scope = Scope::new("doc");
/// let _ = ANSWER.get(&scope).unwrap();
/// scope.finish(Outcome::Passed).unwrap();
/// assert!(teardown_all().is_empty());
/// assert_eq!(ANSWER.stats().cleans, 1);
/// ```
pub fn teardown_all() -> Vec<ResourceCleanError> {
    live_resources()
        .into_iter()
        .rev()
        .filter_map(|resource| resource.release_if_unused().err())
        .collect()
}

/// Under plain libtest there is no end-of-run hook: the process exit is the last moment
/// process-local resources can be cleaned (a started server stopped, a temp database
/// dropped), so they are cleaned from a C `atexit` handler.
fn install_exit_hook() {
    extern "C" fn at_exit() {
        // A panic must not unwind into the C runtime; a failed clean at exit can only be
        // told on stderr.
        EXITING.store(true, Ordering::SeqCst);
        let result = std::panic::catch_unwind(|| {
            let Ok(made) = MADE.try_lock() else { return };
            let made = made.clone();
            for error in made
                .into_iter()
                .rev()
                .filter_map(|r| r.release_if_unused().err())
            {
                eprintln!("testbed: failed to {error}: {}", error.source);
            }
        });
        if result.is_err() {
            eprintln!("testbed: a resource's clean hook panicked at exit");
        }
    }
    // SAFETY: `atexit` only records a function pointer; `at_exit` is an `extern "C" fn()`
    // that never unwinds (its body runs under `catch_unwind`), which is all `atexit`
    // requires of the handler.
    unsafe {
        libc::atexit(at_exit);
    }
}
