//! [`Storage`]: the state of one running flow, as an engine reads and writes it: its
//! atoms and their states, results and failures, retry histories, progress and injected
//! arguments, persisted through an optional [`Backend`] on every change.

mod arguments;
mod outcome;
mod progress;
mod providers;
mod results;
mod retry;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Map, Value};

pub use arguments::ArgsMapping;
pub use outcome::Outcome;
pub use progress::ProgressDetails;
pub use retry::RetryHistory;

use crate::atom::{Atom, ResultIndex};
use crate::backend::Backend;
use crate::detail::{AtomDetail, AtomKind, FlowDetail, new_uuid};
use crate::error::StorageError;
use crate::failure::Failure;
use crate::state::{Intention, State};
use providers::{Provider, Providers, Source};

/// The name of the task that holds the values injected into the whole flow. It is an atom
/// like any other, so injected values are persisted and reloaded with the flow.
pub const INJECTOR_NAME: &str = "_flowstore_injector";

/// The state of one flow, shared by the threads of its engine.
///
/// Every method takes `&self` and locks the flow for the duration of the call, writing
/// any change through to the backend before it returns; so many threads can use one
/// `Storage` at once (`Storage` is `Send + Sync`) and each change is all-or-nothing for
/// them. The API is blocking rather than `async`: an engine runs its tasks on threads,
/// and a check-then-create such as [`ensure_atom`](Storage::ensure_atom) is atomic under
/// a plain mutex, with no await point inside it where another caller could slip in. A
/// SQL backend drives its connections on its own small runtime.
///
/// ```
/// use flowstore::{Atom, FlowDetail, Provides, State, Storage};
/// use serde_json::json;
///
/// let storage = Storage::new(FlowDetail::new("resize images"));
/// storage.ensure_atom(&Atom::task("resize").with_provides(Provides::whole("thumbnail")))?;
/// storage.save("resize", json!("thumb.png"))?;
/// assert_eq!(storage.fetch("thumbnail")?, json!("thumb.png"));
/// assert_eq!(storage.get_atom_state("resize")?, State::Success);
/// # Ok::<(), flowstore::StorageError>(())
/// ```
#[derive(Debug)]
pub struct Storage {
    backend: Option<Arc<dyn Backend>>,
    inner: Mutex<Inner>,
}

/// What the lock guards.
#[derive(Debug)]
struct Inner {
    flow: FlowDetail,
    providers: Providers,
    /// Live failures, by atom name, of executing and of reverting atoms: the flow holds
    /// their persisted form, which has lost the live error.
    failures: HashMap<String, Failure>,
    revert_failures: HashMap<String, Failure>,
    /// Values injected into the flow for this storage's life only.
    transient: Map<String, Value>,
    /// Arguments injected into single atoms for this storage's life only.
    transient_atom_args: HashMap<String, Map<String, Value>>,
}

impl Storage {
    /// A storage that persists nothing: everything lives in this value.
    pub fn new(flow: FlowDetail) -> Storage {
        Storage::build(flow, None)
    }

    /// A storage writing through to `backend`. The flow and every atom it already holds
    /// are saved first.
    pub fn with_backend(
        flow: FlowDetail,
        backend: Arc<dyn Backend>,
    ) -> Result<Storage, StorageError> {
        backend.save_flow(&flow)?;
        for (position, atom) in flow.atoms().iter().enumerate() {
            backend.save_atom(&flow.uuid, position, atom)?;
        }
        Ok(Storage::build(flow, Some(backend)))
    }

    /// Resumes flow `uuid` as `backend` persisted it. Values injected transiently, and
    /// the live errors of failures, are not persisted and so are not there.
    pub fn load(backend: Arc<dyn Backend>, uuid: &str) -> Result<Storage, StorageError> {
        let flow = backend.load_flow(uuid)?;
        Ok(Storage::build(flow, Some(backend)))
    }

