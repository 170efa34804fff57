//! [`RetryHistory`]: the attempts a retry made, and its own failure.

use std::error::Error;

use serde_json::Value;

use crate::detail::RetryAttempt;
use crate::failure::Failure;

/// The history of a retry, as [`Storage::get_retry_history`](crate::Storage::get_retry_history)
/// returns it: one entry per attempt (the retry's decision and the failures it saw), and
/// the failure of the retry itself, if it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryHistory {
    attempts: Vec<RetryAttempt>,
    failure: Option<Failure>,
}

impl RetryHistory {
    pub(crate) fn new(attempts: Vec<RetryAttempt>, failure: Option<Failure>) -> Self {
        RetryHistory { attempts, failure }
    }

    /// The attempts, oldest first.
    pub fn attempts(&self) -> &[RetryAttempt] {
        &self.attempts
    }

    /// How many attempts were made.
    pub fn len(&self) -> usize {
        self.attempts.len()
    }

    /// Whether no attempt was made.
    pub fn is_empty(&self) -> bool {
        self.attempts.is_empty()
    }

    /// What the retry decided at each attempt, oldest first.
    pub fn provided(&self) -> impl Iterator<Item = &Value> {
        self.attempts.iter().map(|attempt| &attempt.result)
    }

    /// The failure of the retry itself.
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    /// Whether an error of type `E` caused a failure in some attempt, or, with
    /// `include_retry`, the retry's own failure.
    pub fn caused_by<E: Error + 'static>(&self, include_retry: bool) -> bool {
        let own = include_retry.then_some(self.failure.as_ref()).flatten();
        own.into_iter()
            .chain(
                self.attempts
                    .iter()
                    .flat_map(|attempt| attempt.failures.values()),
            )
            .any(Failure::check::<E>)
    }
}
