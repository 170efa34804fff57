//! The persisted records: a [`FlowDetail`] and the [`AtomDetail`]s of its tasks and
//! retries.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::failure::Failure;
use crate::parse::ParseError;
use crate::state::{Intention, State};

/// The state of one flow: its identity, metadata, state and atoms.
///
/// ```
/// use flowstore::{AtomDetail, AtomKind, FlowDetail, State};
///
/// let mut flow = FlowDetail::new("deploy");
/// assert_eq!(flow.state, State::Pending);
/// flow.add(AtomDetail::new("build", "42", AtomKind::Task));
/// assert_eq!(flow.find("42").unwrap().name, "build");
/// assert_eq!(flow.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FlowDetail {
    /// The flow's name.
    pub name: String,
    /// The flow's unique id.
    pub uuid: String,
    /// Free-form metadata.
    pub meta: Map<String, Value>,
    /// Where the flow is in its life.
    pub state: State,
    atoms: Vec<AtomDetail>,
}

impl FlowDetail {
    /// A pending flow with a fresh uuid and no atoms.
    pub fn new(name: impl Into<String>) -> Self {
        FlowDetail::with_uuid(name, new_uuid())
    }

    /// A pending flow with the given uuid and no atoms.
    pub fn with_uuid(name: impl Into<String>, uuid: impl Into<String>) -> Self {
        FlowDetail {
            name: name.into(),
            uuid: uuid.into(),
            meta: Map::new(),
            state: State::Pending,
            atoms: Vec::new(),
        }
    }

    /// Adds an atom, replacing the one with the same uuid if there is one.
    pub fn add(&mut self, atom: AtomDetail) {
        match self.atoms.iter_mut().find(|known| known.uuid == atom.uuid) {
            Some(known) => *known = atom,
            None => self.atoms.push(atom),
        }
    }

    /// The atom with this uuid.
    pub fn find(&self, uuid: &str) -> Option<&AtomDetail> {
        self.atoms.iter().find(|atom| atom.uuid == uuid)
    }

    /// The atom with this name.
    pub fn find_by_name(&self, name: &str) -> Option<&AtomDetail> {
        self.atoms.iter().find(|atom| atom.name == name)
    }

    pub(crate) fn atoms_mut(&mut self) -> &mut [AtomDetail] {
        &mut self.atoms
    }

    /// The atoms, in the order they were added.
    pub fn atoms(&self) -> &[AtomDetail] {
        &self.atoms
    }

    /// How many atoms the flow has.
    pub fn len(&self) -> usize {
        self.atoms.len()
    }

    /// Whether the flow has no atoms.
    pub fn is_empty(&self) -> bool {
        self.atoms.is_empty()
    }
}

/// Whether an atom is a task (runs once, may be reverted) or a retry (decides whether
/// its subflow runs again, and keeps the history of its attempts).
///
/// ```
/// use flowstore::AtomKind;
///
/// assert_eq!("retry".parse::<AtomKind>().unwrap(), AtomKind::Retry);
/// assert!("some_detail".parse::<AtomKind>().unwrap_err().to_string().contains("atom kind `some_detail`"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AtomKind {
    /// A task.
    Task,
    /// A retry.
    Retry,
}

impl AtomKind {
    /// The stored name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            AtomKind::Task => "task",
            AtomKind::Retry => "retry",
        }
    }
}

impl fmt::Display for AtomKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AtomKind {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "task" => Ok(AtomKind::Task),
            "retry" => Ok(AtomKind::Retry),
            other => Err(ParseError::new("atom kind", other)),
        }
    }
}

/// One attempt of a retry: the value it decided on, and the failures of the atoms it
/// governs during that attempt, by atom name.
#[cfg_attr(
    test,
    derive(testbed::versioned::Versioned),
    versioned(version = "1.1", backport)
)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryAttempt {
    /// What the retry returned.
    pub result: Value,
    /// The failures of that attempt, by atom name.
    pub failures: BTreeMap<String, Failure>,
}

impl RetryAttempt {
    /// An attempt with no failures recorded yet.
    pub fn new(result: Value) -> Self {
        RetryAttempt {
            result,
            failures: BTreeMap::new(),
        }
    }
}

/// The persisted state of one atom (a task or a retry) of a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct AtomDetail {
    /// The atom's name, unique in its flow.
    pub name: String,
    /// The atom's unique id.
    pub uuid: String,
    /// Task or retry.
    pub kind: AtomKind,
    /// The version of the atom's code that ran.
    pub version: String,
    /// Where the atom is in its life.
    pub state: State,
    /// What the engine means to do with it next.
    pub intention: Intention,
    /// Free-form metadata: progress, arguments injected for this atom.
    pub meta: Map<String, Value>,
    /// A task's result, once it succeeded.
    pub result: Option<Value>,
    /// A retry's attempts, oldest first.
    pub history: Vec<RetryAttempt>,
    /// The failure of executing the atom.
    pub failure: Option<Failure>,
    /// The result of reverting the atom.
    pub revert_result: Option<Value>,
    /// The failure of reverting the atom.
    pub revert_failure: Option<Failure>,
}

impl AtomDetail {
    /// A pending atom, version `1.0`, with nothing saved yet.
    pub fn new(name: impl Into<String>, uuid: impl Into<String>, kind: AtomKind) -> Self {
        AtomDetail {
            name: name.into(),
            uuid: uuid.into(),
            kind,
            version: "1.0".to_owned(),
            state: State::Pending,
            intention: Intention::Execute,
            meta: Map::new(),
            result: None,
            history: Vec::new(),
            failure: None,
            revert_result: None,
            revert_failure: None,
        }
    }

    /// The atom's current result: a task's result, or a retry's latest decision.
    pub fn latest_result(&self) -> Option<&Value> {
        match self.kind {
            AtomKind::Task => self.result.as_ref(),
            AtomKind::Retry => self.history.last().map(|attempt| &attempt.result),
        }
    }

    /// Forgets every outcome and sets `state`, with the intention back to execute.
    pub(crate) fn reset(&mut self, state: State) {
        self.state = state;
        self.intention = Intention::Execute;
        self.result = None;
        self.history.clear();
        self.failure = None;
        self.revert_result = None;
        self.revert_failure = None;
    }
}

/// A new random (version 4) uuid, as text.
pub(crate) fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A retry attempt for a 1.0 peer holds its failures in their 1.0 form (`Failure` 1.1
/// added `causes`).
#[cfg(test)]
impl testbed::versioned::Backport for RetryAttempt {
    fn samples() -> Vec<Self> {
        let mut attempt = RetryAttempt::new(Value::from(2));
        attempt.failures.insert(
            "charge".into(),
            Failure::new(vec!["E".into()], "declined", "").with_causes(vec!["card expired".into()]),
        );
        vec![attempt, RetryAttempt::new(Value::Null)]
    }

    fn backport(mut value: Value, version: testbed::versioned::Version) -> Result<Value, String> {
        if version < (testbed::versioned::Version { major: 1, minor: 1 }) {
            let failures = value
                .get_mut("failures")
                .and_then(Value::as_object_mut)
                .ok_or("an attempt has failures")?;
            for failure in failures.values_mut() {
                *failure =
                    <Failure as testbed::versioned::Backport>::backport(failure.take(), version)?;
            }
        }
        Ok(value)
    }
}
