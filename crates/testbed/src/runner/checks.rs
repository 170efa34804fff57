//! Checks run around every `#[testbed::test]`: the built-in leak checks (`leaks`) and
//! every check installed with [`install_check`].
//!
//! A check takes a snapshot before the test's fixtures are set up and compares after
//! every cleanup has run; a difference fails the test.

use std::any::Any;
use std::sync::{Arc, RwLock};

use crate::core::{BoxError, Failure, FailureKind, Outcome, Scope};
use crate::leaks::{self, Category};

/// Something verified around every test, such as "the test left no thread behind".
///
/// testbed's own leak checks run around every test already (see [`crate::leaks`]); a
/// check of your own, installed once, runs beside them:
///
/// ```
/// use std::any::Any;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use testbed::{BoxError, Check, Outcome, Scope};
///
/// /// Connections the application opened and has not closed.
/// static OPEN_CONNECTIONS: AtomicUsize = AtomicUsize::new(0);
///
/// struct NoOpenConnections;
///
/// impl Check for NoOpenConnections {
///     fn before(&self, _scope: &Scope) -> Box<dyn Any + Send> {
///         Box::new(OPEN_CONNECTIONS.load(Ordering::SeqCst))
///     }
///
///     fn after(
///         &self,
///         _scope: &Scope,
///         snapshot: Box<dyn Any + Send>,
///         _outcome: Outcome,
///     ) -> Result<(), BoxError> {
///         let before = *snapshot.downcast::<usize>().expect("our own snapshot");
///         let now = OPEN_CONNECTIONS.load(Ordering::SeqCst);
///         if now > before {
///             return Err(format!(
///                 "left {} connection(s) open (hint: close them before the test ends)",
///                 now - before
///             )
///             .into());
///         }
///         Ok(())
///     }
/// }
///
/// testbed::install_check(NoOpenConnections);
///
/// #[testbed::test]
/// fn closes_what_it_opens() {
///     OPEN_CONNECTIONS.fetch_add(1, Ordering::SeqCst);
///     OPEN_CONNECTIONS.fetch_sub(1, Ordering::SeqCst);
/// }
/// # closes_what_it_opens();
/// ```
pub trait Check: Send + Sync + 'static {
    /// Takes what [`after`](Check::after) compares against, before setup.
    fn before(&self, scope: &Scope) -> Box<dyn Any + Send>;

    /// Compares with the snapshot once every cleanup has run; an error fails the test.
    fn after(
        &self,
        scope: &Scope,
        snapshot: Box<dyn Any + Send>,
        outcome: Outcome,
    ) -> Result<(), BoxError>;
}

static CHECKS: RwLock<Vec<Arc<dyn Check>>> = RwLock::new(Vec::new());

/// Installs `check` for every test that starts from now on in this process (see
/// [`Check`] for an example).
pub fn install_check(check: impl Check) {
    CHECKS
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(Arc::new(check));
}

/// Snapshots taken before a test, waiting to be compared after it.
pub(crate) struct Pending {
    leaks: Option<leaks::Pending>,
    installed: Vec<(Arc<dyn Check>, Box<dyn Any + Send>)>,
    tasks_alive: Option<usize>,
}

/// Takes every snapshot: the leak checks' first (except the categories `allow_leaks`
/// names), then the installed checks'.
pub(crate) fn before(scope: &Scope, allow_leaks: &[Category]) -> Pending {
    let leaks = leaks::before(scope, allow_leaks);
    let checks = CHECKS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Pending {
        leaks,
        installed: checks
            .iter()
            .map(|check| (check.clone(), check.before(scope)))
            .collect(),
        tasks_alive: None,
    }
}

impl Pending {
    /// Whether the runner should count the tasks left on the test's runtime.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn watches_tasks(&self) -> bool {
        self.leaks
            .as_ref()
            .is_some_and(leaks::Pending::watches_tasks)
    }

    /// Tells the leak checks that thread `tid` is expected to outlive the test.
    pub(crate) fn expect_thread(&mut self, tid: u64) {
        if let Some(leaks) = &mut self.leaks {
            leaks.expect_thread(tid);
        }
    }

    /// Records how many tasks were still alive on the test's runtime.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn set_tasks_alive(&mut self, alive: usize) {
        self.tasks_alive = Some(alive);
    }

    /// Compares: the installed checks first, then the leak checks, which also restore
    /// what the test changed.
    pub(crate) fn after(self, scope: &Scope, outcome: Outcome) -> Vec<Failure> {
        let mut failures: Vec<Failure> = self
            .installed
            .into_iter()
            .filter_map(|(check, snapshot)| check.after(scope, snapshot, outcome).err())
            .map(|error| Failure::from_error(FailureKind::Check, &*error))
            .collect();
        if let Some(pending) = self.leaks {
            if let Err(message) = pending.after(self.tasks_alive) {
                failures.push(Failure {
                    kind: FailureKind::Check,
                    message,
                });
            }
        }
        failures
    }
}
