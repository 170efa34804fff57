//! The errors of storage and of its persistence backends.

use crate::detail::AtomKind;
use crate::state::State;

/// Why a [`Storage`](crate::Storage) call failed.
///
/// Several variants mean "not found" in the sense of taskflow's `NotFound`:
/// [`is_not_found`](StorageError::is_not_found) groups them.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No atom of that name was added to the flow.
    #[error("find atom `{name}` (hint: add it with `Storage::ensure_atom` first)")]
    UnknownAtom {
        /// The atom asked for.
        name: String,
    },
    /// An atom of that name exists with another kind.
    #[error("add atom detail `{name}` as a {requested}: it already exists as a {existing}")]
    Duplicate {
        /// The atom's name.
        name: String,
        /// The kind it was stored as.
        existing: AtomKind,
        /// The kind asked for.
        requested: AtomKind,
    },
    /// The atom is of another kind than the call needs (retry history of a task, say).
    #[error("use atom `{name}` as a {expected}: it is a {kind}")]
    WrongKind {
        /// The atom's name.
        name: String,
        /// Its kind.
        kind: AtomKind,
        /// The kind the call needs.
        expected: AtomKind,
    },
    /// Nothing provides that name: no atom declares it and nothing injected it.
    #[error("fetch `{name}`: no atom or injection provides it")]
    NotMapped {
        /// The name asked for.
        name: String,
    },
    /// Providers of the name exist, but none has a result holding it (not run yet, failed,
    /// or its result is too short or lacks the key).
    #[error("fetch `{name}`: none of its providers ({}) has it now", providers.join(", "))]
    ResultNotFound {
        /// The name asked for.
        name: String,
        /// The atoms that declare the name.
        providers: Vec<String>,
    },
    /// The atom has no result to give in its current state.
    #[error("read the result of atom `{name}`: it has none in state `{state}`")]
    ResultNotAvailable {
        /// The atom's name.
        name: String,
        /// Its state.
        state: State,
    },
    /// An argument an atom needs has no provider that can give it.
    #[error("fetch argument `{argument}` bound to `{name}`: no accessible provider has it")]
    ArgumentNotFound {
        /// The argument's name.
        argument: String,
        /// The provided name it is bound to.
        name: String,
    },
    /// The persistence backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl StorageError {
    /// Whether this is a "not found" error: an unknown atom or name, or a result that is
    /// not there.
    ///
    /// ```
    /// use flowstore::{FlowDetail, Storage};
    ///
    /// let storage = Storage::new(FlowDetail::new("flow"));
    /// assert!(storage.fetch("missing").unwrap_err().is_not_found());
    /// ```
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            StorageError::UnknownAtom { .. }
                | StorageError::NotMapped { .. }
                | StorageError::ResultNotFound { .. }
                | StorageError::ResultNotAvailable { .. }
                | StorageError::ArgumentNotFound { .. }
        )
    }
}

/// Why a persistence [`Backend`](crate::Backend) failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The URL names no database this crate can talk to.
    #[error(
        "open a database of scheme `{scheme}` (hint: use a `sqlite:`, `postgres:` or `mysql:` URL)"
    )]
    UnsupportedUrl {
        /// The scheme given.
        scheme: String,
    },
    /// No flow of that uuid is stored.
    #[error("load flow `{uuid}`: it is not stored in this backend")]
    FlowNotFound {
        /// The flow asked for.
        uuid: String,
    },
    /// A stored value could not be read back.
    #[error("read the {what} of stored {record}: {reason}")]
    Corrupt {
        /// The record whose row is bad: atom `name` or flow `uuid`.
        record: String,
        /// Which field.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A value could not be written as JSON.
    #[error("encode the {what} as JSON")]
    Encode {
        /// Which field.
        what: &'static str,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The database refused a query or could not be reached.
    #[error("query the flowstore database")]
    Sql(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("migrate the flowstore schema")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The runtime that drives the database connections could not start.
    #[error("start the runtime that drives database connections")]
    Runtime(#[source] std::io::Error),
}
