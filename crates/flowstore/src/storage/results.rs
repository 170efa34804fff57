//! Saving and reading what atoms produced: results, failures, revert outcomes and retry
//! histories.

use std::collections::BTreeMap;

use super::handle::Inner;
use super::{Outcome, RetryHistory, Storage};
use crate::detail::{AtomDetail, AtomKind, RetryAttempt};
use crate::error::StorageError;
use crate::failure::Failure;
use crate::state::State;

/// The states in which an atom's execute outcome can be read.
pub(super) const EXECUTE_STATES_WITH_RESULTS: [State; 4] = [
    State::Success,
    State::Failure,
    State::Retrying,
    State::Reverting,
];
/// The states in which an atom's revert outcome can be read.
const REVERT_STATES_WITH_RESULTS: [State; 2] = [State::Reverted, State::RevertFailure];

impl Storage {
    /// Saves what the atom named `name` produced, in state [`State::Success`].
    pub fn save(&self, name: &str, outcome: impl Into<Outcome>) -> Result<(), StorageError> {
        self.save_with_state(name, outcome, State::Success)
    }

    /// Saves what the atom named `name` produced and sets its state. In
    /// [`State::Reverted`] or [`State::RevertFailure`] the outcome is that of reverting
    /// it; otherwise that of executing it (for a retry, a value becomes a new attempt in
    /// its history).
    pub fn save_with_state(
        &self,
        name: &str,
        outcome: impl Into<Outcome>,
        state: State,
    ) -> Result<(), StorageError> {
        let outcome = outcome.into();
        let mut inner = self.lock();
        let live_failure = self.commit_atom(&mut inner, name, |atom| {
            atom.state = state;
            if state.is_revert_outcome() {
                save_revert_outcome(atom, outcome)
            } else {
                save_execute_outcome(atom, outcome)
            }
        })?;
        let cache = if state.is_revert_outcome() {
            &mut inner.revert_failures
        } else {
            &mut inner.failures
        };
        match live_failure {
            Some(failure) => cache.insert(name.to_owned(), failure),
            None => cache.remove(name),
        };
        Ok(())
    }

    /// What executing the atom named `name` produced: its failure if it failed (even once
    /// reverted), else its result, which only a finished atom has.
    pub fn get(&self, name: &str) -> Result<Outcome, StorageError> {
        let inner = self.lock();
        let atom = inner.atom(name)?;
        if let Some(failure) = inner.failures.get(name).or(atom.failure.as_ref()) {
            return Ok(Outcome::Failure(failure.clone()));
        }
        available_result(atom, &EXECUTE_STATES_WITH_RESULTS, atom.latest_result())
    }

    /// What reverting the atom named `name` produced.
    pub fn get_revert_result(&self, name: &str) -> Result<Outcome, StorageError> {
        let inner = self.lock();
        let atom = inner.atom(name)?;
        if let Some(failure) = inner
            .revert_failures
            .get(name)
            .or(atom.revert_failure.as_ref())
        {
            return Ok(Outcome::Failure(failure.clone()));
        }
        available_result(
            atom,
            &REVERT_STATES_WITH_RESULTS,
            atom.revert_result.as_ref(),
        )
    }

    /// The failure of executing each atom that failed, by atom name.
    pub fn get_failures(&self) -> BTreeMap<String, Failure> {
        let inner = self.lock();
        inner
            .flow
            .atoms()
            .iter()
            .filter_map(|atom| Some((atom.name.clone(), inner.failure_of(atom)?.clone())))
            .collect()
    }

    /// Whether some atom failed.
    pub fn has_failures(&self) -> bool {
        let inner = self.lock();
        inner.flow.atoms().iter().any(|atom| atom.failure.is_some())
    }

    /// Drops the live errors kept with failures: failures read afterwards are their
    /// persisted form, as a resumed flow would read them, and the errors' memory is freed.
    pub fn clear_failure_cache(&self) {
        let mut inner = self.lock();
        inner.failures.clear();
        inner.revert_failures.clear();
    }

    /// The history of the retry named `name`.
    pub fn get_retry_history(&self, name: &str) -> Result<RetryHistory, StorageError> {
        let inner = self.lock();
        let atom = inner.atom_of_kind(name, AtomKind::Retry)?;
        Ok(RetryHistory::new(
            atom.history.clone(),
            inner.failure_of(atom).cloned(),
        ))
    }

    /// Empties the history of the retry named `name` and sets its state, as when the
    /// retry's subflow is reverted to start over.
    pub fn cleanup_retry_history(&self, name: &str, state: State) -> Result<(), StorageError> {
        let mut inner = self.lock();
        inner.atom_of_kind(name, AtomKind::Retry)?;
        self.commit_atom(&mut inner, name, |atom| {
            atom.state = state;
            atom.history.clear();
        })
    }
}

impl Inner {
    /// An atom's execute failure, live if this storage still has it.
    pub(super) fn failure_of<'a>(&'a self, atom: &'a AtomDetail) -> Option<&'a Failure> {
        atom.failure.as_ref()?;
        self.failures.get(&atom.name).or(atom.failure.as_ref())
    }
}

/// Records an execute outcome in `atom`; returns the live failure to cache, if any.
fn save_execute_outcome(atom: &mut AtomDetail, outcome: Outcome) -> Option<Failure> {
    match outcome {
        Outcome::Value(value) => {
            match atom.kind {
                AtomKind::Task => atom.result = Some(value),
                AtomKind::Retry => atom.history.push(RetryAttempt::new(value)),
            }
            atom.failure = None;
            None
        }
        Outcome::Failure(failure) => {
            if atom.kind == AtomKind::Task {
                atom.result = None;
            }
            atom.failure = Some(failure.persisted());
            Some(failure)
        }
    }
}

/// Records a revert outcome in `atom`; returns the live failure to cache, if any.
fn save_revert_outcome(atom: &mut AtomDetail, outcome: Outcome) -> Option<Failure> {
    match outcome {
        Outcome::Value(value) => {
            atom.revert_result = Some(value);
            atom.revert_failure = None;
            None
        }
        Outcome::Failure(failure) => {
            atom.revert_result = None;
            atom.revert_failure = Some(failure.persisted());
            Some(failure)
        }
    }
}

/// `result` if `atom` is in one of `states` and has it.
fn available_result(
    atom: &AtomDetail,
    states: &[State],
    result: Option<&serde_json::Value>,
) -> Result<Outcome, StorageError> {
    match result {
        Some(value) if states.contains(&atom.state) => Ok(Outcome::Value(value.clone())),
        _ => Err(StorageError::ResultNotAvailable {
            name: atom.name.clone(),
            state: atom.state,
        }),
    }
}
