//! The per-test scope: a last-in-first-out stack of cleanups, the test's details, and the
//! state fixtures share for the length of one test.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::block_on::{block_on, catch_unwind_future};
use super::details::{Detail, Details, lock};
use super::outcome::Outcome;
use super::report::{BoxError, Failure, FailureKind, Report, panic_message};

type SyncCleanup = Box<dyn FnOnce(Outcome) -> Result<(), BoxError> + Send>;
type AsyncCleanup =
    Box<dyn FnOnce(Outcome) -> Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>> + Send>;

enum CleanupFn {
    Sync(SyncCleanup),
    Async(AsyncCleanup),
    /// A child scope's whole stack, run as one step of its parent's.
    Child(Scope),
}

struct Cleanup {
    run: CleanupFn,
    registered_at: &'static Location<'static>,
}

/// What a cleanup closure may return: `()` or `Result<(), E>`.
pub trait CleanupResult {
    /// Converts into the error a [`Report`] will list.
    fn into_cleanup_result(self) -> Result<(), BoxError>;
}

impl CleanupResult for () {
    fn into_cleanup_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<E: Into<BoxError>> CleanupResult for Result<(), E> {
    fn into_cleanup_result(self) -> Result<(), BoxError> {
        self.map_err(Into::into)
    }
}

/// What every scope of one test shares: its name, its details and per-test state slots.
struct TestState {
    /// Tells tests apart even when two share a name; the same for every scope of one test.
    id: u64,
    name: String,
    details: Details,
    /// Set once every fixture is set up, so a panic can be blamed on setup or body.
    body_started: AtomicBool,
    slots: Mutex<HashMap<TypeId, Box<dyn Any + Send>>>,
}

struct ScopeInner {
    cleanups: Mutex<Vec<Cleanup>>,
    test: Arc<TestState>,
    is_root: bool,
}

impl ScopeInner {
    /// What to say when a root scope goes away with cleanups it never ran: where each
    /// was registered, and the fix.
    fn never_run(&mut self) -> Option<String> {
        let cleanups = self
            .cleanups
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !self.is_root || cleanups.is_empty() {
            return None;
        }
        let places: Vec<String> = cleanups
            .iter()
            .map(|cleanup| cleanup.registered_at.to_string())
            .collect();
        Some(format!(
            "testbed: warning: a scope of `{}` was dropped with {} cleanup(s) it never ran, \
             registered at {} (hint: call `finish` on a scope you make, or use the test's own \
             scope)",
            self.test.name,
            places.len(),
            places.join(", ")
        ))
    }
}

impl Drop for ScopeInner {
    /// Says so when a scope someone made is dropped without `finish`: its cleanups will
    /// never run (an async one cannot run in a destructor), so what they would have
    /// undone stays (a `Global` override is the leak checks' to find and undo).
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if let Some(message) = self.never_run() {
            super::report::emit(&message);
        }
    }
}

/// The cleanup stack of one test, and the place fixtures are set up in.
///
/// `#[testbed::test]` makes one per test; a test asks for it with a `scope: &Scope`
/// argument. Cleanups run last-in-first-out, exactly once, when the test ends, however it
/// ends (pass, error, panic, timeout, failed setup). Every cleanup runs even when an earlier
/// one fails or panics, and every failure is reported.
///
/// A `Scope` is a cheap handle: cloning it gives another handle to the same stack. A
/// scope made with [`Scope::new`] runs its cleanups when [`finish`](Scope::finish) is
/// called; one dropped unfinished says so on stderr, naming where each cleanup it never
/// ran was registered.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use testbed::{Outcome, Scope};
///
/// let order = Arc::new(Mutex::new(Vec::new()));
/// let scope = Scope::new("example");
/// for n in 1..=3 {
///     let order = order.clone();
///     scope.add_cleanup(move |_| order.lock().unwrap().push(n));
/// }
/// scope.finish(Outcome::Passed).unwrap();
/// assert_eq!(*order.lock().unwrap(), [3, 2, 1]);
/// ```
#[derive(Clone)]
pub struct Scope {
    inner: Arc<ScopeInner>,
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("test", &self.inner.test.name)
            .field("pending_cleanups", &lock(&self.inner.cleanups).len())
            .finish()
    }
}

impl Scope {
    /// A new, empty scope for the test named `test_name`.
    pub fn new(test_name: impl Into<String>) -> Self {
        static NEXT_TEST_ID: AtomicU64 = AtomicU64::new(1);
        let test = Arc::new(TestState {
            id: NEXT_TEST_ID.fetch_add(1, Ordering::Relaxed),
            name: test_name.into(),
            details: Details::default(),
            body_started: AtomicBool::new(false),
            slots: Mutex::new(HashMap::new()),
        });
        Scope::with_state(test, true)
    }

