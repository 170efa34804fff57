//! Every resource this process has made: what the harness tears down at the end of a
//! run, what the exit hook releases under plain libtest, and where costs are counted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

use super::deps::Hold;
use super::error::ResourceCleanError;
use crate::core::{BoxError, lock};

/// What any [`Resource`](super::Resource) offers without naming its value type: enough to
/// plan, release and account for it.
pub trait AnyResource: Send + Sync {
    /// The resource's name, as given to [`Resource::new`](super::Resource::new).
    fn name(&self) -> &'static str;

    /// The resources this one is made from.
    fn dependencies(&self) -> &'static [&'static dyn AnyResource];

    /// What the resource has cost in this process so far.
    fn stats(&self) -> ResourceStats;

    /// Cleans the resource now if no test is using it; a resource in use is left alone.
    /// Returns whether it was cleaned.
    fn release_if_unused(&self) -> Result<bool, ResourceCleanError>;

    /// Makes the resource (if needed) and returns a hold on its current instance, made
    /// for a dependent instance: it keeps the instance alive but is not a use until
    /// [`activate`](AnyResource::activate)d.
    #[doc(hidden)]
    fn hold_current(&'static self) -> Result<Hold, BoxError>;

    /// Counts a use of the held instance (its dependent is in use).
    #[doc(hidden)]
    fn activate(&self, hold: &Hold);

    /// Ends a use counted by [`activate`](AnyResource::activate).
    #[doc(hidden)]
    fn deactivate(&self, hold: &Hold) -> Result<(), ResourceCleanError>;

    /// Drops a hold made by [`hold_current`](AnyResource::hold_current).
    #[doc(hidden)]
    fn unhold(&self, hold: Hold) -> Result<(), ResourceCleanError>;

    /// Whether the instance of `generation` is still current and clean, its
    /// dependencies included.
    #[doc(hidden)]
    fn is_fresh(&self, generation: u64) -> bool;
}

impl std::fmt::Debug for dyn AnyResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Resource").field(&self.name()).finish()
    }
}

/// What one resource cost: how often it was made, reset and cleaned, and how long that
/// took in total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceStats {
    /// Calls of the make function, remakes after a dirtying included.
    pub makes: u64,
    /// Calls of the reset hook.
    pub resets: u64,
    /// Instances cleaned.
    pub cleans: u64,
    /// Time spent in the make function.
    pub make_time: Duration,
    /// Time spent in the reset hook.
    pub reset_time: Duration,
    /// Time spent cleaning.
    pub clean_time: Duration,
}

impl ResourceStats {
    /// Make, reset and clean time together.
    pub fn total_time(&self) -> Duration {
        self.make_time + self.reset_time + self.clean_time
    }
}

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
/// use testbed::resources::{Resource, live_resources};
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
/// use testbed::resources::{Resource, teardown_all};
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
