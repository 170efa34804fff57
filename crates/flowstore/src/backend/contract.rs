//! The [`Backend`] trait: what every persistence backend does.

use std::fmt::Debug;

use crate::detail::{AtomDetail, FlowDetail};
use crate::error::BackendError;

/// A place flows and atoms are persisted. Calls are blocking and may come from many
/// threads at once.
///
/// A backend keeps what [`Failure::persisted`](crate::Failure::persisted) keeps: the
/// data of a failure, not the live error.
pub trait Backend: Send + Sync + Debug {
    /// Writes the flow's own fields (name, state, metadata), creating it if new; its atoms
    /// are written by [`save_atom`](Backend::save_atom).
    fn save_flow(&self, flow: &FlowDetail) -> Result<(), BackendError>;

    /// Writes one atom of flow `flow_uuid`, creating it if new. `position` is its place
    /// among the flow's atoms, so a reload lists them in the same order.
    fn save_atom(
        &self,
        flow_uuid: &str,
        position: usize,
        atom: &AtomDetail,
    ) -> Result<(), BackendError>;

    /// Reads a flow and all its atoms back.
    fn load_flow(&self, uuid: &str) -> Result<FlowDetail, BackendError>;

    /// Removes every flow and atom.
    fn clear_all(&self) -> Result<(), BackendError>;
}
