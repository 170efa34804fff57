//! Workflow-state storage: the state of running flows (their tasks and retries, results,
//! failures, retry histories, progress and injected arguments), kept so an engine can
//! share it between threads and resume a flow after a restart.
//!
//! A [`Storage`] holds one [`FlowDetail`] and writes every change through to a
//! [`Backend`]: [`MemoryBackend`] in this process, or [`SqlBackend`] in SQLite,
//! PostgreSQL or MySQL through sqlx, with one schema kept as migrations
//! (`migrations/`, applied by [`SqlBackend::upgrade`]).
//!
//! The API is blocking. An engine runs its atoms on threads, and the operations that must
//! be atomic for them (adding an atom that fifty threads ensure at once, merging values
//! injected at once) are plain critical sections under one mutex; an `async` API would
//! add await points inside them and force every caller onto a runtime. The SQL backend
//! keeps its own one-thread tokio runtime for its connection pool.
//!
//! ```
//! use std::sync::Arc;
//! use flowstore::{Atom, Failure, FlowDetail, MemoryBackend, Provides, State, Storage};
//! use serde_json::json;
//!
//! let backend = Arc::new(MemoryBackend::new());
//! let storage = Storage::with_backend(FlowDetail::new("orders"), backend.clone())?;
//! storage.ensure_atom(&Atom::task("charge").with_provides(Provides::whole("receipt")))?;
//! storage.inject([("amount", json!(42))])?;
//! storage.save_with_state("charge", Failure::from_error(std::io::Error::other("declined")), State::Failure)?;
//!
//! // Another process resumes the flow from the backend.
//! let resumed = Storage::load(backend, &storage.flow_uuid())?;
//! assert_eq!(resumed.fetch("amount")?, json!(42));
//! assert!(resumed.get("charge")?.failure().unwrap().matches(&storage.get("charge")?.failure().unwrap()));
//! # Ok::<(), flowstore::StorageError>(())
//! ```
#![warn(missing_docs)]

mod atom;
mod backend;
mod detail;
mod error;
mod failure;
mod parse;
mod state;
mod storage;

pub use atom::{Atom, Provides, ResultIndex};
pub use backend::{Backend, MemoryBackend, SqlBackend, SqlKind};
pub use detail::{AtomDetail, AtomKind, FlowDetail, RetryAttempt};
pub use error::{BackendError, StorageError};
pub use failure::Failure;
pub use parse::ParseError;
pub use state::{Intention, State};
pub use storage::{ArgsMapping, INJECTOR_NAME, Outcome, ProgressDetails, RetryHistory, Storage};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

/// What flowstore persists as JSON (states, intentions, failures, progress details,
/// retry attempts) is versioned: a change to it without a version bump fails this
/// test, with the change in words (see `versions.json` and `testbed::versioned`). A
/// unit test, so that every versioned type of the crate is linked into it.
#[cfg(test)]
mod wire_versions {
    #[test]
    fn persisted_types_match_their_versions() {
        testbed::versioned::check!();
    }
}
