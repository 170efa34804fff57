//! Adding atoms and reading or changing their identity, state, intention and metadata.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::Storage;
use super::providers::{Provider, Source};
use crate::atom::Atom;
use crate::detail::{AtomDetail, new_uuid};
use crate::error::StorageError;
use crate::state::{Intention, State};

impl Storage {
    /// Adds `atom` to the flow unless an atom of that name is there, and registers the
    /// names its result provides. Returns the atom's uuid.
    ///
    /// Safe to call from many threads for the same atom: exactly one is created.
    pub fn ensure_atom(&self, atom: &Atom) -> Result<String, StorageError> {
        let mut inner = self.lock();
        let uuid = match inner.flow.find_by_name(atom.name()) {
            Some(existing) if existing.kind != atom.kind() => {
                return Err(StorageError::Duplicate {
                    name: atom.name().to_owned(),
                    existing: existing.kind,
                    requested: atom.kind(),
                });
            }
            Some(existing) if existing.version == atom.version() => existing.uuid.clone(),
            Some(_) => self.commit_atom(&mut inner, atom.name(), |detail| {
                detail.version = atom.version().to_owned();
                detail.uuid.clone()
            })?,
            None => {
                let mut detail = AtomDetail::new(atom.name(), new_uuid(), atom.kind());
                detail.version = atom.version().to_owned();
                let uuid = detail.uuid.clone();
                self.commit_new_atom(&mut inner, detail)?;
                uuid
            }
        };
        for (name, index) in atom.provides().mapping() {
            let provider = Provider {
                source: Source::Atom(atom.name().to_owned()),
                index: index.clone(),
            };
            inner.providers.add(name, provider);
        }
        Ok(uuid)
    }

    /// The uuid of the atom named `name`.
    pub fn get_atom_uuid(&self, name: &str) -> Result<String, StorageError> {
        Ok(self.lock().atom(name)?.uuid.clone())
    }

    /// The state of the atom named `name`.
    pub fn get_atom_state(&self, name: &str) -> Result<State, StorageError> {
        Ok(self.lock().atom(name)?.state)
    }

    /// Sets the state of the atom named `name`.
    pub fn set_atom_state(&self, name: &str, state: State) -> Result<(), StorageError> {
        self.update_atom(name, |atom| atom.state = state)
    }

    /// What the engine means to do next with the atom named `name`.
    pub fn get_atom_intention(&self, name: &str) -> Result<Intention, StorageError> {
        Ok(self.lock().atom(name)?.intention)
    }

    /// Sets what the engine means to do next with the atom named `name`.
    pub fn set_atom_intention(&self, name: &str, intention: Intention) -> Result<(), StorageError> {
        self.update_atom(name, |atom| atom.intention = intention)
    }

    /// The state and intention of each named atom.
    pub fn get_atoms_states<S: AsRef<str>>(
        &self,
        names: impl IntoIterator<Item = S>,
    ) -> Result<BTreeMap<String, (State, Intention)>, StorageError> {
        let inner = self.lock();
        names
            .into_iter()
            .map(|name| {
                let atom = inner.atom(name.as_ref())?;
                Ok((atom.name.clone(), (atom.state, atom.intention)))
            })
            .collect()
    }

    /// Merges `update` into the metadata of the atom named `name`; an empty update
    /// changes and writes nothing.
    pub fn update_atom_metadata(
        &self,
        name: &str,
        update: Map<String, Value>,
    ) -> Result<(), StorageError> {
        if update.is_empty() {
            self.lock().atom(name)?;
            return Ok(());
        }
        self.update_atom(name, |atom| atom.meta.extend(update))
    }

    /// Forgets every result and failure of the atom named `name` and makes it pending,
    /// to run again.
    pub fn reset(&self, name: &str) -> Result<(), StorageError> {
        let mut inner = self.lock();
        self.commit_atom(&mut inner, name, |atom| atom.reset(State::Pending))?;
        inner.failures.remove(name);
        inner.revert_failures.remove(name);
        Ok(())
    }
}
