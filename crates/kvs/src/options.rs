//! The named options a region passes to its backend's factory.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::str::FromStr;

use crate::error::KvsError;

/// Options for a backend, by name, as text (`url`, `prefix`, ...).
///
/// A factory takes the options it knows; one left over fails the build with
/// [`KvsError::UnknownOption`], so a misspelt option is never silently ignored.
///
/// ```
/// use kvs::BackendOptions;
///
/// let mut options = BackendOptions::new().with("timeout_ms", 250);
/// assert_eq!(options.take::<u64>("timeout_ms").unwrap(), Some(250));
/// assert_eq!(options.take::<u64>("absent").unwrap(), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendOptions {
    backend: String,
    values: BTreeMap<String, String>,
    asked: BTreeSet<String>,
}

impl BackendOptions {
    /// No options.
    pub fn new() -> Self {
        BackendOptions::default()
    }

    /// These options with `name` set to `value`.
    pub fn with(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.insert(name, value);
        self
    }

    /// Sets `name` to `value`, replacing any earlier value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl ToString) {
        self.values.insert(name.into(), value.to_string());
    }

    /// Takes option `name` as text.
    pub fn take_str(&mut self, name: &str) -> Option<String> {
        self.asked.insert(name.to_owned());
        self.values.remove(name)
    }

    /// Takes option `name` and parses it; a value that does not parse is
    /// [`KvsError::InvalidOption`].
    pub fn take<T>(&mut self, name: &str) -> Result<Option<T>, KvsError>
    where
        T: FromStr,
        T::Err: Display,
    {
        let Some(text) = self.take_str(name) else {
            return Ok(None);
        };
        text.parse()
            .map(Some)
            .map_err(|error: T::Err| self.invalid(name, error.to_string()))
    }

    /// An [`KvsError::InvalidOption`] for option `name` of this backend.
    pub fn invalid(&self, name: &str, reason: impl Into<String>) -> KvsError {
        KvsError::InvalidOption {
            backend: self.backend.clone(),
            option: name.to_owned(),
            reason: reason.into(),
        }
    }

    /// The registered name of the backend these options are for.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    pub(crate) fn for_backend(mut self, backend: &str) -> Self {
        backend.clone_into(&mut self.backend);
        self
    }

    /// Fails on the first option the factory did not take.
    pub(crate) fn ensure_all_taken(&self) -> Result<(), KvsError> {
        match self.values.keys().next() {
            None => Ok(()),
            Some(option) => Err(KvsError::UnknownOption {
                backend: self.backend.clone(),
                option: option.clone(),
                known: self.asked.iter().cloned().collect(),
            }),
        }
    }
}
