//! The states a flow or an atom goes through, and what an atom is meant to do next.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::parse::ParseError;

/// Where a flow or an atom is in its life.
///
/// Stored as its upper-case name (`PENDING`, `REVERT_FAILURE`), which [`Display`](fmt::Display)
/// and [`FromStr`] produce and read.
///
/// ```
/// use flowstore::State;
///
/// assert_eq!(State::RevertFailure.to_string(), "REVERT_FAILURE");
/// assert_eq!("SUCCESS".parse::<State>().unwrap(), State::Success);
/// ```
#[cfg_attr(
    test,
    derive(testbed::versioned::Versioned),
    versioned(version = "1.0")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Not started yet (the initial state).
    #[default]
    Pending,
    /// Running now.
    Running,
    /// Finished with a result.
    Success,
    /// Finished with a failure.
    Failure,
    /// Undoing what it did.
    Reverting,
    /// Undone.
    Reverted,
    /// Undoing it failed.
    RevertFailure,
    /// A retry is deciding what to do after a failure below it.
    Retrying,
    /// Skipped on purpose.
    Ignore,
    /// A flow paused by its engine, to be resumed.
    Suspended,
    /// A flow being resumed.
    Resuming,
}

impl State {
    const ALL: [State; 11] = [
        State::Pending,
        State::Running,
        State::Success,
        State::Failure,
        State::Reverting,
        State::Reverted,
        State::RevertFailure,
        State::Retrying,
        State::Ignore,
        State::Suspended,
        State::Resuming,
    ];

    /// The stored name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "PENDING",
            State::Running => "RUNNING",
            State::Success => "SUCCESS",
            State::Failure => "FAILURE",
            State::Reverting => "REVERTING",
            State::Reverted => "REVERTED",
            State::RevertFailure => "REVERT_FAILURE",
            State::Retrying => "RETRYING",
            State::Ignore => "IGNORE",
            State::Suspended => "SUSPENDED",
            State::Resuming => "RESUMING",
        }
    }

    /// Whether saving in this state records the outcome of reverting (rather than of
    /// executing) the atom.
    pub fn is_revert_outcome(self) -> bool {
        matches!(self, State::Reverted | State::RevertFailure)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        State::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| ParseError::new("state", text))
    }
}

/// What the engine means to do with an atom next.
///
/// ```
/// use flowstore::Intention;
///
/// assert_eq!(Intention::default(), Intention::Execute);
/// assert_eq!("RETRY".parse::<Intention>().unwrap(), Intention::Retry);
/// ```
#[cfg_attr(
    test,
    derive(testbed::versioned::Versioned),
    versioned(version = "1.0")
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Intention {
    /// Run it (the initial intention).
    #[default]
    Execute,
    /// Undo it.
    Revert,
    /// Run its subflow again (for a retry).
    Retry,
    /// Leave it alone.
    Ignore,
}

impl Intention {
    const ALL: [Intention; 4] = [
        Intention::Execute,
        Intention::Revert,
        Intention::Retry,
        Intention::Ignore,
    ];

    /// The stored name of the intention.
    pub fn as_str(self) -> &'static str {
        match self {
            Intention::Execute => "EXECUTE",
            Intention::Revert => "REVERT",
            Intention::Retry => "RETRY",
            Intention::Ignore => "IGNORE",
        }
    }
}

impl fmt::Display for Intention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Intention {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Intention::ALL
            .into_iter()
            .find(|intention| intention.as_str() == text)
            .ok_or_else(|| ParseError::new("intention", text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_and_intention_round_trips_through_its_name() {
        for state in State::ALL {
            assert_eq!(state.as_str().parse::<State>().unwrap(), state);
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{state}\""));
        }
        for intention in Intention::ALL {
            assert_eq!(intention.as_str().parse::<Intention>().unwrap(), intention);
        }
        assert!("DONE".parse::<State>().is_err());
    }
}
