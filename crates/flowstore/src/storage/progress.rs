//! Task progress, kept in the atom's metadata so it survives a reload.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Metadata key of the latest progress, a number from 0 to 1.
pub(crate) const PROGRESS: &str = "progress";
/// Metadata key of the [`ProgressDetails`] last reported.
pub(crate) const PROGRESS_DETAILS: &str = "progress_details";

/// The details a task reported with its progress, and the progress they came with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressDetails {
    /// The progress reported with these details.
    pub at_progress: f64,
    /// What the task said.
    pub details: Map<String, Value>,
}
