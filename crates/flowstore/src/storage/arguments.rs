//! Reading values by provided name, injecting values, and gathering the arguments an
//! atom needs.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::Storage;
use super::handle::{INJECTOR_NAME, Inner, injector_provider};
use super::providers::{Provider, Source, extract};
use super::results::EXECUTE_STATES_WITH_RESULTS;
use crate::atom::ResultIndex;
use crate::detail::{AtomDetail, AtomKind};
use crate::error::StorageError;
use crate::state::State;

/// Metadata key of the arguments injected persistently into one atom.
const INJECTED: &str = "injected";

/// Argument name → the provided name it is fetched from.
pub type ArgsMapping = BTreeMap<String, String>;

impl Storage {
    /// The value provided under `name`: by an atom's result (declared with
    /// [`Atom::with_provides`](crate::Atom::with_provides)) or by an injection. Providers
    /// are searched in the order they were registered, transient injections first.
    pub fn fetch(&self, name: &str) -> Result<Value, StorageError> {
        self.lock().fetch(name)
    }

    /// Every provided value that is available now, by name.
    pub fn fetch_all(&self) -> Map<String, Value> {
        let inner = self.lock();
        inner
            .providers
            .names()
            .filter_map(|name| Some((name.to_owned(), inner.fetch(name).ok()?)))
            .collect()
    }

    /// Injects values into the whole flow, persisted with it (in the injector atom,
    /// [`INJECTOR_NAME`]).
    pub fn inject<K: Into<String>>(
        &self,
        pairs: impl IntoIterator<Item = (K, Value)>,
    ) -> Result<(), StorageError> {
        let pairs: Vec<(String, Value)> = pairs
            .into_iter()
            .map(|(name, value)| (name.into(), value))
            .collect();
        let mut inner = self.lock();
        let add_pairs = |injector: &mut AtomDetail| {
            let injected = injector
                .result
                .get_or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(injected) = injected {
                injected.extend(pairs.iter().cloned());
            }
        };
        if inner.flow.find_by_name(INJECTOR_NAME).is_some() {
            self.commit_atom(&mut inner, INJECTOR_NAME, add_pairs)?;
        } else {
            let mut injector =
                AtomDetail::new(INJECTOR_NAME, crate::detail::new_uuid(), AtomKind::Task);
            injector.state = State::Success;
            add_pairs(&mut injector);
            self.commit_new_atom(&mut inner, injector)?;
        }
        for (name, _) in &pairs {
            inner.providers.add(name, injector_provider(name));
        }
        Ok(())
    }

    /// Injects values into the whole flow for this storage's life only: they are never
    /// persisted, and take precedence over persisted values of the same name.
    pub fn inject_transient<K: Into<String>>(&self, pairs: impl IntoIterator<Item = (K, Value)>) {
        let mut inner = self.lock();
        for (name, value) in pairs {
            let name = name.into();
            let provider = Provider {
                source: Source::Transient,
                index: ResultIndex::Key(name.clone()),
            };
            inner.providers.add(&name, provider);
            inner.transient.insert(name, value);
        }
    }

    /// Injects arguments into the atom named `atom_name` only, persisted with it.
    pub fn inject_atom_args<K: Into<String>>(
        &self,
        atom_name: &str,
        pairs: impl IntoIterator<Item = (K, Value)>,
    ) -> Result<(), StorageError> {
        self.update_atom(atom_name, |atom| {
            let injected = atom
                .meta
                .entry(INJECTED)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(injected) = injected {
                injected.extend(pairs.into_iter().map(|(name, value)| (name.into(), value)));
            }
        })
    }

    /// Injects arguments into the atom named `atom_name` for this storage's life only;
    /// they take precedence over its persisted ones.
    pub fn inject_atom_args_transient<K: Into<String>>(
        &self,
        atom_name: &str,
        pairs: impl IntoIterator<Item = (K, Value)>,
    ) -> Result<(), StorageError> {
        let mut inner = self.lock();
        inner.atom(atom_name)?;
        inner
            .transient_atom_args
            .entry(atom_name.to_owned())
            .or_default()
            .extend(pairs.into_iter().map(|(name, value)| (name.into(), value)));
        Ok(())
    }

