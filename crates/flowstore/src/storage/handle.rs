//! The [`Storage`] handle: the lock around one flow's state, how a storage is built from
//! a flow or a backend, and how changes are written through.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Map, Value};

use super::providers::{Provider, Providers, Source};
use crate::atom::ResultIndex;
use crate::backend::Backend;
use crate::detail::{AtomDetail, AtomKind, FlowDetail};
use crate::error::StorageError;
use crate::failure::Failure;

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
pub(super) struct Inner {
    pub(super) flow: FlowDetail,
    pub(super) providers: Providers,
    /// Live failures, by atom name, of executing and of reverting atoms: the flow holds
    /// their persisted form, which has lost the live error.
    pub(super) failures: HashMap<String, Failure>,
    pub(super) revert_failures: HashMap<String, Failure>,
    /// Values injected into the flow for this storage's life only.
    pub(super) transient: Map<String, Value>,
    /// Arguments injected into single atoms for this storage's life only.
    pub(super) transient_atom_args: HashMap<String, Map<String, Value>>,
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

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        // Each method validates before it changes anything and changes the flow in one
        // step, so state behind a lock poisoned by a panic elsewhere is still consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of the flow as it is now.
    pub fn flow_detail(&self) -> FlowDetail {
        self.lock().flow.clone()
    }
    /// Applies `change` to the atom named `name` and persists it.
    pub(super) fn update_atom(
        &self,
        name: &str,
        change: impl FnOnce(&mut AtomDetail),
    ) -> Result<(), StorageError> {
        let mut inner = self.lock();
        let (position, atom) = inner.atom_mut(name)?;
        change(atom);
        self.persist_atom(&inner, position)
    }

    pub(super) fn persist_flow(&self, flow: &FlowDetail) -> Result<(), StorageError> {
        if let Some(backend) = &self.backend {
            backend.save_flow(flow)?;
        }
        Ok(())
    }

    pub(super) fn persist_atom(&self, inner: &Inner, position: usize) -> Result<(), StorageError> {
        if let Some(backend) = &self.backend {
            backend.save_atom(&inner.flow.uuid, position, &inner.flow.atoms()[position])?;
        }
        Ok(())
    }
}

impl Inner {
    pub(super) fn atom(&self, name: &str) -> Result<&AtomDetail, StorageError> {
        self.flow
            .find_by_name(name)
            .ok_or_else(|| unknown_atom(name))
    }

    /// The atom named `name` and its position in the flow.
    pub(super) fn atom_mut(
        &mut self,
        name: &str,
    ) -> Result<(usize, &mut AtomDetail), StorageError> {
        let position = self
            .flow
            .atoms()
            .iter()
            .position(|atom| atom.name == name)
            .ok_or_else(|| unknown_atom(name))?;
        Ok((position, &mut self.flow.atoms_mut()[position]))
    }

    pub(super) fn atom_of_kind(
        &self,
        name: &str,
        expected: AtomKind,
    ) -> Result<&AtomDetail, StorageError> {
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

pub(super) fn unknown_atom(name: &str) -> StorageError {
    StorageError::UnknownAtom {
        name: name.to_owned(),
    }
}

pub(super) fn injector_provider(name: &str) -> Provider {
    Provider {
        source: Source::Atom(INJECTOR_NAME.to_owned()),
        index: ResultIndex::Key(name.to_owned()),
    }
}