    fn build(flow: FlowDetail, backend: Option<Arc<dyn Backend>>) -> Storage {
        let mut providers = Providers::default();
        if let Some(injected) = flow
            .find_by_name(INJECTOR_NAME)
            .and_then(|injector| injector.result.as_ref())
            .and_then(Value::as_object)
        {
            for name in injected.keys() {
                providers.add(name, injector_provider(name));
            }
        }
        Storage {
            backend,
            inner: Mutex::new(Inner {
                flow,
                providers,
                failures: HashMap::new(),
                revert_failures: HashMap::new(),
                transient: Map::new(),
                transient_atom_args: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Each method validates before it changes anything and changes the flow in one
        // step, so state behind a lock poisoned by a panic elsewhere is still consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of the flow as it is now.
    pub fn flow_detail(&self) -> FlowDetail {
        self.lock().flow.clone()
    }

    /// The flow's name.
    pub fn flow_name(&self) -> String {
        self.lock().flow.name.clone()
    }

    /// The flow's uuid.
    pub fn flow_uuid(&self) -> String {
        self.lock().flow.uuid.clone()
    }

    /// The flow's metadata.
    pub fn flow_meta(&self) -> Map<String, Value> {
        self.lock().flow.meta.clone()
    }

    /// Merges `update` into the flow's metadata.
    pub fn update_flow_metadata(&self, update: Map<String, Value>) -> Result<(), StorageError> {
        let mut inner = self.lock();
        inner.flow.meta.extend(update);
        self.persist_flow(&inner.flow)
    }

    /// The flow's state.
    pub fn get_flow_state(&self) -> State {
        self.lock().flow.state
    }

    /// Sets the flow's state.
    pub fn set_flow_state(&self, state: State) -> Result<(), StorageError> {
        let mut inner = self.lock();
        inner.flow.state = state;
        self.persist_flow(&inner.flow)
    }

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
            Some(_) => {
                let (position, detail) = inner.atom_mut(atom.name())?;
                detail.version = atom.version().to_owned();
                let uuid = detail.uuid.clone();
                self.persist_atom(&inner, position)?;
                uuid
            }
            None => {
                let mut detail = AtomDetail::new(atom.name(), new_uuid(), atom.kind());
                detail.version = atom.version().to_owned();
                let uuid = detail.uuid.clone();
                inner.flow.add(detail);
                self.persist_atom(&inner, inner.flow.len() - 1)?;
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

    /// Records a task's progress (0 to 1). `details` replaces the details kept with the
    /// progress; empty details erase them, and `None` keeps the last ones.
    pub fn set_task_progress(
        &self,
        name: &str,
        progress: f64,
        details: Option<Map<String, Value>>,
    ) -> Result<(), StorageError> {
        let mut update = Map::new();
        update.insert(progress::PROGRESS.to_owned(), Value::from(progress));
        if let Some(details) = details {
            let kept = if details.is_empty() {
                Value::Null
            } else {
                serde_json::to_value(ProgressDetails {
                    at_progress: progress,
                    details,
                })
                .unwrap_or(Value::Null)
            };
            update.insert(progress::PROGRESS_DETAILS.to_owned(), kept);
        }
        self.update_atom_metadata(name, update)
    }

    /// A task's latest progress; 0 before it reported any.
    pub fn get_task_progress(&self, name: &str) -> Result<f64, StorageError> {
        let inner = self.lock();
        let meta = &inner.atom(name)?.meta;
        Ok(meta
            .get(progress::PROGRESS)
            .and_then(Value::as_f64)
            .unwrap_or(0.0))
    }

    /// The details a task last reported with its progress, if it kept any.
    pub fn get_task_progress_details(
        &self,
        name: &str,
    ) -> Result<Option<ProgressDetails>, StorageError> {
        let inner = self.lock();
        let meta = &inner.atom(name)?.meta;
        Ok(meta
            .get(progress::PROGRESS_DETAILS)
            .and_then(|details| serde_json::from_value(details.clone()).ok()))
    }

    /// Forgets every result and failure of the atom named `name` and makes it pending,
    /// to run again.
    pub fn reset(&self, name: &str) -> Result<(), StorageError> {
        let mut inner = self.lock();
        let (position, atom) = inner.atom_mut(name)?;
        atom.reset(State::Pending);
        inner.failures.remove(name);
        inner.revert_failures.remove(name);
        self.persist_atom(&inner, position)
    }

    /// Applies `change` to the atom named `name` and persists it.
    fn update_atom(
        &self,
        name: &str,
        change: impl FnOnce(&mut AtomDetail),
    ) -> Result<(), StorageError> {
        let mut inner = self.lock();
        let (position, atom) = inner.atom_mut(name)?;
        change(atom);
        self.persist_atom(&inner, position)
    }

    fn persist_flow(&self, flow: &FlowDetail) -> Result<(), StorageError> {
        if let Some(backend) = &self.backend {
            backend.save_flow(flow)?;
        }
        Ok(())
    }

    fn persist_atom(&self, inner: &Inner, position: usize) -> Result<(), StorageError> {
        if let Some(backend) = &self.backend {
            backend.save_atom(&inner.flow.uuid, position, &inner.flow.atoms()[position])?;
        }
        Ok(())
    }
}

impl Inner {
    fn atom(&self, name: &str) -> Result<&AtomDetail, StorageError> {
        self.flow
            .find_by_name(name)
            .ok_or_else(|| unknown_atom(name))
    }

    /// The atom named `name` and its position in the flow.
    fn atom_mut(&mut self, name: &str) -> Result<(usize, &mut AtomDetail), StorageError> {
        let position = self
            .flow
            .atoms()
            .iter()
            .position(|atom| atom.name == name)
            .ok_or_else(|| unknown_atom(name))?;
        Ok((position, &mut self.flow.atoms_mut()[position]))
    }

    fn atom_of_kind(&self, name: &str, expected: AtomKind) -> Result<&AtomDetail, StorageError> {
        let atom = self.atom(name)?;
        if atom.kind != expected {
            return Err(StorageError::WrongKind {
                name: name.to_owned(),
                kind: atom.kind,
                expected,
            });
        }
        Ok(atom)
    }
}

fn unknown_atom(name: &str) -> StorageError {
    StorageError::UnknownAtom {
        name: name.to_owned(),
    }
}

fn injector_provider(name: &str) -> Provider {
    Provider {
        source: Source::Atom(INJECTOR_NAME.to_owned()),
        index: ResultIndex::Key(name.to_owned()),
    }
}
