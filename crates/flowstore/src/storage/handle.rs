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
    /// the live errors of failures, are not persisted and so are not there. Neither are
    /// the names atoms provide, which belong to the engine's flow definition: call
    /// [`ensure_atom`](Storage::ensure_atom) for each atom again, which reuses the stored
    /// atom and its results.
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
        // Every change is committed in one step after it was built on a copy (see
        // `commit_atom`), so state behind a lock poisoned by a panic is still consistent.
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
        self.commit_atom(&mut self.lock(), name, change)
    }

    // Every change below is made to a copy, the copy is written, and only then does the
    // storage keep it: a backend that fails leaves the storage as it was, so memory never
    // runs ahead of what a resumed engine would read.

    /// Applies `change` to the flow's own fields (name, metadata, state) and persists them.
    pub(super) fn commit_flow(
        &self,
        inner: &mut Inner,
        change: impl FnOnce(&mut FlowDetail),
    ) -> Result<(), StorageError> {
        let mut header = FlowDetail::with_uuid(&inner.flow.name, &inner.flow.uuid);
        header.meta = inner.flow.meta.clone();
        header.state = inner.flow.state;
        change(&mut header);
        if let Some(backend) = &self.backend {
            backend.save_flow(&header)?;
        }
        inner.flow.name = header.name;
        inner.flow.meta = header.meta;
        inner.flow.state = header.state;
        Ok(())
    }

    /// Applies `change` to the atom named `name` and persists it; returns what `change`
    /// returned.
    pub(super) fn commit_atom<R>(
        &self,
        inner: &mut Inner,
        name: &str,
        change: impl FnOnce(&mut AtomDetail) -> R,
    ) -> Result<R, StorageError> {
        let position = inner.position(name)?;
        let mut atom = inner.flow.atoms()[position].clone();
        let returned = change(&mut atom);
        self.write_atom(&inner.flow.uuid, position, &atom)?;
        inner.flow.atoms_mut()[position] = atom;
        Ok(returned)
    }

    /// Persists `atom`, new to the flow, and adds it.
    pub(super) fn commit_new_atom(
        &self,
        inner: &mut Inner,
        atom: AtomDetail,
    ) -> Result<(), StorageError> {
        self.write_atom(&inner.flow.uuid, inner.flow.len(), &atom)?;
        inner.flow.add(atom);
        Ok(())
    }

    fn write_atom(
        &self,
        flow_uuid: &str,
        position: usize,
        atom: &AtomDetail,
    ) -> Result<(), StorageError> {
        if let Some(backend) = &self.backend {
            backend.save_atom(flow_uuid, position, atom)?;
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

    /// The position in the flow of the atom named `name`.
    pub(super) fn position(&self, name: &str) -> Result<usize, StorageError> {
        self.flow
            .atoms()
            .iter()
            .position(|atom| atom.name == name)
            .ok_or_else(|| unknown_atom(name))
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use serde_json::json;

    use super::*;
    use crate::atom::Atom;
    use crate::backend::MemoryBackend;
    use crate::error::BackendError;
    use crate::state::State;

    /// A memory backend that refuses every write once told to.
    #[derive(Debug, Default)]
    struct Refusing {
        refuse: AtomicBool,
        memory: MemoryBackend,
    }

    impl Refusing {
        fn check(&self, uuid: &str) -> Result<(), BackendError> {
            if self.refuse.load(Ordering::SeqCst) {
                return Err(BackendError::FlowNotFound { uuid: uuid.into() });
            }
            Ok(())
        }
    }

    impl Backend for Refusing {
        fn save_flow(&self, flow: &FlowDetail) -> Result<(), BackendError> {
            self.check(&flow.uuid)?;
            self.memory.save_flow(flow)
        }

        fn save_atom(
            &self,
            flow: &str,
            position: usize,
            atom: &AtomDetail,
        ) -> Result<(), BackendError> {
            self.check(flow)?;
            self.memory.save_atom(flow, position, atom)
        }

        fn load_flow(&self, uuid: &str) -> Result<FlowDetail, BackendError> {
            self.memory.load_flow(uuid)
        }

        fn clear_all(&self) -> Result<(), BackendError> {
            self.memory.clear_all()
        }
    }

    #[test]
    fn a_refused_write_leaves_the_storage_as_it_was() {
        let backend = Arc::new(Refusing::default());
        let storage = Storage::with_backend(FlowDetail::new("flow"), backend.clone()).unwrap();
        storage.ensure_atom(&Atom::task("task")).unwrap();
        backend.refuse.store(true, Ordering::SeqCst);

        assert!(storage.save("task", json!(1)).is_err());
        assert_eq!(storage.get_atom_state("task").unwrap(), State::Pending);
        assert!(storage.ensure_atom(&Atom::task("other")).is_err());
        assert_eq!(storage.flow_detail().len(), 1);
        assert!(storage.set_flow_state(State::Running).is_err());
        assert_eq!(storage.get_flow_state(), State::Pending);
        assert!(storage.inject([("key", json!(1))]).is_err());
        assert!(storage.fetch("key").is_err());
        assert_eq!(storage.flow_detail().len(), 1);
    }

    #[test]
    fn storage_is_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Storage>();
    }
}
