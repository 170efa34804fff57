//! [`Outcome`]: what an atom produced, a value or a failure.

use serde_json::Value;

use crate::failure::Failure;

/// What an atom produced when it ran or was reverted: a value, or the failure it raised.
///
/// ```
/// use flowstore::Outcome;
/// use serde_json::json;
///
/// let outcome = Outcome::from(json!(5));
/// assert_eq!(outcome.value(), Some(&json!(5)));
/// assert!(outcome.failure().is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The value it returned.
    Value(Value),
    /// The failure it raised.
    Failure(Failure),
}

impl Outcome {
    /// The value, if this is one.
    pub fn value(&self) -> Option<&Value> {
        match self {
            Outcome::Value(value) => Some(value),
            Outcome::Failure(_) => None,
        }
    }

    /// The failure, if this is one.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Outcome::Value(_) => None,
            Outcome::Failure(failure) => Some(failure),
        }
    }
}

impl From<Value> for Outcome {
    fn from(value: Value) -> Self {
        Outcome::Value(value)
    }
}

impl From<Failure> for Outcome {
    fn from(failure: Failure) -> Self {
        Outcome::Failure(failure)
    }
}
