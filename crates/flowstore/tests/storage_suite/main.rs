//! The port of taskflow's storage tests (`test_storage.py`, 61 tests) onto testbed: every
//! test runs as four scenarios, `<topic>::<test>::memory`, `::sqlite`, `::postgres` and
//! `::mysql`, each on a clean backend of its own (the `Db` fixture in `support`). Filter
//! on `::postgres` to run one backend.
//!
//! What changed from the Python suite, and why:
//! - Tests that built a second `Storage` on the same in-memory `FlowDetail` object to
//!   "resume" (`get_failure_after_reload`, `inject_resumed`, `transient_storage_restore`,
//!   `get_flow_state`) load it from the backend instead (`Storage::load`): that is what a
//!   resumed engine does, and it proves the backend persisted the state. Several other
//!   tests add such a reload check after their own assertions.
//! - `save_and_get_non_cached_failure` emptied the private `_failures` cache; here the
//!   public `Storage::clear_failure_cache` does, and the test also checks the uncached
//!   failure is no longer equal (it lost its live error) while it still matches.
//! - Errors matched by message regex (`^Unknown atom`, `^Name 'xxx' is not mapped`,
//!   `^Unable to find result`, `^Atom detail`) are matched by `StorageError` variant, the
//!   typed contract; `assertRaises(NotFound)` is `StorageError::is_not_found`.
//! - `NoopTask`/`NoopRetry`/`ProgressingTask`/`GiveBackRevert` are `Atom::task` and
//!   `Atom::retry` descriptions; `version = (3, 11)` is `"3.11"`; `RuntimeError('Woot!')`
//!   is a local `RuntimeError` type; results are JSON values.
//! - Retries that `provides=['x']` indexed the string result `'b'[0]` in Python; here they
//!   provide `x` as the whole result, which is what those tests meant.
//! - `task_metadata_update_with_none` passes an empty update (the Rust API takes a map).
//! - `reset_unknown_task` only checked that `reset` returned `None`; here it checks the
//!   reset atom is pending and that resetting an atom never added is an error.
//! - `task_progress_erase` first records details, so erasing them is observable.
//! - `logbook_get_unknown_atom_type` parses an unknown `AtomKind` (there is no logbook
//!   model here); it needs no backend but runs on each, like every test.
//! - The thread tests start 50 OS threads sharing one `Storage`, as the seed does.

mod support;

mod atoms;
mod failures;
mod flows;
mod injection;
mod progress;
mod results;
mod retries;
mod threads;

fn main() {
    testbed::harness::main()
}
