//! Checks run around every `#[testbed::test]`: the seam for per-test leak detection.
//!
//! A check takes a snapshot before the test's fixtures are set up and compares after
//! every cleanup has run; a difference fails the test.

use std::any::Any;
use std::sync::{Arc, RwLock};

use crate::core::{BoxError, Failure, FailureKind, Outcome, Scope};

/// Something verified around every test, such as "the test left no thread behind".
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

/// Installs `check` for every test that starts from now on in this process.
pub fn install_check(check: impl Check) {
    CHECKS
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(Arc::new(check));
}

/// Snapshots taken before a test, waiting to be compared after it.
pub(crate) struct Pending(Vec<(Arc<dyn Check>, Box<dyn Any + Send>)>);

pub(crate) fn before(scope: &Scope) -> Pending {
    let checks = CHECKS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Pending(
        checks
            .iter()
            .map(|check| (check.clone(), check.before(scope)))
            .collect(),
    )
}

impl Pending {
    pub(crate) fn after(self, scope: &Scope, outcome: Outcome) -> Vec<Failure> {
        self.0
            .into_iter()
            .filter_map(|(check, snapshot)| check.after(scope, snapshot, outcome).err())
            .map(|error| Failure::from_error(FailureKind::Check, &*error))
            .collect()
    }
}
