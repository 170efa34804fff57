//! The overrides check: a `Global` override or a `Registry` registration still in effect
//! once the test's cleanups have run, because it was made through a scope nobody
//! finished (a `Scope::new` of the test's own, say). Other tests would see it, which is
//! what made Trove's dangling mocks break unrelated tests. A change made on the test's
//! own thread is pinned on it exactly, whatever runs beside it; each one found is undone
//! after being reported, its lock freed.

use super::policy::Category;
use super::report::Leak;
use crate::builtins::in_effect::{self, Change, Undone};

/// Where the ledger stood when the test started, and which test this is.
pub(super) struct Snapshot {
    mark: u64,
    test: u64,
}

pub(super) fn snapshot(test: u64) -> Snapshot {
    Snapshot {
        mark: in_effect::mark(),
        test,
    }
}

/// A change found still in effect.
pub(super) struct Found {
    id: u64,
    leak: Leak,
}

impl Found {
    /// Its place in the ledger: later changes have larger ids.
    pub(super) fn id(&self) -> u64 {
        self.id
    }
}

/// The changes made during the test and still in effect: those made on its own thread,
/// and those made where no test ran (a thread it started, perhaps: whose they are is
/// for the window to decide). Changes other tests made on their threads are theirs.
pub(super) fn leaks(snapshot: &Snapshot) -> (Vec<Found>, Vec<Found>) {
    let (mut own, mut unknown) = (Vec::new(), Vec::new());
    for change in in_effect::since(snapshot.mark) {
        match change.made_by {
            Some(test) if test == snapshot.test => own.push(found(change)),
            Some(_) => {}
            None => unknown.push(found(change)),
        }
    }
    (own, unknown)
}

fn found(change: Change) -> Found {
    Found {
        id: change.id,
        leak: Leak::new(
            Category::Overrides,
            format!(
                "{} through a scope of `{}`, still in effect after the test's cleanups",
                change.what, change.through
            ),
        ),
    }
}

/// Undoes each change, newest first (so stacked overrides unwind to the first value).
pub(super) fn restore(found: &mut [Found]) {
    for found in found.iter_mut().rev() {
        found.leak.restored = Some(
            match in_effect::undo_leaked(found.id) {
                Undone::Restored => "undone, and its lock freed",
                Undone::ByItsCleanup => "undone by its own cleanup meanwhile",
                Undone::Covered => "not undone: a later change sits over it",
            }
            .to_owned(),
        );
    }
}

/// The leaks alone, in the order they were made.
pub(super) fn into_leaks(found: Vec<Found>) -> impl Iterator<Item = Leak> {
    found.into_iter().map(|found| found.leak)
}