    fn with_state(test: Arc<TestState>, is_root: bool) -> Self {
        Scope {
            inner: Arc::new(ScopeInner {
                cleanups: Mutex::new(Vec::new()),
                test,
                is_root,
            }),
        }
    }

    /// A nested scope of the same test, with a cleanup stack of its own and the same
    /// details. Its cleanups run when [`finish`](Scope::finish) is called on it, or,
    /// if it is still holding any, as one step of this scope's cleanup.
    #[track_caller]
    pub fn child(&self) -> Scope {
        let child = Scope::with_state(self.inner.test.clone(), false);
        self.push(Location::caller(), CleanupFn::Child(child.clone()));
        child
    }

    /// The name of the test this scope belongs to.
    pub fn test_name(&self) -> &str {
        &self.inner.test.name
    }

    /// The test's identity within this process: the same for every scope (and child
    /// scope) of one test, different for two tests of the same name.
    pub(crate) fn test_id(&self) -> u64 {
        self.inner.test.id
    }

    /// The test's details: keep a handle to attach evidence from a cleanup.
    pub fn details(&self) -> Details {
        self.inner.test.details.clone()
    }

    /// Attaches a detail to the test; it is printed if the test fails. Returns the name it
    /// was stored under (a repeated name gets a `-1`, `-2` suffix).
    pub fn attach(&self, name: impl Into<String>, detail: impl Into<Detail>) -> String {
        self.inner.test.details.attach(name, detail)
    }

    /// Registers a cleanup, run with the test's [`Outcome`] when the scope finishes.
    ///
    /// It may return `()` or any `Result<(), E>` whose error converts into a boxed error.
    /// A closure that does nothing but panic needs its return type spelled out
    /// (`|_| -> () { panic!(..) }`): Rust would otherwise infer `!`, which stable Rust
    /// cannot accept here.
    #[track_caller]
    pub fn add_cleanup<F, R>(&self, cleanup: F)
    where
        F: FnOnce(Outcome) -> R + Send + 'static,
        R: CleanupResult,
    {
        self.push(
            Location::caller(),
            CleanupFn::Sync(Box::new(move |outcome| {
                cleanup(outcome).into_cleanup_result()
            })),
        );
    }

    /// Registers an async cleanup. In an `async` test it is awaited on the test's runtime;
    /// in a sync test it is driven to completion on a runtime of its own.
    ///
    /// ```
    /// use testbed::{Outcome, Scope};
    ///
    /// let scope = Scope::new("async cleanup");
    /// scope.add_async_cleanup(|outcome| async move {
    ///     assert_eq!(outcome, Outcome::Passed);
    ///     Ok::<(), std::io::Error>(())
    /// });
    /// scope.finish(Outcome::Passed).unwrap();
    /// ```
    #[track_caller]
    pub fn add_async_cleanup<F, Fut>(&self, cleanup: F)
    where
        F: FnOnce(Outcome) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: CleanupResult,
    {
        self.push(
            Location::caller(),
            CleanupFn::Async(Box::new(move |outcome| {
                Box::pin(async move { cleanup(outcome).await.into_cleanup_result() })
            })),
        );
    }

    fn push(&self, registered_at: &'static Location<'static>, run: CleanupFn) {
        lock(&self.inner.cleanups).push(Cleanup { run, registered_at });
    }

    fn pop(&self) -> Option<Cleanup> {
        lock(&self.inner.cleanups).pop()
    }

    /// Runs every registered cleanup, last first, blocking on async ones. Returns a
    /// [`Report`] listing every cleanup that failed, with the test's details.
    ///
    /// Call [`finish_async`](Scope::finish_async) instead from async code.
    pub fn finish(&self, outcome: Outcome) -> Result<(), Report> {
        let failures = self.run_cleanups(outcome);
        self.report(failures)
    }

    /// Runs every registered cleanup, last first, awaiting async ones.
    pub async fn finish_async(&self, outcome: Outcome) -> Result<(), Report> {
        let failures = self.run_cleanups_async(outcome).await;
        self.report(failures)
    }

    fn report(&self, failures: Vec<Failure>) -> Result<(), Report> {
        if failures.is_empty() {
            return Ok(());
        }
        let mut report = Report::new(self.test_name());
        report.extend(failures);
        report.set_details(self.inner.test.details.snapshot());
        Err(report)
    }

