//! The handles check: things a library hands a test that must be gone once the test's
//! cleanups have run, such as testbed-db's `TestDb`, whose database the next test gets.
//! A handle still alive then (kept in a `static`, moved into a thread or a task that
//! outlives the test) would reach into another test's state. Per test, so exact in both
//! runners; nothing can be restored, so it is only reported.

use std::sync::{Arc, Mutex, Weak};

use super::policy::Category;
use super::report::Leak;
use crate::Scope;
use crate::core::lock;

/// One watched handle: what it is, and whether any clone of it is alive.
struct Watched {
    what: String,
    alive: Box<dyn Fn() -> bool + Send>,
}

/// The handles watched for one test; the scope's state slot and the test's pending
/// check share it, so it outlives the slot, which goes when the cleanups end.
#[derive(Clone, Default)]
pub(super) struct Watch(Arc<Mutex<Vec<Watched>>>);

/// Starts watching for the test of `scope`.
pub(super) fn snapshot(scope: &Scope) -> Watch {
    let watch = Watch::default();
    let shared = watch.clone();
    scope.with_slot(|| shared, |_| ());
    watch
}

/// Asks the leak checks to verify, once the test of `scope` has run every cleanup, that
/// no clone of `handle` is left: for a library whose values must not outlive a test,
/// as testbed-db's `TestDb` (its database goes to the next test).
///
/// `what` names it in the report (`a TestDb of database testbed_pool_3`). Nothing is
/// watched when the leak checks are off or the scope is not a test the runner runs.
///
/// ```
/// use std::sync::Arc;
/// use testbed::Scope;
///
/// /// A connection of our own library, which must not outlive the test that opened it.
/// struct Session {
///     alive: Arc<()>,
/// }
///
/// fn open(scope: &Scope) -> Session {
///     let session = Session { alive: Arc::new(()) };
///     testbed::leaks::expect_dropped(scope, "a Session", &session.alive);
///     session
/// }
///
/// #[testbed::test]
/// fn drops_its_session(scope: &Scope) {
///     let _session = open(scope);
/// }
/// # drops_its_session();
/// ```
pub fn expect_dropped<T: ?Sized + Send + Sync + 'static>(
    scope: &Scope,
    what: impl Into<String>,
    handle: &Arc<T>,
) {
    let Some(watch) = scope.slot(|watch: &Watch| watch.clone()) else {
        return;
    };
    let weak: Weak<T> = Arc::downgrade(handle);
    lock(&watch.0).push(Watched {
        what: what.into(),
        alive: Box::new(move || weak.strong_count() > 0),
    });
}

/// The watched handles still alive.
pub(super) fn leaks(watch: &Watch) -> Vec<Leak> {
    lock(&watch.0)
        .iter()
        .filter(|watched| (watched.alive)())
        .map(|watched| {
            Leak::new(
                Category::Handles,
                format!("{} still held after the test's cleanups", watched.what),
            )
        })
        .collect()
}
