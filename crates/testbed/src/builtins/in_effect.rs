//! The ledger of the changes tests make to process-wide values that are still in
//! effect: each `Global` override and `Registry` registration, from the moment it is
//! made until its cleanup undoes it. The leak checks read it to find a change that
//! outlived the test that made it (made through a scope nobody finished: the Rust form
//! of a dangling mock), and undo it.

use std::sync::Mutex;

use super::test_locks::{LockKey, release_for};
use crate::Scope;
use crate::core::{lock, running};

/// A change still in effect, as the leak checks report it.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    /// Its place in the ledger: changes made later have larger ids.
    pub(crate) id: u64,
    /// What was changed, and where: "`Global<u8>` overridden at tests/x.rs:4:5".
    pub(crate) what: String,
    /// The name of the test the scope it was made through belongs to.
    pub(crate) through: String,
    /// The test the runner was running on the thread that made it, if any.
    pub(crate) made_by: Option<u64>,
}

struct Entry {
    change: Change,
    /// The scope's test and the lock it holds for the change.
    lock: (u64, LockKey),
    undo: Box<dyn FnOnce() + Send>,
    /// Whether undoing now restores what was there before: no later change sits on it.
    on_top: Box<dyn Fn() -> bool + Send>,
}

struct Ledger {
    next: u64,
    entries: Vec<Entry>,
}

static LEDGER: Mutex<Ledger> = Mutex::new(Ledger {
    next: 1,
    entries: Vec::new(),
});

/// Records a change made through `scope` under the lock `key`, and registers the
/// cleanup that undoes it. `on_top` tells whether undoing it now would restore the
/// value it replaced.
#[track_caller]
pub(crate) fn record(
    scope: &Scope,
    what: String,
    key: LockKey,
    undo: impl FnOnce() + Send + 'static,
    on_top: impl Fn() -> bool + Send + 'static,
) {
    let mut ledger = lock(&LEDGER);
    let id = ledger.next;
    ledger.next += 1;
    ledger.entries.push(Entry {
        change: Change {
            id,
            what,
            through: scope.test_name().to_owned(),
            made_by: running::current(),
        },
        lock: (scope.test_id(), key),
        undo: Box::new(undo),
        on_top: Box::new(on_top),
    });
    drop(ledger);
    scope.add_cleanup(move |_| {
        if let Some(entry) = take(id) {
            (entry.undo)();
        }
    });
}

fn take(id: u64) -> Option<Entry> {
    let mut ledger = lock(&LEDGER);
    let at = ledger
        .entries
        .iter()
        .position(|entry| entry.change.id == id)?;
    Some(ledger.entries.remove(at))
}

/// The id the next change will get: every change made from now on has this one or a
/// larger one.
pub(crate) fn mark() -> u64 {
    lock(&LEDGER).next
}

/// The changes made since `mark` that are still in effect, oldest first.
pub(crate) fn since(mark: u64) -> Vec<Change> {
    lock(&LEDGER)
        .entries
        .iter()
        .filter(|entry| entry.change.id >= mark)
        .map(|entry| entry.change.clone())
        .collect()
}

/// What [`undo_leaked`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Undone {
    /// The value it replaced is back, and its lock is free for other tests.
    Restored,
    /// Its own cleanup ran meanwhile.
    ByItsCleanup,
    /// A later change sits on it: undoing it would clobber that one.
    Covered,
}

/// Undoes a change that outlived its test, and frees the lock its scope still holds.
pub(crate) fn undo_leaked(id: u64) -> Undone {
    let mut ledger = lock(&LEDGER);
    let Some(at) = ledger
        .entries
        .iter()
        .position(|entry| entry.change.id == id)
    else {
        return Undone::ByItsCleanup;
    };
    if !(ledger.entries[at].on_top)() {
        return Undone::Covered;
    }
    let entry = ledger.entries.remove(at);
    drop(ledger);
    (entry.undo)();
    release_for(entry.lock.0, &entry.lock.1);
    Undone::Restored
}