    /// The arguments of `mapping`, each fetched from the name it is bound to: first from
    /// the arguments injected into `atom_name` (if given), then from the flow's providers.
    /// An argument listed in `optional` that cannot be found is left out; any other is an
    /// error.
    pub fn fetch_mapped_args(
        &self,
        mapping: &ArgsMapping,
        atom_name: Option<&str>,
        optional: &[&str],
    ) -> Result<Map<String, Value>, StorageError> {
        let inner = self.lock();
        let injected = inner.injected_args(atom_name)?;
        let mut args = Map::new();
        for (argument, name) in mapping {
            let found = injected
                .iter()
                .find_map(|source| source.get(name).cloned())
                .map_or_else(|| inner.fetch(name), Ok);
            match found {
                Ok(value) => {
                    args.insert(argument.clone(), value);
                }
                Err(_) if optional.contains(&argument.as_str()) => {}
                Err(_) => {
                    return Err(StorageError::ArgumentNotFound {
                        argument: argument.clone(),
                        name: name.clone(),
                    });
                }
            }
        }
        Ok(args)
    }

    /// The arguments of `mapping` that nothing could provide to the atom named
    /// `atom_name`: not injected into it, and with no provider of their bound name.
    /// Arguments listed in `optional` are never missing.
    pub fn fetch_unsatisfied_args(
        &self,
        atom_name: &str,
        mapping: &ArgsMapping,
        optional: &[&str],
    ) -> Result<BTreeSet<String>, StorageError> {
        let inner = self.lock();
        let injected = inner.injected_args(Some(atom_name))?;
        Ok(mapping
            .iter()
            .filter(|(argument, name)| {
                !optional.contains(&argument.as_str())
                    && !injected
                        .iter()
                        .any(|source| source.contains_key(name.as_str()))
                    && inner.providers.of(name).is_none()
            })
            .map(|(argument, _)| argument.clone())
            .collect())
    }
}

impl Inner {
    /// The value provided under `name`, from the first provider that has it.
    pub(super) fn fetch(&self, name: &str) -> Result<Value, StorageError> {
        let providers = self
            .providers
            .of(name)
            .ok_or_else(|| StorageError::NotMapped {
                name: name.to_owned(),
            })?;
        let transient_first = providers
            .iter()
            .filter(|provider| provider.source == Source::Transient)
            .chain(
                providers
                    .iter()
                    .filter(|provider| provider.source != Source::Transient),
            );
        for provider in transient_first {
            if let Some(value) = self.provided(provider) {
                return Ok(value.clone());
            }
        }
        Err(StorageError::ResultNotFound {
            name: name.to_owned(),
            providers: providers.iter().map(Provider::describe).collect(),
        })
    }

    /// What `provider` provides now, if it has it: a failed or unfinished atom, or a
    /// result without the item or key, provides nothing.
    fn provided(&self, provider: &Provider) -> Option<&Value> {
        let result = match &provider.source {
            Source::Transient => return extract_transient(&self.transient, &provider.index),
            Source::Atom(name) => {
                let atom = self.flow.find_by_name(name)?;
                if atom.failure.is_some() || !EXECUTE_STATES_WITH_RESULTS.contains(&atom.state) {
                    return None;
                }
                atom.latest_result()?
            }
        };
        extract(result, &provider.index)
    }

    /// The argument sources of `atom_name`, in precedence order: its transient arguments,
    /// then its persisted ones. None without an atom.
    fn injected_args(
        &self,
        atom_name: Option<&str>,
    ) -> Result<Vec<&Map<String, Value>>, StorageError> {
        let Some(atom_name) = atom_name else {
            return Ok(Vec::new());
        };
        let atom = self.atom(atom_name)?;
        let transient = self.transient_atom_args.get(atom_name);
        let persisted = atom.meta.get(INJECTED).and_then(Value::as_object);
        Ok(transient.into_iter().chain(persisted).collect())
    }
}

fn extract_transient<'a>(
    transient: &'a Map<String, Value>,
    index: &ResultIndex,
) -> Option<&'a Value> {
    match index {
        ResultIndex::Key(key) => transient.get(key),
        ResultIndex::Whole | ResultIndex::Position(_) => None,
    }
}
