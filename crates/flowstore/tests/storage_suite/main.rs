//! The port of taskflow's storage tests (`test_storage.py`, 61 tests) onto testbed: every
//! test runs on four backends, as `memory::<test>`, `sqlite::<test>`, `postgres::<test>`
//! and `mysql::<test>`, each on a clean backend of its own.
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

mod backends;
mod cases;

/// Generates, for each backend module, one `#[testbed::test]` per test body, taking that
/// backend's fixture.
macro_rules! on_every_backend {
    ($($test:ident,)*) => {
        on_every_backend!(@backend memory, Memory; $($test,)*);
        on_every_backend!(@backend sqlite, Sqlite; $($test,)*);
        on_every_backend!(@backend postgres, Postgres; $($test,)*);
        on_every_backend!(@backend mysql, MySql; $($test,)*);
    };
    (@backend $module:ident, $fixture:ident; $($test:ident,)*) => {
        mod $module {
            use crate::backends::$fixture;
            use crate::cases::TestResult;
            $(
                #[testbed::test]
                fn $test(db: $fixture) -> TestResult {
                    crate::cases::$test(&db.0)
                }
            )*
        }
    };
}

on_every_backend! {
    non_saving_storage,
    flow_name_uuid_and_meta,
    ensure_task,
    get_tasks_states,
    ensure_task_flow_detail,
    get_without_save,
    ensure_existing_task,
    save_and_get,
    save_and_get_cached_failure,
    save_and_get_non_cached_failure,
    get_failure_from_reverted_task,
    get_failure_after_reload,
    get_non_existing_var,
    reset,
    reset_unknown_task,
    fetch_by_name,
    fetch_unknown_name,
    flow_metadata_update,
    task_metadata_update_with_none,
    default_task_progress,
    task_progress,
    task_progress_erase,
    fetch_result_not_ready,
    save_multiple_results,
    mapping_none,
    inject,
    inject_twice,
    inject_resumed,
    many_thread_ensure_same_task,
    many_thread_inject,
    fetch_mapped_args,
    fetch_not_found_args,
    fetch_optional_args_found,
    fetch_optional_args_not_found,
    set_and_get_task_state,
    get_state_of_unknown_task,
    task_by_name,
    transient_storage_fetch_all,
    transient_storage_fetch_mapped,
    transient_storage_restore,
    unknown_task_by_name,
    initial_flow_state,
    get_flow_state,
    set_and_get_flow_state,
    result_is_checked,
    empty_result_is_checked,
    short_result_is_checked,
    ensure_retry,
    ensure_retry_and_task_with_same_name,
    save_retry_results,
    save_retry_results_with_mapping,
    cleanup_retry_history,
    cached_retry_failure,
    logbook_get_unknown_atom_type,
    save_task_intention,
    save_retry_intention,
    inject_persistent_missing,
    inject_persistent_and_transient_missing,
    save_fetch,
    save_fetch_revert,
    save_fail_fetch_revert,
}
