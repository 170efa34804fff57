//! The flow's own fields: name, uuid, metadata and state.

use serde_json::{Map, Value};

use super::Storage;
use crate::error::StorageError;
use crate::state::State;

impl Storage {
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
        self.commit_flow(&mut self.lock(), |flow| flow.meta.extend(update))
    }

    /// The flow's state.
    pub fn get_flow_state(&self) -> State {
        self.lock().flow.state
    }

    /// Sets the flow's state.
    pub fn set_flow_state(&self, state: State) -> Result<(), StorageError> {
        self.commit_flow(&mut self.lock(), |flow| flow.state = state)
    }
}
