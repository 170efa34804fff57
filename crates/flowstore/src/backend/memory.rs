//! [`MemoryBackend`]: flows kept in this process, for tests and for engines that need no
//! resumption after a crash.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::Backend;
use crate::detail::{AtomDetail, FlowDetail};
use crate::error::BackendError;

/// Keeps flows in memory, as copies, so what a [`Storage`](crate::Storage) reloads is
/// what it saved and not the object it still holds.
///
/// ```
/// use flowstore::{Backend, FlowDetail, MemoryBackend};
///
/// let backend = MemoryBackend::new();
/// let flow = FlowDetail::new("nightly");
/// backend.save_flow(&flow).unwrap();
/// assert_eq!(backend.load_flow(&flow.uuid).unwrap().name, "nightly");
/// ```
#[derive(Debug, Default)]
pub struct MemoryBackend {
    flows: Mutex<HashMap<String, FlowDetail>>,
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        MemoryBackend::default()
    }

    fn flows(&self) -> MutexGuard<'_, HashMap<String, FlowDetail>> {
        // Every write replaces whole records, so a panic elsewhere cannot leave one
        // half-written: the data behind a poisoned lock is still consistent.
        self.flows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Backend for MemoryBackend {
    fn save_flow(&self, flow: &FlowDetail) -> Result<(), BackendError> {
        let mut flows = self.flows();
        let stored = flows
            .entry(flow.uuid.clone())
            .or_insert_with(|| FlowDetail::with_uuid(&flow.name, &flow.uuid));
        stored.name.clone_from(&flow.name);
        stored.meta.clone_from(&flow.meta);
        stored.state = flow.state;
        Ok(())
    }

    fn save_atom(
        &self,
        flow_uuid: &str,
        _position: usize,
        atom: &AtomDetail,
    ) -> Result<(), BackendError> {
        let mut flows = self.flows();
        let flow = flows
            .get_mut(flow_uuid)
            .ok_or_else(|| BackendError::FlowNotFound {
                uuid: flow_uuid.to_owned(),
            })?;
        let mut stored = atom.clone();
        stored.failure = stored.failure.map(|failure| failure.persisted());
        stored.revert_failure = stored.revert_failure.map(|failure| failure.persisted());
        for attempt in &mut stored.history {
            for failure in attempt.failures.values_mut() {
                *failure = failure.persisted();
            }
        }
        flow.add(stored);
        Ok(())
    }

    fn load_flow(&self, uuid: &str) -> Result<FlowDetail, BackendError> {
        self.flows()
            .get(uuid)
            .cloned()
            .ok_or_else(|| BackendError::FlowNotFound {
                uuid: uuid.to_owned(),
            })
    }

    fn clear_all(&self) -> Result<(), BackendError> {
        self.flows().clear();
        Ok(())
    }
}