    pub(crate) fn run_cleanups(&self, outcome: Outcome) -> Vec<Failure> {
        let mut failures = Vec::new();
        while let Some(cleanup) = self.pop() {
            let at = cleanup.registered_at;
            let result = match cleanup.run {
                CleanupFn::Sync(run) => catch_unwind(AssertUnwindSafe(|| run(outcome))),
                CleanupFn::Async(run) => block_on(catch_unwind_future(run(outcome))),
                CleanupFn::Child(child) => {
                    failures.extend(child.run_cleanups(outcome));
                    continue;
                }
            };
            record(&mut failures, at, result);
        }
        self.release_state();
        failures
    }

    /// Boxed because a child scope's stack is run by recursion.
    pub(crate) fn run_cleanups_async(
        &self,
        outcome: Outcome,
    ) -> Pin<Box<dyn Future<Output = Vec<Failure>> + Send + '_>> {
        Box::pin(async move {
            let mut failures = Vec::new();
            while let Some(cleanup) = self.pop() {
                let at = cleanup.registered_at;
                let result = match cleanup.run {
                    CleanupFn::Sync(run) => catch_unwind(AssertUnwindSafe(|| run(outcome))),
                    CleanupFn::Async(run) => catch_unwind_future(run(outcome)).await,
                    CleanupFn::Child(child) => {
                        failures.extend(child.run_cleanups_async(outcome).await);
                        continue;
                    }
                };
                record(&mut failures, at, result);
            }
            self.release_state();
            failures
        })
    }

    /// Drops the per-test state (locks held for the test, captured logs) once the root
    /// scope has run its cleanups, so nothing outlives the test even if a stuck body
    /// still holds a handle.
    fn release_state(&self) {
        if self.inner.is_root {
            let slots = std::mem::take(&mut *lock(&self.inner.test.slots));
            drop(slots);
        }
    }

    /// Records that setup is over and the body is running.
    pub(crate) fn mark_body_started(&self) {
        self.inner.test.body_started.store(true, Ordering::Relaxed);
    }

    /// Whether the body had started (so a panic came from the body, not from setup).
    pub(crate) fn body_started(&self) -> bool {
        self.inner.test.body_started.load(Ordering::Relaxed)
    }

    /// Gives `f` the test's state slot of type `T`, made by `init` on first use. Slots
    /// live until the test's root scope finishes, after every cleanup has run.
    pub(crate) fn with_slot<T, R>(&self, init: impl FnOnce() -> T, f: impl FnOnce(&mut T) -> R) -> R
    where
        T: Any + Send,
    {
        let mut slots = lock(&self.inner.test.slots);
        let slot = slots
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(init()));
        f(slot
            .downcast_mut::<T>()
            .expect("slot keyed by its own TypeId"))
    }

    /// Reads the test's state slot of type `T`, if one was made.
    #[allow(dead_code)] // used by the optional `tracing` capture
    pub(crate) fn slot<T: Any + Send, R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        let slots = lock(&self.inner.test.slots);
        slots
            .get(&TypeId::of::<T>())
            .and_then(|slot| slot.downcast_ref::<T>())
            .map(f)
    }
}

fn record(
    failures: &mut Vec<Failure>,
    at: &'static Location<'static>,
    result: std::thread::Result<Result<(), BoxError>>,
) {
    match result {
        Ok(Ok(())) => {}
        Ok(Err(error)) => match error.downcast::<Report>() {
            // A child scope's report: list its failures one by one, not as one blob.
            Ok(nested) => failures.extend(nested.into_failures()),
            Err(error) => {
                failures.push(Failure::from_error(FailureKind::CleanupError(at), &*error))
            }
        },
        Err(payload) => failures.push(Failure {
            kind: FailureKind::CleanupPanic(at),
            message: panic_message(&*payload),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_dropped_unfinished_names_its_cleanups() {
        let scope = Scope::new("helper");
        scope.add_cleanup(|_| ());
        let _child = scope.child();
        let Ok(mut inner) = Arc::try_unwrap(scope.inner) else {
            panic!("the only handle");
        };
        let message = inner.never_run().expect("two cleanups never ran");
        assert!(
            message.contains("a scope of `helper` was dropped with 2 cleanup(s) it never ran"),
            "{message}"
        );
        assert!(message.contains("src/core/scope.rs:"), "{message}");
        inner.cleanups.get_mut().unwrap().clear();
        assert_eq!(inner.never_run(), None, "nothing left: nothing to say");

        let finished = Scope::new("finished");
        finished.add_cleanup(|_| ());
        finished.finish(Outcome::Passed).unwrap();
        let Ok(mut inner) = Arc::try_unwrap(finished.inner) else {
            panic!("the only handle");
        };
        assert_eq!(inner.never_run(), None);
    }
}
